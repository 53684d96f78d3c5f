"""What the live captions test and benchmark share: OBS set up to play speech, and reading it all back.

* ``speech_scenes`` makes OBS scenes that play a WAV through a media source each time
  they go on air, and ``two_second_keyframes`` sets OBS's stream to YouTube's keyframe
  interval (the relay's pushers start on a keyframe);
* ``rollup_words`` turns the captions read from the stand-in (``tests.support.cea608``)
  back into the words talkcast put on screen, each with the time it first appeared,
  failing if a caption ever took a word back or broke the two-lines-of-32 layout;
* ``stream_audio`` decodes the audio that arrived, on the stream's clock, so the marker
  beep of each playback (``tests.support.timed_speech``) says when its words were spoken;
* ``word_latencies`` pairs the shown words with the spoken ones.
"""

from __future__ import annotations

import difflib
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkcast.streamer.captions.agreement import normalise
from tests.support.cea608 import Caption
from tests.support.obs import ObsInstance
from tests.support.timed_speech import TimedSpeech

RATE = 16_000


def speech_scenes(obs: ObsInstance, wav: Path, speaking: Sequence[str], silent: Sequence[str]) -> None:
    """Scenes in ``speaking`` play ``wav`` from its start whenever they go on air; ``silent`` ones show a colour."""
    obs.create_scenes(*silent)
    with obs.session() as call:
        for name in speaking:
            call("CreateScene", {"sceneName": name})
            settings = {"local_file": str(wav), "is_local_file": True, "restart_on_activate": True, "looping": False}
            call("CreateInput", {"sceneName": name, "inputName": f"{name} speech", "inputKind": "ffmpeg_source",
                                 "inputSettings": settings})  # fmt: skip
        call("SetCurrentProgramScene", {"sceneName": silent[0]})


def two_second_keyframes(obs: ObsInstance) -> None:
    """x264 keyframes every 60 frames (simple output mode applies x264Settings only with 'advanced' on)."""
    with obs.session() as call:
        for name, value in (("UseAdvanced", "true"), ("x264Settings", "keyint=60 min-keyint=60 scenecut=0")):
            call("SetProfileParameter",
                 {"parameterCategory": "SimpleOutput", "parameterName": name, "parameterValue": value})  # fmt: skip


def rollup_words(captions: Sequence[Caption], columns: int = 32, lines: int = 2) -> list[tuple[str, float]]:
    """The words talkcast's roll-up captions showed, each with the PTS it first appeared at.

    Each caption must keep what the one before showed: the bottom line grows, or moves up
    whole with a new line under it, or (when many words became final at once) scrolls off
    with the lines after it; a new line only ever starts with a word that did not fit on
    the line before. An empty caption clears the screen. Anything else means a word was
    taken back or shown twice, and raises.
    """
    shown: list[tuple[str, float]] = []
    screen: list[str] = []
    for caption in captions:
        rows = caption.lines
        if len(rows) > lines or any(len(r) > columns for r in rows):
            raise AssertionError(f"caption at {caption.pts:.3f} breaks {lines} lines of {columns}: {rows}")
        if not rows:
            screen = []
            continue
        last = screen[-1] if screen else ""
        if rows[:-1] == screen[:-1] and rows[-1].startswith(last) and (not last or rows[-1][len(last) :][:1] in " "):
            text, broken = [rows[-1][len(last) :]], []  # the bottom line grew
        elif len(rows) == 2 and last and rows[0].startswith(last) and rows[0][len(last) :][:1] in " ":
            text, broken = [rows[0][len(last) :], rows[1]], [rows[0]]  # it grew, perhaps, and moved up
        elif len(rows) == 2 and last:
            text, broken = rows, [last, rows[0]]  # it scrolled off, and the line after it too
        elif not screen:
            text, broken = rows, rows[:-1]
        else:
            raise AssertionError(f"caption at {caption.pts:.3f} took words back: {screen} -> {rows}")
        for above, below in zip(broken, rows[len(rows) - len(broken) :], strict=True):
            first = below.split()[0]
            if len(above) + 1 + len(first) <= columns and len(first) < columns:
                raise AssertionError(
                    f"caption at {caption.pts:.3f}: '{first}' fitted on the line above: {screen} -> {rows}"
                )
        shown += [(word, caption.pts) for word in " ".join(text).split()]
        screen = rows
    return shown


def stream_audio(flv: Path) -> np.ndarray:
    """The FLV's audio as 16 kHz mono float32, sample 0 at stream time 0 (padded if it starts later)."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-copyts", "-i", str(flv), "-map", "0:a:0",
         "-af", "aresample=16000:async=1:first_pts=0", "-ac", "1", "-f", "f32le", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.float32)


@dataclass(frozen=True)
class Latency:
    """One spoken word matched to its caption."""

    word: str
    spoken_start: float  # stream time
    spoken_end: float
    shown: float  # stream time of the first caption with it

    @property
    def from_end(self) -> float:
        """Seconds from the end of the word to its caption."""
        return self.shown - self.spoken_end

    @property
    def from_start(self) -> float:
        """Seconds from the start of the word to its caption."""
        return self.shown - self.spoken_start


def word_latencies(shown: Sequence[tuple[str, float]], speech: TimedSpeech, beep_at: float) -> list[Latency]:
    """Pair shown words with the spoken ones, aligned on their text (``beep_at``: the playback's beep in the stream)."""
    offset = beep_at - speech.beep
    spoken = [normalise(w.text) for w in speech.words]
    heard = [normalise(w) for w, _ in shown]
    out = []
    for block in difflib.SequenceMatcher(a=spoken, b=heard, autojunk=False).get_matching_blocks():
        for k in range(block.size):
            word = speech.words[block.a + k]
            out.append(Latency(word.text, word.start + offset, word.end + offset, shown[block.b + k][1]))
    return out
