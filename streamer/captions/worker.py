"""The captioner process: ``python -m talkcast.streamer.captions.worker``, started by ``talkcast live``.

It reads a ``Setup`` and then ``Mode`` lines on stdin and writes ``Event`` lines on stdout
(``streamer.captions.protocol``); its log goes to stderr. Three threads:

* the **reader** runs the one ffmpeg that reads the programme's audio from the ingest
  (``audio.reader_args``) into an ``AudioRing``, and starts it again a second after it
  ends (OBS stopped streaming, the ingest restarted);
* the **commands** thread reads stdin; when stdin closes (``talkcast live`` is gone) the
  process stops its ffmpeg and exits;
* the **pass loop** (the main thread) waits for a step of new audio, runs one pass of
  the ``Recognizer`` and writes the words that became final.

Budget, so that captioning never hurts the stream:

* the process (and its ffmpeg, which inherits it) may only run on ``Setup.cpus`` cores
  (its CPU affinity: the kernel enforces the cap) and runs at ``nice`` 10, so OBS and the
  relay always come first on those cores; CTranslate2 uses ``Setup.threads`` threads;
* audio is never queued behind a slow pass: when more than ``Setup.max_behind`` seconds
  wait at the start of a pass, all but the last second are dropped, the window is
  restarted, and a ``dropped`` event says how much;
* while paused (a break, a talk that must not be recorded) audio is thrown away
  unheard, and nothing is decoded.

After a pause, audio that arrived within ``RESUME_GUARD`` seconds of the change is
thrown away too: it left OBS before the change (its encoder and the ingest hold about
half a second), so it still belongs to the scene before.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from talkcast.errors import MediaError, ModelError
from talkcast.media import ffmpeg_output
from talkcast.streamer.captions.audio import AudioRing, Piece, reader_args
from talkcast.streamer.captions.protocol import Event, Mode, ProtocolError, Setup, parse_command
from talkcast.streamer.captions.recognizer import Budget, Recognizer, SpeechProb, WhisperDecoder, silero_speech
from talkcast.whisper import SAMPLE_RATE, load_whisper

log = logging.getLogger("talkcast.captioner")

LOG_LEVEL_ENV = "TALKCAST_CAPTIONER_LOG"  # e.g. DEBUG: every pass's window and words on stderr
RESUME_GUARD = 1.0  # seconds after a change during which arriving audio still belongs to the scene before
KEEP_ON_DROP = 1.0  # seconds kept when falling behind
STATUS_EVERY = 2.0  # seconds between status events
READER_RETRY = 1.0  # seconds before the reader starts again
CHUNK_BYTES = 3200  # 0.1 s of 16 kHz 16-bit audio: how often the reader hands samples over


class Stopping(Exception):
    """The reader must end its ffmpeg (the process is stopping)."""


@dataclass
class Emitter:
    """Writes events to stdout, one line each, from any thread."""

    out: IO[str]
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, event: Event) -> None:
        """Write and flush one event."""
        with self.lock:
            self.out.write(event.to_line())
            self.out.flush()


@dataclass
class Commands:
    """The latest ``Mode`` from stdin, and whether stdin is still open."""

    mode: Mode = field(default_factory=lambda: Mode(epoch=0, active=False, since=0.0))
    open: bool = True
    cond: threading.Condition = field(default_factory=threading.Condition)

    def read(self, stream: IO[str]) -> None:
        """Read ``Mode`` lines until EOF (runs on its own thread)."""
        for line in stream:
            try:
                command = parse_command(line)
            except ProtocolError as err:
                log.warning("ignored a bad command: %s", err)
                continue
            if isinstance(command, Mode):
                with self.cond:
                    self.mode = command
                    self.cond.notify_all()
        with self.cond:
            self.open = False
            self.cond.notify_all()

    def wait_change(self, epoch: int, timeout: float) -> None:
        """Block until the mode is no longer ``epoch``, stdin closes, or ``timeout``."""
        with self.cond:
            self.cond.wait_for(lambda: self.mode.epoch != epoch or not self.open, timeout)


def cap_cpu(cpus: int, nice: int) -> set[int]:
    """Run this process (and what it starts) on at most ``cpus`` cores, at ``nice``; the cores used."""
    allowed = sorted(os.sched_getaffinity(0))
    cores = set(allowed[-max(1, cpus) :])  # the last cores: the first is where most else starts
    os.sched_setaffinity(0, cores)
    os.nice(max(0, nice))
    return cores


def read_programme(source: str, ring: AudioRing, stop: threading.Event) -> None:
    """The reader thread: one ffmpeg at a time on the ingest, restarted after it ends."""
    while not stop.is_set():
        ring.new_reader()
        try:
            with ffmpeg_output(
                reader_args(source), what="caption reader", chunk=CHUNK_BYTES, loglevel="info",
                on_stderr=ring.clock_line,
            ) as chunks:  # fmt: skip
                for pcm in chunks:
                    if stop.is_set():
                        raise Stopping
                    ring.add(pcm, time.time())
        except Stopping:
            return
        except MediaError as err:
            log.info("caption reader ended: %s", err)
        stop.wait(READER_RETRY)


@dataclass
class Models:
    """Whisper models loaded on demand (at most the English one and the multilingual one)."""

    setup: Setup
    loaded: dict[str, Any] = field(default_factory=dict)

    def for_language(self, language: str) -> Any:
        """The model for ``language``; ``ModelError`` if it cannot be loaded or cannot speak it."""
        name = self.setup.model if language == "en" else self.setup.multilingual_model
        if name not in self.loaded:
            self.loaded[name], _ = load_whisper(name, compute_type=self.setup.compute_type, threads=self.setup.threads)
        model = self.loaded[name]
        if language not in model.supported_languages:
            raise ModelError(name, f"does not know the language '{language}'")
        return model


@dataclass
class PassLoop:
    """The main thread's loop; see the module docstring."""

    setup: Setup
    ring: AudioRing
    commands: Commands
    emit: Callable[[Event], None]
    models: Models
    speech: SpeechProb
    recognizer: Recognizer | None = None
    epoch: int = -1
    state: str = ""
    problem: str = ""  # why the talk on air cannot be captioned (no model for its language)
    last_status: float = 0.0
    numbers: dict[str, float] = field(default_factory=dict)
    cpu_mark: tuple[float, float] = field(default_factory=lambda: (time.monotonic(), time.process_time()))

    def run(self) -> None:
        """Until stdin closes."""
        while self.commands.open:
            mode = self.commands.mode
            if mode.epoch != self.epoch:
                self._switch(mode)
            if self.recognizer is None:
                self.ring.discard()
                self._status("failed" if self.problem else "paused")
                self.commands.wait_change(mode.epoch, 0.25)
                continue
            if not self.ring.wait(self.setup.step, timeout=0.5):
                self._status("waiting" if self.ring.waiting() < 0.1 else "listening")
                continue
            self._pass(mode, self.ring.take(not_before=mode.since + RESUME_GUARD))
            self._status("listening")

    def _switch(self, mode: Mode) -> None:
        self.epoch = mode.epoch
        self.recognizer, self.problem = None, ""
        self.ring.discard()
        if not mode.active:
            return
        self._status("loading")
        try:
            model = self.models.for_language(mode.language)
        except ModelError as err:
            self.problem = str(err)
            log.error("%s", err)
            return
        budget = Budget(step=self.setup.step, window=self.setup.window)
        decoder = WhisperDecoder(model, mode.language, mode.hotwords, budget.max_tokens, budget.beam)
        self.recognizer = Recognizer(decoder, self.speech, budget)

    def _pass(self, mode: Mode, pieces: list[Piece]) -> None:
        assert self.recognizer is not None
        if not pieces:
            return
        waiting = sum(p.seconds for p in pieces)
        if waiting > self.setup.max_behind:
            last = pieces[-1]
            keep = min(int(KEEP_ON_DROP * SAMPLE_RATE), last.samples.size)
            dropped = waiting - keep / SAMPLE_RATE
            pieces = [Piece(last.samples[-keep:], last.start + last.seconds - keep / SAMPLE_RATE, last.arrived)]
            self.recognizer.clear(pieces[0].start)
            self.emit(Event("dropped", epoch=mode.epoch, seconds=dropped))
            log.warning("fell %.1f s behind: dropped %.1f s of audio", waiting, dropped)
        for piece in pieces:
            self.recognizer.push(piece.samples, piece.start)
        started = time.monotonic()
        words = self.recognizer.process()
        took = time.monotonic() - started
        self.numbers["pass_s"] = took
        self.numbers["behind_s"] = waiting
        if words:
            clock = pieces[-1].clock
            self.numbers["lag_s"] = time.time() - (words[-1].end + clock)
            self.emit(Event("words", epoch=mode.epoch, words=tuple(words), clock=clock))

    def _status(self, state: str) -> None:
        now = time.monotonic()
        if state == self.state and now - self.last_status < STATUS_EVERY:
            return
        wall, cpu = self.cpu_mark
        if now - wall > 0.5:
            self.numbers["cpu_pct"] = 100 * (time.process_time() - cpu) / (now - wall)
            self.cpu_mark = (now, time.process_time())
        self.state, self.last_status = state, now
        message = self.problem if state == "failed" else ""
        self.emit(Event("status", state=state, message=message, numbers=dict(self.numbers)))


