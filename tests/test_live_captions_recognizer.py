"""Streaming recognition: the stable-prefix policy and the window budget, then the real tiny.en.

The policy tests script the decoder and the speech detector. Their audio carries its own
clock: each sample is its stream time, positive where someone speaks and negative in
silence, so the scripted decoder knows which words a window holds.
"""

from __future__ import annotations

import itertools
import subprocess

import numpy as np
import pytest

from talkcast.streamer.captions.agreement import LocalAgreement, Word, normalise
from talkcast.streamer.captions.recognizer import (
    PROMPT_WORDS,
    WORDS_PER_SECOND,
    Budget,
    Recognizer,
    WhisperDecoder,
    repeat_at,
    silero_speech,
)
from talkcast.whisper import SAMPLE_RATE, Vocabulary, load_whisper
from tests.support.speech import TALK_TEXT, speech_wav, word_error_rate
from tests.support.timed_speech import timed_speech

SPOKEN = "we move the leaders one broker at a time so that the cluster never loses its quorum"
SCRIPT = SPOKEN.split()


def timeline(text: list[str], start: float = 1.0, length: float = 0.4) -> list[Word]:
    return [Word(w, start + i * length, start + i * length + length * 0.9) for i, w in enumerate(text)]


def test_two_passes_must_agree_and_a_commit_is_never_taken_back():
    agreement = LocalAgreement()
    assert agreement.update(timeline(["we", "move", "the"])) == []
    # The passes agree on "we move the"; "the" waits until they agree on the word after it.
    first = agreement.update(timeline(["we", "move", "the", "leader"]))
    assert [w.text for w in first] == ["we", "move"]
    # The next pass hears "leaders", and repeats the committed words: nothing is committed twice.
    assert [w.text for w in agreement.update(timeline(["we", "move", "the", "leaders", "one"]))] == []
    assert [w.text for w in agreement.update(timeline(["We", "move", "the", "leaders,", "one", "broker"]))] == [
        "the",
        "leaders,",
    ]
    assert [w.text for w in agreement.flush()] == ["one", "broker"]


def test_a_word_is_final_only_once_the_passes_also_agree_on_the_word_after_it():
    # Seen live at "It reads the topology from the cluster, computes a plan, and applies it": the
    # passes agreed on "compute" and parted after it; once final, "compute" made the next passes
    # write "compute the plan and apply it".
    agreement = LocalAgreement()
    agreement.update(timeline(["from", "the", "cluster,", "compute", "a", "plan,"]))
    out = agreement.update(timeline(["from", "the", "cluster,", "compute", "the", "plan,", "and"]))
    assert [w.text for w in out] == ["from", "the", "cluster,"]
    assert agreement.update(timeline(["from", "the", "cluster,", "computes", "a", "plan,", "and"])) == []
    out = agreement.update(timeline(["from", "the", "cluster,", "computes", "a", "plan,", "and", "applies"]))
    assert [w.text for w in out] == ["computes", "a", "plan,"]


def test_an_old_word_is_final_even_when_the_passes_disagree():
    agreement = LocalAgreement()
    agreement.update(timeline(["vitaly", "explains", "kafka"]))
    out = agreement.update(timeline(["vitali", "explains", "kafka"]), settled=1.9)  # "vitali" ended at 1.36
    assert [w.text for w in out] == ["vitali", "explains"]  # "explains" ended at 1.76: settled too


def test_a_flush_up_to_a_time_leaves_the_later_words_pending():
    # A full window is cut: what leaves it is committed, what stays is for the next passes to hear.
    agreement = LocalAgreement()
    agreement.update(timeline(["every", "fifteen", "seconds"]))  # starts 1.0, 1.4, 1.8
    assert [w.text for w in agreement.flush(before=1.5)] == ["every", "fifteen"]
    assert [w.text for w in agreement.flush()] == ["seconds"]


def test_words_are_compared_without_case_or_punctuation():
    assert normalise("Kafka,") == normalise("kafka") and normalise("don't") == normalise("don’t")


