"""The captioner process's pipe protocol: one JSON object per line, each way. No I/O.

``talkcast live`` (``streamer.captions.live``) writes to the captioner's stdin:

* first a ``Setup`` (where to read the programme, which models, the budget and the
  CPU cap): on stdin, not on the command line, because the ingest URL carries its key;
* then a ``Mode`` whenever what is on air changes: caption a talk (its language and
  vocabulary) or pause. Every ``Mode`` has a new ``epoch``; words are tagged with the
  epoch they were heard in, so words still in the pipe when a pause begins are known
  as stale and never reach the screen.

The captioner (``streamer.captions.worker``) writes ``Event``s to stdout: ``ready`` once
the model is loaded, ``words`` as they become final (stream times, and the offset that
turns them into wall-clock times), ``dropped`` when it fell behind and threw audio away,
``status`` every few seconds and on every change, and ``error`` before it exits on a
problem it cannot get past (a model that does not load).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from talkcast.streamer.captions.agreement import Word


class ProtocolError(ValueError):
    """A line that is not a message of this protocol."""


@dataclass(frozen=True)
class Setup:
    """Everything the captioner needs to start; the first line on its stdin."""

    source: str  # the ingest URL with its key: never logged
    model: str  # for English (a name or an absolute folder)
    multilingual_model: str  # for every other language
    compute_type: str = "int8"
    threads: int = 1  # CTranslate2 threads
    cpus: int = 1  # cores the process may run on (its affinity), the hard cap
    nice: int = 10  # below the relay and OBS
    step: float = 1.0
    window: float = 20.0
    max_behind: float = 10.0  # seconds of unprocessed audio before it is dropped

    def to_line(self) -> str:
        """The JSON line."""
        return json.dumps({"type": "setup", **asdict(self)}) + "\n"


@dataclass(frozen=True)
class Mode:
    """Caption a talk (``active``) or pause; ``since`` is the wall clock (epoch seconds) of the change."""

    epoch: int
    active: bool
    since: float
    talk: str | None = None
    language: str = "en"
    hotwords: str | None = None

    def to_line(self) -> str:
        """The JSON line."""
        return json.dumps({"type": "mode", **asdict(self)}) + "\n"


@dataclass(frozen=True)
class Event:
    """One line from the captioner; ``kind`` is ready, words, dropped, status or error."""

    kind: str
    epoch: int = 0
    words: tuple[Word, ...] = ()
    clock: float = 0.0  # wall clock (epoch seconds) minus stream time: ``stream + clock`` is when it was heard
    seconds: float = 0.0  # dropped: how much audio
    state: str = ""  # status: loading | waiting | listening | paused
    message: str = ""
    numbers: dict[str, float] = field(default_factory=dict)  # status: behind_s, cpu_pct, pass_s, lag_s

    def to_line(self) -> str:
        """The JSON line."""
        obj: dict[str, Any] = {"type": self.kind}
        if self.kind in ("words", "dropped"):
            obj["epoch"] = self.epoch
        if self.words:
            obj["words"] = [[w.text, round(w.start, 3), round(w.end, 3)] for w in self.words]
            obj["clock"] = round(self.clock, 3)
        if self.kind == "dropped":
            obj["seconds"] = round(self.seconds, 2)
        if self.state:
            obj["state"] = self.state
        if self.message:
            obj["message"] = self.message
        if self.numbers:
            obj["numbers"] = {k: round(v, 3) for k, v in self.numbers.items()}
        return json.dumps(obj, ensure_ascii=False) + "\n"


def _object(line: str | bytes) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except ValueError as err:
        raise ProtocolError(f"not JSON: {str(line)[:80]!r}") from err
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise ProtocolError(f"not a message: {str(line)[:80]!r}")
    return obj


def parse_command(line: str | bytes) -> Setup | Mode:
    """A line from ``talkcast live`` to the captioner."""
    obj = _object(line)
    kind = obj.pop("type")
    try:
        if kind == "setup":
            return Setup(**obj)
        if kind == "mode":
            return Mode(**obj)
    except TypeError as err:
        raise ProtocolError(f"bad {kind}: {err}") from err
    raise ProtocolError(f"unknown command {kind!r}")


def parse_event(line: str | bytes) -> Event:
    """A line from the captioner to ``talkcast live``."""
    obj = _object(line)
    kind = obj["type"]
    if kind not in ("ready", "words", "dropped", "status", "error"):
        raise ProtocolError(f"unknown event {kind!r}")
    try:
        words = tuple(Word(str(t), float(a), float(b)) for t, a, b in obj.get("words", ()))
        numbers = {str(k): float(v) for k, v in (obj.get("numbers") or {}).items()}
        return Event(
            kind=kind,
            epoch=int(obj.get("epoch", 0)),
            words=words,
            clock=float(obj.get("clock", 0.0)),
            seconds=float(obj.get("seconds", 0.0)),
            state=str(obj.get("state", "")),
            message=str(obj.get("message", "")),
            numbers=numbers,
        )
    except (TypeError, ValueError) as err:
        raise ProtocolError(f"bad {kind}: {err}") from err