def main() -> int:
    """Run the captioner until stdin closes; 1 if the first model cannot be loaded."""
    level = os.environ.get(LOG_LEVEL_ENV, "INFO").upper()
    known = isinstance(logging.getLevelName(level), int)
    logging.basicConfig(level=level if known else "INFO", stream=sys.stderr, format="%(levelname)s %(message)s")
    if not known:
        log.warning("%s=%s is not a log level (DEBUG, INFO, WARNING, ...): logging at INFO", LOG_LEVEL_ENV, level)
    try:
        setup = parse_command(sys.stdin.readline())
    except ProtocolError as err:
        log.error("%s", err)
        return 2
    if not isinstance(setup, Setup):
        log.error("the first line must be the setup")
        return 2
    emitter = Emitter(sys.stdout)
    cores = cap_cpu(setup.cpus, setup.nice)
    log.info("captioner on cores %s at nice %d, %d thread(s)", sorted(cores), os.nice(0), setup.threads)
    models = Models(setup)
    try:
        models.for_language("en")
    except ModelError as err:
        emitter.send(Event("error", message=str(err)))
        return 1
    emitter.send(Event("ready", message=setup.model))
    ring, commands, stop = AudioRing(), Commands(), threading.Event()
    reader = threading.Thread(target=read_programme, args=(setup.source, ring, stop), name="reader", daemon=True)
    listener = threading.Thread(target=commands.read, args=(sys.stdin,), name="commands", daemon=True)
    reader.start()
    listener.start()
    try:
        PassLoop(setup, ring, commands, emitter.send, models, silero_speech()).run()
    finally:
        stop.set()
        reader.join(timeout=2)  # the reader ends its ffmpeg within a chunk (0.1 s of audio)
        if reader.is_alive() and os.getpgid(0) == os.getpid():
            # Its ffmpeg is still connecting; as the leader of its own process group
            # (talkcast live starts it so), take it down with this process.
            os.killpg(os.getpid(), signal.SIGTERM)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
