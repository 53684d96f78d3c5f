"""espeak-ng speech with the time of every word, from the synthesiser itself.

The live captions' latency is measured from the moment a word is spoken, so the test
speech must come with word timings that are known, not estimated by a recogniser.
libespeak-ng (installed with Debian's espeak-ng) reports a word event with its position
in the audio as it synthesises; the CLI does not print them, so this calls the library
through ctypes::

    speech = timed_speech("First, we measure the lag.", Path("talk.wav"), lead=1.0)
    speech.words[0]    # TimedWord(text="First,", start=1.3, end=1.62)

The WAV starts with ``lead`` seconds of silence holding a short 1 kHz beep (a marker
that is easy to find again in what arrived at the stand-in), and ends with ``tail``
seconds of silence. A word ends where the next word (or the sentence's audio) starts,
capped at one second.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BEEP_AT = 0.3  # seconds into the file
BEEP_SECONDS = 0.15
BEEP_HZ = 1000.0
WORD_EVENT, END_EVENTS = 1, (2, 5, 6)  # espeakEVENT_WORD; SENTENCE, END, MSG_TERMINATED
SYNCHRONOUS, UTF8, POS_CHARACTER, RATE = 2, 1, 1, 1


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class TimedWord:
    """A word as written, and when it is spoken (seconds into the WAV)."""

    text: str
    start: float
    end: float


@dataclass(frozen=True)
class TimedSpeech:
    """A WAV file, its words with their times, and where its marker beep is."""

    wav: Path
    words: tuple[TimedWord, ...]  # espeak-ng reports most words, not all ("at a time": no event for "a")
    beep: float  # seconds into the file
    seconds: float
    text: str  # as it was given to espeak-ng


def _library() -> ctypes.CDLL:
    name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
    return ctypes.CDLL(name)


def synthesise(text: str, *, voice: str = "en-us", rate: int = 165) -> tuple[np.ndarray, int, list[TimedWord]]:
    """(16-bit samples, sample rate, words with times from the start of the speech)."""
    lib = _library()
    sample_rate = lib.espeak_Initialize(SYNCHRONOUS, 0, None, 0)
    if sample_rate <= 0:
        raise RuntimeError("libespeak-ng did not initialise")
    pieces: list[np.ndarray] = []
    starts: list[tuple[int, int, float]] = []  # (text position, length, seconds)
    ends: list[float] = []

    def collect(wav: ctypes.Array[ctypes.c_short], count: int, events: ctypes.Array[_Event]) -> int:
        if count > 0:
            pieces.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        i = 0
        while events[i].type != 0:
            event = events[i]
            if event.type == WORD_EVENT:
                starts.append((event.text_position, event.length, event.audio_position / 1000))
            elif event.type in END_EVENTS:
                ends.append(event.audio_position / 1000)
            i += 1
        return 0

    callback = _CALLBACK(collect)  # kept alive until synthesis ends
    lib.espeak_SetSynthCallback(callback)
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        raise RuntimeError(f"espeak-ng has no voice {voice!r}")
    lib.espeak_SetParameter(RATE, rate, 0)
    data = text.encode()
    if lib.espeak_Synth(data, len(data) + 1, 0, POS_CHARACTER, 0, UTF8, None, None) != 0:
        raise RuntimeError("espeak-ng could not synthesise the text")
    lib.espeak_Synchronize()
    samples = np.concatenate(pieces) if pieces else np.zeros(0, np.int16)
    words = []
    boundaries = sorted([s for _, _, s in starts] + ends + [samples.size / sample_rate])
    for position, length, start in starts:
        written = text.encode()[position - 1 : position - 1 + length].decode(errors="replace")
        following = min((b for b in boundaries if b > start + 1e-3), default=start + 1.0)
        words.append(TimedWord(written, start, min(following, start + 1.0)))
    return samples, sample_rate, words


def timed_speech(text: str, wav: Path, *, lead: float = 1.0, tail: float = 2.0, voice: str = "en-us") -> TimedSpeech:
    """Write ``text`` spoken to ``wav`` after a silent lead with a marker beep; see the module docstring."""
    samples, rate, words = synthesise(text, voice=voice)
    t = np.arange(int(BEEP_SECONDS * rate)) / rate
    beep = (0.3 * 32767 * np.sin(2 * np.pi * BEEP_HZ * t)).astype(np.int16)
    head = np.zeros(int(lead * rate), np.int16)
    at = int(BEEP_AT * rate)
    head[at : at + beep.size] = beep
    audio = np.concatenate([head, samples, np.zeros(int(tail * rate), np.int16)])
    wav.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(audio.tobytes())
    shifted = tuple(TimedWord(w.text, w.start + lead, w.end + lead) for w in words if re.search(r"\w", w.text))
    return TimedSpeech(wav, shifted, BEEP_AT, audio.size / rate, text)


def find_beeps(samples: np.ndarray, rate: int, *, min_gap: float = 3.0) -> list[float]:
    """Onsets (seconds) of the marker beep in mono float samples: 1 kHz energy well above the rest."""
    frame = int(0.01 * rate)
    usable = samples[: samples.size - samples.size % frame].reshape(-1, frame)
    t = np.arange(frame) / rate
    probe = np.exp(-2j * np.pi * BEEP_HZ * t)
    tone = np.abs(usable @ probe) / frame
    total = np.sqrt((usable**2).mean(axis=1)) + 1e-9
    hits = np.flatnonzero((tone > 0.05) & (tone / total > 0.6))
    onsets: list[float] = []
    for i in hits:
        at = i * frame / rate
        if not onsets or at - onsets[-1] >= min_gap:
            onsets.append(at)
    return onsets
