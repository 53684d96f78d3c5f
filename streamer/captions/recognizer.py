"""Streaming recognition: a sliding window of audio, Whisper on it every step, stable words out.

``Recognizer`` holds the audio not yet final (at most ``Budget.window`` seconds) on the
stream's clock. Each ``process()`` is one pass:

1. voice activity detection (Silero, as faster-whisper ships it) over the window: no
   speech means no decoding at all (no CPU spent, and nothing for Whisper to invent over
   silence or applause); silence at the start of the window is cut off;
2. Whisper decodes the window (``WhisperDecoder``: a beam of 2, one temperature, a cap on new
   tokens, the talk's vocabulary as hotwords, the last final words before the window as
   the prompt, and every final word inside it as a forced prefix, so that it only writes
   what follows them: the prefix goes without the full stop Whisper put where the last
   window ended, and while speech follows it the text may not end right after it); what
   Whisper makes up is cut (``_heard``);
3. ``agreement.LocalAgreement`` commits what this pass and the last agree on (and on the
   word after it), and any word that ended ``Budget.settle`` seconds before the window's
   end; when the speaker has paused (``Budget.pause`` of silence after speech) everything is committed;
4. once the window is longer than ``Budget.trim`` it is cut in a pause before the last
   committed word (never inside a word), and it never grows past ``Budget.window``: it is
   then cut in a shorter pause, and what is pending before the cut is committed. Either
   cut keeps up to ``Budget.keep`` seconds of the window (the first such pause after its
   end minus ``keep``), and a pending word after the cut stays pending. So one pass never
   decodes more than the window, and every pass costs about as much as the last (a
   single slow pass is what wrecks the 95th percentile of latency).

The choices were measured on espeak-ng speech with tiny.en, replaying files and OBS's own
stream at several offsets of the pass grid (benchmarks/bench_captions.py has the live
figures). Longer windows made fewer errors, at a cost (per pass, median over a 48 s
talk on one core: 15 s, 0.33 s; 20 s, 0.37 s; 25 s, 0.47 s); 20 s came within a few
points of transcribing the whole file at once. Committing at short pauses (0.4 s) made
many more errors; cutting at a word's estimated end, or in the middle of a pause shorter
than 0.4 s (an unvoiced "s" looks like one to the detector), split words ("scrapes" came
back as "Crapes"); without the forced prefix, Whisper wrote the window's final words
again and its alignment of the new ones went wrong. Cutting a full window in its last
pause before the last committed word, after committing everything pending, left the next
passes 2-4 s of audio, and committed the word at the window's very end as Whisper heard
it cut off ("every 5th." for "every fifteen", and "2nd" for "seconds" from the next
pass). Keeping 10 s and leaving the words after the cut pending brought the replay's word
error rate (two stand-in recordings and the WAV, 2 offsets each) from 0.121 (0.088-0.144)
to 0.112 (0.104-0.120); either alone did not help (0.121 leaving them pending, 0.124
keeping 10 s: a word heard cut off, once final, stays in the longer window's prefix). End
to end, 5 runs: live WER 0.104-0.120 against 0.096-0.152 before, offline 0.080. The
longer windows cost up to a tenth more CPU (replay of 2 recordings, twice: 98 and 88 s of
one core before, 98 and 97 s after).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from talkcast.streamer.captions.agreement import LocalAgreement, Word, normalise
from talkcast.whisper import SAMPLE_RATE

log = logging.getLogger("talkcast.captioner")

VAD_SAMPLES = 512  # Silero's window: 32 ms at 16 kHz
SPEECH = 0.5  # Silero probability above which a window is speech
CONTEXT = 0.3  # seconds of silence kept before speech, so the first word is whole
MIN_PAUSE = 0.4  # seconds of silence inside the window where it may be cut (shorter ones can be an unvoiced 's')
SHORT_PAUSE = 0.15  # ... and where it may be cut when it must (the window is full)
CUT_INTO_PAUSE = 0.05  # ... just after it begins: the next word's unvoiced start stays in the window
PROMPT_WORDS = 24  # committed words kept for the prompt
# A word sequence of this length is never repeated within one pass: tiny.en on a short window
# otherwise falls into loops ("-S -S -S", ".0 .0 .0") that the compression ratio test misses.
NO_REPEAT = 3
REPEAT_WINDOW = 6  # the last words of the prefix a pass must not say again
WORDS_PER_SECOND = 4.0  # faster than anyone speaks: a pass with more new words made them up
MORE_SPEECH = 1.0  # seconds of speech after the last final word: the text goes on after the prefix
PREPENDED, APPENDED = "\"'“¿([{-", "\"'.。,，!！?？:：”)]}、"  # faster-whisper's defaults

# (16 kHz mono float32, prompt, prefix, most words, whether speech follows the prefix)
#   -> the words after the prefix, times from the audio's start
Decode = Callable[[np.ndarray, str, str, int, bool], list[Word]]
SpeechProb = Callable[[np.ndarray], np.ndarray]  # audio -> speech probability of each 512-sample window


@dataclass(frozen=True)
class Budget:
    """How much audio a pass decodes and when words become final."""

    step: float = 1.0  # seconds of new audio between passes
    window: float = 20.0  # the most audio one pass decodes
    trim: float = 15.0  # cut the window in a pause before the last committed word once it is this long
    # A cut (at ``trim``, or when the window is full) keeps up to this much audio, and at most
    # half the window: the first pause after end - keep. Cutting in the last pause left a
    # pass 2-4 s of context.
    keep: float = 10.0
    pause: float = 0.6  # this much silence after speech ends an utterance: commit it all
    settle: float = 2.5  # a word that ended this long before the window's end is final, agreed or not
    max_tokens: int = 96  # new tokens one pass may write (a repetition loop stops here)
    # Beam search over 2 hypotheses: measured on the replay of benchmarks/bench_captions.py,
    # word error rate 0.085 -> 0.053 against greedy decoding, for a pass 20% longer
    # (median 0.28 -> 0.34 s of one core); 3 was no better and slower.
    beam: int = 2


@dataclass
class Recognizer:
    """The window of audio not yet final, and the policy that makes words final; see the module docstring."""

    decode: Decode
    speech: SpeechProb
    budget: Budget = field(default_factory=Budget)
    audio: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    start: float = 0.0  # stream time of audio[0]
    agreement: LocalAgreement = field(default_factory=LocalAgreement)
    said: list[Word] = field(default_factory=list)  # the talk's last committed words, for the prompt

    @property
    def end(self) -> float:
        """Stream time just after the last sample held."""
        return self.start + self.audio.size / SAMPLE_RATE

    def push(self, samples: np.ndarray, start: float) -> None:
        """Audio that follows what is held (``start`` is its stream time; a jump restarts the window)."""
        if self.audio.size == 0 or abs(start - self.end) > 0.05:
            self.agreement.reset(start)
            self.audio, self.start = samples.astype(np.float32, copy=True), start
        else:
            self.audio = np.concatenate([self.audio, samples.astype(np.float32, copy=False)])

    def clear(self, at: float) -> None:
        """Forget the audio and the pending words (a pause, a new talk, dropped audio)."""
        self.agreement.reset(at)
        self.audio, self.start = np.zeros(0, np.float32), at

    def new_talk(self) -> None:
        """Start the prompt afresh: the last talk's words say nothing about this one."""
        self.said = []

    def process(self) -> list[Word]:
        """One pass over the window; the words that became final."""
        base = self.start
        probs = self.speech(self.audio) if self.audio.size >= VAD_SAMPLES else np.zeros(0, np.float32)
        voiced = np.flatnonzero(probs >= SPEECH)
        if voiced.size == 0:
            out = self.agreement.flush()  # nobody speaks: what was pending is all there is
            self._cut(self.end - CONTEXT)
            return self._said(out)
        step = VAD_SAMPLES / SAMPLE_RATE
        first, last = base + voiced[0] * step, base + (voiced[-1] + 1) * step
        if first - self.start > CONTEXT:
            self._cut(first - CONTEXT)
        heard = self._heard(last)
        log.debug("pass %.2f-%.2f heard: %s", self.start, self.end, " ".join(f"{w.text}@{w.start:.2f}" for w in heard))
        out = self.agreement.update(heard, settled=self.end - self.budget.settle)
        if self.end - last >= self.budget.pause:
            out += self.agreement.flush()  # the speaker paused: this pass's words are the utterance
        if self.end - self.start > self.budget.trim:
            self._cut(_pause_before(probs, base, self.agreement.committed_end, after=self.end - self._keep))
        if self.end - self.start > self.budget.window - self.budget.step:
            committed, least = self.agreement.committed_end, self.end - self.budget.window + self.budget.step
            at = _pause_before(probs, base, committed, min_pause=SHORT_PAUSE, after=self.end - self._keep)
            at = at if at >= least else committed if committed > least else least
            out += self.agreement.flush(before=at)  # never let the next pass decode more than the window
            self._cut(at)
        log.debug("final: %s", " ".join(w.text for w in out))
        return self._said(out)

    @property
    def _keep(self) -> float:
        # A cut that kept most of a short window (``[captions] window`` can be 3 steps) would
        # leave it full again at the next pass.
        return min(self.budget.keep, self.budget.window / 2)

    def _heard(self, last_voiced: float) -> list[Word]:
        """One decoding of the window, without what Whisper makes up: the words it can have heard.

        A small model invents, most of all when the window starts with words it is told are
        already said: it goes on with the text instead of listening, or says the window
        over again. So the decoder stops at a loop (``repeat_at``) and at the most new words
        anyone says in the time (``WORDS_PER_SECOND``), and only words where there was
        speech are kept.
        """
        span = self.end - self.start
        new_speech = max(last_voiced - max(self.agreement.committed_end, self.start), 0.0)
        words = []
        most, more = int(WORDS_PER_SECOND * new_speech) + 2, new_speech >= MORE_SPEECH
        for w in self.decode(self.audio, self.prompt, self.prefix, most, more):
            start, end = min(max(w.start, 0.0), span), min(max(w.end, 0.0), span)  # alignment can overshoot
            if self.start + start <= last_voiced + 0.3:
                words.append(Word(w.text, self.start + start, self.start + end))
        return words

    @property
    def prompt(self) -> str:
        """The committed words before the window, so a pass continues the sentence it joins."""
        return " ".join(w.text for w in self.said if not self._inside(w))

    @property
    def prefix(self) -> str:
        """The committed words inside the window: Whisper is made to start from them and only writes what follows."""
        return " ".join(w.text for w in self.said if self._inside(w))

    def _inside(self, word: Word) -> bool:
        # A word ending within a few ms of the cut belongs before it (alignment jitter).
        return word.end > self.start + 0.05

    def _said(self, words: list[Word]) -> list[Word]:
        # Every final word inside the window stays (the prefix must hold them all, or Whisper
        # is made to start the window's text in its middle); of those before it, the prompt's.
        said = [*self.said, *words]
        before = [w for w in said if not self._inside(w)][-PROMPT_WORDS:]
        self.said = [*before, *(w for w in said if self._inside(w))]
        return words

    def _cut(self, at: float) -> None:
        """Drop the audio before stream time ``at``."""
        drop = round((at - self.start) * SAMPLE_RATE)
        if drop <= 0:
            return
        drop = min(drop, self.audio.size)
        self.audio = self.audio[drop:]
        self.start += drop / SAMPLE_RATE