class Scripted:
    """A decoder that hears the script's words lying wholly inside the window it gets."""

    def __init__(self, words: list[Word]) -> None:
        self.words = words
        self.windows: list[float] = []
        self.starts: list[float] = []
        self.prefixes: list[str] = []
        self.more: list[bool] = []

    def __call__(self, audio: np.ndarray, prompt: str, prefix: str, most: int, more: bool) -> list[Word]:
        start, end = abs(float(audio[0])), abs(float(audio[-1]))
        self.windows.append(audio.size / SAMPLE_RATE)
        self.starts.append(start)
        self.prefixes.append(prefix)
        self.more.append(more)
        inside = [w for w in self.words if w.start >= start and w.end <= end]
        skip = len(prefix.split())  # as Whisper does, it goes on after the words it is given
        return [Word(w.text, w.start - start, w.end - start) for w in inside[skip:]][:most]


def by_sign(audio: np.ndarray) -> np.ndarray:
    usable = audio[: audio.size - audio.size % 512].reshape(-1, 512)
    return (usable.mean(axis=1) > 0).astype(np.float32)


def clock_audio(seconds: float, speech: list[tuple[float, float]]) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE), dtype=np.float64) / SAMPLE_RATE + 1e-3
    spoken = np.zeros(t.size, bool)
    for a, b in speech:
        spoken |= (t >= a) & (t < b)
    return np.where(spoken, t, -t).astype(np.float32)


def run(recognizer: Recognizer, audio: np.ndarray, step: float = 1.0) -> list[Word]:
    out, n = [], int(step * SAMPLE_RATE)
    for i in range(0, audio.size, n):
        recognizer.push(audio[i : i + n], i / SAMPLE_RATE)
        out += recognizer.process()
    return out


def test_every_word_is_committed_once_in_order_and_a_pause_ends_the_utterance():
    words = timeline(SCRIPT, start=1.0)
    decoder = Scripted(words)
    recognizer = Recognizer(decoder, by_sign, Budget())
    out = run(recognizer, clock_audio(10.0, [(1.0, words[-1].end + 0.05)]))
    assert [w.text for w in out] == SCRIPT
    assert len(decoder.windows) < 10  # no pass over the silence before the first word or after the pause


def test_no_pass_decodes_more_than_the_window():
    words = timeline(SCRIPT * 5, start=0.5, length=0.35)  # 30 s without a pause
    decoder = Scripted(words)
    budget = Budget(window=6.0, trim=4.0)
    out = run(Recognizer(decoder, by_sign, budget), clock_audio(32.0, [(0.5, words[-1].end + 0.05)]))
    assert max(decoder.windows) <= budget.window + 1e-6
    assert [w.text for w in out] == [w.text for w in words]  # bounded, and nothing lost


def test_a_cut_keeps_the_most_recent_audio_and_a_full_window_leaves_its_last_words_pending():
    # 60 words in 24 s, a short pause (0.2 s) after every fourth: nowhere to trim, so the window fills.
    words = [Word(w.text, w.start + 0.2 * (i // 4), w.end + 0.2 * (i // 4)) for i, w in enumerate(
        timeline([f"w{i}" for i in range(60)], start=0.5, length=0.35))]  # fmt: skip

    class CutOff(Scripted):
        """Hears a word that ends at the window's very end cut off, a little differently every pass."""

        def __call__(self, audio, prompt, prefix, most, more):
            heard, span = super().__call__(audio, prompt, prefix, most, more), audio.size / SAMPLE_RATE
            return [Word(f"{w.text}-{len(self.windows)}", w.start, w.end) if w.end > span - 0.5 else w for w in heard]

    decoder = CutOff(words)
    budget = Budget(window=8.0, trim=6.0, keep=4.0)
    recognizer = Recognizer(decoder, by_sign, budget)
    out, cuts = [], []
    audio = clock_audio(26.0, [(w.start - 0.02, w.end + 0.02) for w in words])
    for i in range(0, audio.size, SAMPLE_RATE):
        recognizer.push(audio[i : i + SAMPLE_RATE], i / SAMPLE_RATE)
        out += recognizer.process()
        cuts.append(recognizer.end - recognizer.start)
    # A cut keeps 2-4 s (the first pause after end - keep), not just the last second or two.
    assert max(decoder.windows) <= budget.window + 1e-6 and min(cuts[5:-2]) >= 2.0
    # Only what left the window was committed: no word heard cut off at its end became final.
    assert [w.text for w in out] == [w.text for w in words]


@pytest.mark.whisper
def test_tiny_en_streams_an_espeak_talk_about_as_well_as_it_transcribes_it(tmp_path):
    text = "First, we measure the consumer lag on every partition. Then we move the leaders, one broker at a time."
    wav = speech_wav(text, tmp_path / "talk.wav")
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(wav), "-af", "adelay=500,apad=pad_dur=1.5", "-ac", "1", "-ar", "16000",
         "-f", "f32le", "-"], capture_output=True, check=True,
    ).stdout  # fmt: skip
    audio = np.frombuffer(raw, np.float32)
    model, _ = load_whisper("tiny.en", compute_type="int8", threads=1)
    decoder = WhisperDecoder(model, "en", Vocabulary(glossary=("Kafka",)).hotwords())
    out = run(Recognizer(decoder, silero_speech(), Budget()), audio)
    assert word_error_rate(text, " ".join(w.text for w in out)) <= 0.15
    assert all(a.end <= b.start + 0.05 for a, b in itertools.pairwise(out))  # in order, none twice


