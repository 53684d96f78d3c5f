"""Word error rate and real-time factor per language and model: talkcast's defaults against plain faster-whisper.

Run: .venv/bin/python benchmarks/bench_languages.py [--langs en,ru,fr]

Speech: a technical SRE paragraph per language spoken by espeak-ng (and, for English, by
Festival's text2wave when installed), plus real human speech for English (the two
LibriSpeech sentences of ``tests.support.speech.LIBRISPEECH``, one per channel). For each model
(tiny.en for English only, base for every language) two decodings of the same audio:

- plain: faster-whisper's ``model.transcribe(file, language=...)`` with its own defaults;
- talkcast: ``transcribe_talk`` with the default settings and an SRE meetup's vocabulary
  (speaker names, glossary, event, title), as ``talkcast transcribe`` runs it.

The targets: talkcast no worse than plain on every row, and within 1.2x of its time.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from talkcast.config import TranscribeConfig
from talkcast.media import tool
from talkcast.transcribe.engine import load_engine
from talkcast.transcribe.run import transcribe_talk
from talkcast.whisper import Vocabulary
from tests.support.speech import speech_wav, talk_video, word_error_rate

TEXTS = {
    "en": "Good evening. Tonight we talk about incident response. When the error budget burns too fast, the on call "
    "engineer gets a page, opens the dashboards and reads the logs of the service. We learned to roll back first "
    "and to ask questions later. After every incident the team writes a blameless postmortem.",
    "ru": "Добрый вечер. Сегодня мы поговорим о реагировании на инциденты. Когда бюджет ошибок сгорает слишком "
    "быстро, дежурный инженер получает вызов, открывает графики и читает журналы сервиса. Мы научились сначала "
    "откатывать изменения, а вопросы задавать потом. После каждого инцидента команда пишет разбор без поиска "
    "виноватых.",
    "fr": "Bonsoir. Ce soir nous parlons de la gestion des incidents. Quand le budget d'erreurs brûle trop vite, "
    "l'ingénieur d'astreinte reçoit une alerte, ouvre les tableaux de bord et lit les journaux du service. Nous "
    "avons appris à revenir en arrière d'abord et à poser les questions ensuite. Après chaque incident, l'équipe "
    "écrit un rapport sans chercher de coupable.",
}
VOICES = {"en": "en-us", "ru": "ru", "fr": "fr"}
VOCABULARY = {
    "en": Vocabulary(title="Incident response", speakers=("Vitaly Dobrovolsky",), event="SRE Meetup #12",
                     glossary=("Kafka", "SRE", "Terraform", "Grafana")),
    "ru": Vocabulary(title="Реагирование на инциденты", speakers=("Виталий Добровольский",), event="SRE Meetup #12",
                     glossary=("Kafka", "SRE", "Terraform", "Grafana")),
    "fr": Vocabulary(title="La gestion des incidents", speakers=("Vitaly Dobrovolsky",), event="SRE Meetup #12",
                     glossary=("Kafka", "SRE", "Terraform", "Grafana")),
}  # fmt: skip
REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures" / "speech" / "stereo_diarization.wav"
REAL_TEXT = (
    "He began a confused complaint against the wizard, who had vanished behind the curtain on the left.",
    "The horizon seems extremely distant.",
)


def clips(langs: list[str], tmp: Path) -> list[tuple[str, str, Path, str]]:
    """(language, speech source, talk.mp4, reference text)."""
    out = []
    for lang in langs:
        wav = speech_wav(TEXTS[lang], tmp / f"{lang}.wav", voice=VOICES[lang])
        out.append((lang, "espeak-ng", talk_video(wav, tmp / f"{lang}.mp4"), TEXTS[lang]))
    if "en" in langs and shutil.which("text2wave"):
        wav = tmp / "festival.wav"
        subprocess.run(["text2wave", "-o", str(wav)], input=TEXTS["en"].encode(), check=True)
        out.append(("en", "festival", talk_video(wav, tmp / "festival.mp4"), TEXTS["en"]))
    if "en" in langs and REAL.is_file():
        for channel, text in enumerate(REAL_TEXT):
            wav = tmp / f"real{channel}.wav"
            subprocess.run([tool("ffmpeg"), "-v", "error", "-y", "-i", str(REAL), "-af", f"pan=mono|c0=c{channel}",
                            str(wav)], check=True)  # fmt: skip
            out.append(("en", f"LibriSpeech {channel + 1}", talk_video(wav, tmp / f"real{channel}.mp4"), text))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--langs", default="en,ru,fr")
    args = parser.parse_args()
    settings = TranscribeConfig()
    engines = {name: load_engine(settings, name, threads=2) for name in ("tiny.en", "base")}
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; talkcast with the defaults (beam "
          f"{settings.beam_size}), [transcribe] hotwords all / glossary (the default) / none")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-languages-") as tmp_dir:
        tmp = Path(tmp_dir)
        print(f"{'lang':5}{'speech':15}{'model':9}{'audio s':>8}{'plain WER':>10}{'plain RTF':>10}"
              + "".join(f"{v + ' WER':>13}{'RTF':>7}" for v in ("all", "terms", "glossary", "none")))  # fmt: skip
        for lang, source, media, text in clips(args.langs.split(","), tmp):
            for name, engine in engines.items():
                if not engine.supports(lang):
                    continue
                began = time.perf_counter()
                # From the file, as talkcast starts from it: faster-whisper decodes it itself.
                segments, _ = engine.model.transcribe(str(media), language=lang)
                plain = " ".join(s.text for s in segments)
                plain_s = time.perf_counter() - began
                row, texts, seconds = [], {}, 0.0
                for vname in ("all", "terms", "glossary", "none"):
                    began = time.perf_counter()
                    result = transcribe_talk(engine, media, tmp / f"{lang}-{name}", talk_id="bench", language=lang,
                                             vocabulary=VOCABULARY[lang],
                                             settings=dataclasses.replace(settings, hotwords=vname))  # fmt: skip
                    wall = time.perf_counter() - began
                    seconds = result.audio_seconds
                    texts[vname] = result.artefacts["transcript"].read_text(encoding="utf-8")
                    row.append(f"{word_error_rate(text, texts[vname]):13.3f}{wall / seconds:7.3f}")
                print(f"{lang:5}{source:15}{name:9}{seconds:8.1f}{word_error_rate(text, plain):10.3f}"
                      f"{plain_s / seconds:10.3f}" + "".join(row), flush=True)  # fmt: skip
                if lang != "en":
                    print(f"     plain: {' '.join(plain.split())[:110]}")
                    for vname, ours in texts.items():
                        print(f"     {vname + ':':9}{' '.join(ours.split())[:110]}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