def repeat_at(keys: list[str], n: int = 3) -> int:
    """Where a run of ``n`` words first repeats an earlier run (a decoding loop); ``len(keys)`` if none."""
    seen: set[tuple[str, ...]] = set()
    for i in range(len(keys) - n + 1):
        gram = tuple(keys[i : i + n])
        if gram in seen:
            return i
        seen.add(gram)
    return len(keys)


def _pause_before(
    probs: np.ndarray, base: float, limit: float, *, min_pause: float = MIN_PAUSE, after: float | None = None
) -> float:
    """The start (plus ``CUT_INTO_PAUSE``) of the last pause in speech that ends before ``limit`` (``base`` if none).

    With ``after``, the first such pause that starts after it, if there is one.

    ``probs`` are the speech probabilities of the windows from stream time ``base``.
    Cutting the window in a pause, not at a word's estimated end, never cuts a word in
    two: a cut word comes back from the next pass as a fragment that matches nothing.
    """
    step = VAD_SAMPLES / SAMPLE_RATE
    best, run = base, 0
    for i, prob in enumerate(probs):
        end = base + (i + 1) * step
        if end > limit:
            break
        run = run + 1 if prob < SPEECH else 0
        ends_here = i + 1 == len(probs) or probs[i + 1] >= SPEECH
        if run * step >= min_pause and ends_here:
            best = end - run * step + CUT_INTO_PAUSE
            if after is not None and best >= after:
                break
    return best


