"""Test speech: espeak-ng reading technical paragraphs, wrapped in talk-like media files.

The text is known exactly, so word error rate can be measured; it is full of what trips
captioning up: speaker names, numbers and jargon.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import jiwer
import numpy as np

from talkcast.app.synth import speak
from talkcast.media import tool

TALK_TEXT = (
    "Welcome to the SRE meetup. Today Vitaly Dobrovolsky explains how to rebalance a Kafka cluster "
    "with forty two brokers. First, we measure the consumer lag on every partition. Then we move the "
    "leaders, one broker at a time, so that the cluster never loses its quorum. "
    "In our production setup, Prometheus scrapes the metrics every fifteen seconds, and the dashboards "
    "show the replication lag. When the replication falls behind, the on call engineer gets a page. "
    "We keep the error budget at ninety nine point nine percent per month. "
    "Finally, we automated the whole procedure with a small Python tool. It reads the topology from "
    "the cluster, computes a plan, and applies it in small steps. Questions are welcome at the end of the talk."
)

# Planted glossary terms: the default model, unaided, writes these as ordinary words
# ("graph on", "zoo keeper"); with the vocabulary it should spell them as the event does.
GLOSSARY_TEXT = "Grafana shows the dashboards, and ZooKeeper keeps the cluster topology."
GLOSSARY = ("Grafana", "ZooKeeper")

FRENCH_TEXT = (
    "Bonjour à tous et bienvenue à cette conférence. Aujourd'hui nous allons parler de la "
    "surveillance des serveurs et de la gestion des incidents en production."
)

# Several paragraphs, about 40 s of speech: enough for the language vote's windows.
FRENCH_TALK = " ".join(
    (
        FRENCH_TEXT,
        "Quand un serveur tombe en panne la nuit, l'ingénieur de garde reçoit une alerte sur son téléphone.",
        "Il regarde d'abord les tableaux de bord, puis il lit les journaux du service concerné.",
        "Nous avons appris qu'il vaut mieux corriger le problème lentement que de tout changer à la fois.",
        "Après chaque incident, l'équipe écrit un rapport sans chercher de coupable, et nous en parlons ensemble.",
        "Merci beaucoup de votre attention, et je réponds volontiers à vos questions.",
    )
)

_NORMALISE = jiwer.Compose(
    [
        jiwer.ToLowerCase(),
        jiwer.SubstituteRegexes({r"(\d)\.(\d)": r"\1 point \2", r"-": " "}),
        jiwer.RemovePunctuation(),
        jiwer.RemoveMultipleSpaces(),
        jiwer.Strip(),
        jiwer.ReduceToListOfListOfWords(),
    ]
)

_NUMBERS = {"42": "forty two", "15": "fifteen", "99": "ninety nine", "9%": "nine percent", "9": "nine"}


def spoken_numbers(text: str) -> str:
    """Whisper writes "42" and "99.9%" where espeak said the words: compare like with like."""
    out = []
    for word in text.replace("%", " percent").replace(".", " . ").split():
        out.append(_NUMBERS.get(word, word))
    return " ".join(out)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """WER after lower-casing, dropping punctuation and spelling digits the way they were spoken."""
    return float(
        jiwer.wer(
            spoken_numbers(reference),
            spoken_numbers(hypothesis),
            reference_transform=_NORMALISE,
            hypothesis_transform=_NORMALISE,
        )
    )


def steady_voice(seconds: float, rate: int = 48000) -> np.ndarray:
    """Speech-like sound that stays the same: stereo float32, shape (n, 2), the right channel 10 ms late.

    A gliding voiced tone and noise under a syllable-rate envelope. Steady, so an AAC
    encoder's warm-up shows (speech hides it).
    """
    n = round(seconds * rate)
    t = np.arange(n) / rate
    env = 0.3 + 0.7 * np.sin(2 * np.pi * 2.5 * t) ** 2
    voice = np.sin(2 * np.pi * (180 + 40 * np.sin(2 * np.pi * 0.4 * t)) * t)
    x = (0.25 * env * voice + 0.05 * env * np.random.default_rng(7).standard_normal(n)).astype(np.float32)
    return np.stack([x, np.roll(x, rate // 100)], axis=1)


def speech_wav(text: str, wav: Path, *, voice: str = "en-us") -> Path:
    """``text`` spoken by espeak-ng into ``wav``."""
    return speak(text, wav, voice=voice)


def _ffmpeg(*args: str | Path) -> None:
    subprocess.run(
        [tool("ffmpeg"), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", *map(str, args)],
        check=True, capture_output=True,
    )  # fmt: skip


def talk_video(wav: Path, out: Path, *, lead_in: float = 1.0, tail: float = 3.0) -> Path:
    """A tiny H.264/AAC talk.mp4: a still picture, ``lead_in`` s of silence, the speech, ``tail`` s of silence."""
    delay = int(lead_in * 1000)
    _ffmpeg(
        "-f", "lavfi", "-i", "color=c=navy:s=128x72:r=5",
        "-i", wav,
        "-filter_complex", f"[1:a]adelay={delay}:all=1,apad=pad_dur={tail},aresample=48000[a]",
        "-map", "0:v", "-map", "[a]", "-shortest", "-c:v", "libx264", "-preset", "ultrafast",
        "-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", out,
    )  # fmt: skip
    return out


def silent_video(out: Path, *, seconds: float = 20.0) -> Path:
    """A talk.mp4 whose audio track is digital silence."""
    _ffmpeg(
        "-f", "lavfi", "-i", f"color=c=black:s=128x72:r=5:d={seconds}",
        "-f", "lavfi", "-i", f"anullsrc=r=48000:cl=stereo:d={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", out,
    )  # fmt: skip
    return out


def video_without_audio(out: Path, *, seconds: float = 3.0) -> Path:
    """A talk.mp4 with a picture and no audio stream at all."""
    _ffmpeg(
        "-f", "lavfi", "-i", f"color=c=gray:s=128x72:r=5:d={seconds}", "-c:v", "libx264", "-preset", "ultrafast", out
    )
    return out


# Real human speech with known words. The shared fixtures: two read LibriSpeech sentences,
# one per channel (their README has the transcript). Debian's alsa-utils: a person saying
# the names of the speaker positions, one short file each.
LIBRISPEECH = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "speech" / "stereo_diarization.wav"
LIBRISPEECH_TEXT = (
    "He began a confused complaint against the wizard, who had vanished behind the curtain on the left.",
    "The horizon seems extremely distant.",
)
ALSA_SOUNDS = Path("/usr/share/sounds/alsa")
ALSA_WORDS = ("Front Center", "Front Left", "Front Right", "Rear Center", "Rear Left", "Rear Right", "Side Left",
              "Side Right")  # fmt: skip


def real_speech(tmp: Path) -> list[tuple[str, Path, str]]:
    """(name, talk.mp4, reference text) for each real recording found on this machine."""
    out = []
    if LIBRISPEECH.is_file():
        for channel, text in enumerate(LIBRISPEECH_TEXT):
            wav = tmp / f"librispeech{channel + 1}.wav"
            _ffmpeg("-i", LIBRISPEECH, "-af", f"pan=mono|c0=c{channel}", wav)
            out.append((f"LibriSpeech {channel + 1}", talk_video(wav, tmp / f"librispeech{channel + 1}.mp4"), text))
    files = [ALSA_SOUNDS / f"{w.replace(' ', '_')}.wav" for w in ALSA_WORDS]
    if all(f.is_file() for f in files):
        # One clip, the names 1.2 s apart, as a speaker would read a list.
        inputs = [arg for f in files for arg in ("-i", f)]
        graph = "".join(f"[{i}:a]aresample=48000,apad=pad_dur=1.2[a{i}];" for i in range(len(files)))
        graph += "".join(f"[a{i}]" for i in range(len(files))) + f"concat=n={len(files)}:v=0:a=1"
        wav = tmp / "alsa.wav"
        _ffmpeg(*inputs, "-filter_complex", graph, "-ac", "1", wav)
        out.append(("alsa-utils", talk_video(wav, tmp / "alsa.mp4"), ". ".join(ALSA_WORDS) + "."))
    return out