def test_a_pass_starts_after_the_final_words_in_its_window_and_cannot_run_away():
    words = timeline(SCRIPT, start=1.0)
    decoder = Scripted(words)
    run(Recognizer(decoder, by_sign, Budget()), clock_audio(8.0, [(1.0, words[-1].end + 0.05)]))
    # Whisper is given the committed words still in the window, and continues after them.
    assert any(p.startswith("we move the") for p in decoder.prefixes)

    class Inventive(Scripted):
        def __call__(self, audio, prompt, prefix, most, more):
            return [Word("blah", 0.1 * i, 0.1 * i + 0.05) for i in range(40)][:most]

    out = run(Recognizer(Inventive(words), by_sign, Budget()), clock_audio(3.0, [(1.0, 2.0)]))
    assert len(out) <= 2 * WORDS_PER_SECOND  # a second of speech holds a few words (plus a little slack), not forty


def test_whisper_is_made_to_start_from_every_final_word_in_its_window():
    # 60 words in 21 s without a pause: the window holds more final words than the prompt keeps.
    words = timeline([f"w{i}" for i in range(60)], start=0.5, length=0.35)
    decoder = Scripted(words)
    run(Recognizer(decoder, by_sign, Budget()), clock_audio(24.0, [(0.5, words[-1].end + 0.05)]))
    assert max(len(p.split()) for p in decoder.prefixes) > PROMPT_WORDS
    for start, prefix in zip(decoder.starts, decoder.prefixes, strict=True):
        in_window = [w.text for w in words if w.start >= start]
        # From the window's first word on: a prefix from its middle makes Whisper put the
        # window's first words after it.
        assert prefix.split() == in_window[: len(prefix.split())]
    # Told when the window holds speech after the final words (it must not end its text there).
    assert any(decoder.more) and not decoder.more[-1]


@pytest.mark.whisper
def test_speech_after_final_words_ending_in_a_full_stop_is_heard(tmp_path):
    # Seen live: the last final words were "We keep the error budget." (Whisper's full stop: the
    # window had ended there), and tiny.en, made to start from them, ended its text right after
    # them, pass after pass, while the speaker went on "at ninety nine point nine percent".
    speech = timed_speech(TALK_TEXT, tmp_path / "talk.wav")
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(speech.wav), "-ac", "1", "-ar", "16000", "-f", "f32le", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    audio = np.frombuffer(raw, np.float32)
    texts = [w.text for w in speech.words]
    we = speech.words[texts.index("keep") - 1]
    budget = speech.words[texts.index("budget")]
    window = audio[round((we.start - 0.3) * SAMPLE_RATE) : round((budget.end + 2.5) * SAMPLE_RATE)]
    model, _ = load_whisper("tiny.en", compute_type="int8", threads=1)
    decoder = WhisperDecoder(model, "en", Vocabulary(glossary=("Kafka", "Prometheus", "SRE")).hint("glossary"))
    prompt = "When the replication falls behind, the on call engineer gets a page."
    heard = [w.key for w in decoder(window, prompt, "We keep the error budget.", 12, True)]
    assert heard[:1] == ["at"] and "month" in heard


def test_a_loop_is_found_where_it_starts():
    assert repeat_at(SCRIPT[:4] * 2) == 4
    assert repeat_at(SCRIPT) == len(SCRIPT)


@pytest.mark.whisper
def test_voice_activity_detection_leaves_the_audio_alone():
    audio = np.random.default_rng(1).normal(0, 0.1, 16_000).astype(np.float32)
    before = audio.copy()
    assert silero_speech()(audio).size == 31
    assert np.array_equal(audio, before)  # Silero writes into what it is given; the detector gives it a copy