def silero_speech() -> SpeechProb:
    """Silero voice activity detection as faster-whisper ships it (one ONNX thread)."""
    from faster_whisper.vad import get_vad_model

    model = get_vad_model()

    def probabilities(audio: np.ndarray) -> np.ndarray:
        # A copy: the model writes into the array it is given (it zeroes the last 64 samples).
        usable = np.array(audio[: audio.size - audio.size % VAD_SAMPLES], dtype=np.float32)
        if usable.size == 0:
            return np.zeros(0, np.float32)
        return np.asarray(model(usable), dtype=np.float32).reshape(-1)

    return probabilities


@dataclass
class WhisperDecoder:
    """One pass of Whisper over a window, bounded in time: only the window encoded, a small beam, capped tokens.

    faster-whisper's ``transcribe()`` pads every input to Whisper's 30 seconds before the
    encoder, so a pass over 5 s of audio costs as much as one over 30 s (0.5 s of one core
    for tiny.en here, most of a one-second step). This pass encodes only the window,
    rounded up to whole seconds, and then does what ``transcribe()`` does for one window
    (prompt with hotwords, decoding at temperature 0 without fallback, word times
    from the cross-attention alignment) through the same faster-whisper methods; the
    pinned faster-whisper version keeps these stable. The word error rate is the same
    and a pass takes about a quarter of the time (benchmarks/bench_captions.py).
    """

    model: Any  # faster_whisper.WhisperModel
    language: str
    hotwords: str | None
    max_tokens: int = Budget.max_tokens
    beam_size: int = Budget.beam
    tokenizer: Any = None

    def __post_init__(self) -> None:
        from faster_whisper.tokenizer import Tokenizer

        self.tokenizer = Tokenizer(
            self.model.hf_tokenizer, self.model.model.is_multilingual, task="transcribe", language=self.language
        )

    def __call__(
        self, audio: np.ndarray, prompt: str, prefix: str = "", most: int = 1000, more: bool = False
    ) -> list[Word]:
        """The words Whisper hears in ``audio`` after ``prefix`` (words already final), times from its start.

        At most ``most`` words, and none from where they start to repeat themselves or the
        prefix: such text is cut before the words are aligned to the audio, since the
        alignment of text the audio does not hold puts every word in the wrong place.
        ``more``: the audio holds speech after the prefix's words, so the text may not end
        right after the prefix.
        """
        import ctranslate2
        from faster_whisper.audio import pad_or_trim

        model, tokenizer = self.model, self.tokenizer
        features = model.feature_extractor(audio)
        frames = features.shape[-1]
        second = model.frames_per_second
        padded = pad_or_trim(features, min(-(-frames // second) * second, model.feature_extractor.nb_max_frames))
        encoded = model.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(padded[None])))
        forced = tokenizer.encode(" " + open_ended(prefix)) if prefix.strip() else []
        tokens = self._prompt(prompt, forced)
        result = model.model.generate(
            encoded,
            [tokens],
            beam_size=self.beam_size,
            max_length=len(tokens) + self.max_tokens,
            return_scores=True,
            return_no_speech_prob=True,
            # Whisper's blank suppression also forbids ending the text at once. After a prefix
            # that is right only when speech follows it: tiny.en otherwise often ends the text
            # right after the prefix, pass after pass, while the speaker goes on.
            suppress_blank=not forced or more,
            suppress_tokens=[-1],
            no_repeat_ngram_size=NO_REPEAT,
        )[0]
        text_tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        if forced and text_tokens[: len(forced)] == forced:
            text_tokens = text_tokens[len(forced) :]  # CTranslate2 returns the prefix with what follows it
        if not text_tokens or _invented(result, tokenizer.decode(text_tokens)):
            return []
        texts, pieces = tokenizer.split_to_word_tokens([*text_tokens, tokenizer.eot])
        said = [normalise(w) for w in prefix.split()][-REPEAT_WINDOW:]
        keys = [normalise(t) for t in texts[:-1]]
        keep = min(repeat_at([*said, *keys]) - len(said), most)
        text_tokens = [t for piece in pieces[: max(keep, 0)] for t in piece]
        if not text_tokens:
            return []
        from faster_whisper.transcribe import merge_punctuations

        aligned = model.find_alignment(tokenizer, [forced + text_tokens], encoded, frames)[0]
        skip = len(tokenizer.split_to_word_tokens([*forced, tokenizer.eot])[0]) - 1 if forced else 0
        merge_punctuations(aligned, PREPENDED, APPENDED)  # "Kafka" "," -> "Kafka," (as transcribe() does)
        words: list[Word] = []
        for w in aligned[skip:]:
            text = w["word"]
            if not text.strip():
                continue
            if words and not text[0].isspace():
                # No space before it: the rest of the word before (" 99" ".9" "%" is "99.9%").
                words[-1] = Word(words[-1].text + text.strip(), words[-1].start, float(w["end"]))
            else:
                words.append(Word(text.strip(), float(w["start"]), float(w["end"])))
        return words

    def _prompt(self, prompt: str, forced: list[int]) -> list[int]:
        """What ``WhisperModel.get_prompt`` builds, but with the hotwords kept beside a prefix (it drops them)."""
        tokenizer = self.tokenizer
        previous = tokenizer.encode(" " + prompt.strip()) if prompt.strip() else []
        half = self.model.max_length // 2
        context = (tokenizer.encode(" " + self.hotwords.strip())[: half - 1] if self.hotwords else []) + previous
        tokens = [tokenizer.sot_prev, *context[-(half - 1) :]] if context else []
        return [*tokens, *tokenizer.sot_sequence, tokenizer.no_timestamps, *forced]


def open_ended(prefix: str) -> str:
    """The prefix as Whisper is made to start: without the full stop at its end.

    Whisper ends its text with a full stop where the audio ends, so the last final word
    often carries one that the speaker did not say ("we keep the error budget." with "at
    ninety nine..." still to come). Forced on the next pass, that stop makes tiny.en start
    a new sentence after it (or end the text there); without it, the text goes on as
    spoken, and a sentence that did end gets its stop back from Whisper.
    """
    return prefix.strip().rstrip(".?!…")


def _invented(result: Any, text: str) -> bool:
    """Whisper's own tests for a pass to throw away: a repetition loop, or words over noise."""
    from faster_whisper.transcribe import get_compression_ratio

    length = max(len(result.sequences_ids[0]), 1)
    avg_logprob = result.scores[0] * length / (length + 1)
    return get_compression_ratio(text) > 2.4 or (result.no_speech_prob > 0.6 and avg_logprob < -1.0)
