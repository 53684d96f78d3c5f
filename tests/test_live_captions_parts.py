"""The live captions' parts as plain values: the pipe protocol, the audio clock, what is captioned, falling behind."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from talkcast.config import TranscribeConfig, minimal_config
from talkcast.journal import now
from talkcast.schedule import Talk
from talkcast.streamer.captions.agreement import Word
from talkcast.streamer.captions.audio import AudioRing, parse_clock, reader_args
from talkcast.streamer.captions.captioner import wanted
from talkcast.streamer.captions.protocol import Event, Mode, ProtocolError, Setup, parse_command, parse_event
from talkcast.streamer.captions.recognizer import Budget, Recognizer
from talkcast.streamer.captions.worker import Commands, PassLoop
from talkcast.streamer.clock import Role
from talkcast.whisper import SAMPLE_RATE

SOURCE = "rtmp://127.0.0.1:1935/talkcast/tc-secret-key"


def test_commands_and_events_cross_the_pipe_as_they_were():
    setup = Setup(source=SOURCE, model="tiny.en", multilingual_model="/models/base", cpus=1, step=0.5)
    assert parse_command(setup.to_line()) == setup
    mode = Mode(epoch=3, active=True, since=1.5, talk="kafka", language="fr", hotwords="Kafka, SRE")
    assert parse_command(mode.to_line()) == mode
    words = Event("words", epoch=3, words=(Word("Kafka,", 12.5, 12.9), Word("l’été", 13.0, 13.4)), clock=1e9)
    assert parse_event(words.to_line()) == words
    status = Event("status", state="listening", numbers={"cpu_pct": 41.5, "behind_s": 1.0})
    assert parse_event(status.to_line()) == status
    assert parse_event(Event("dropped", epoch=2, seconds=12.25).to_line()).seconds == 12.25


@pytest.mark.parametrize("line", ["not json", "[1, 2]", '{"type": "launch"}', '{"type": "mode", "epoch": 1}'])
def test_a_bad_line_is_a_protocol_error(line):
    with pytest.raises(ProtocolError):
        parse_command(line)


def test_the_reader_keeps_stream_times_and_logs_one_stamp_a_second():
    args = reader_args(SOURCE)
    assert args[0] == "-copyts" and args[args.index("-i") + 1] == SOURCE
    assert "aresample=16000:async=1" in args[args.index("-filter_complex") + 1]
    assert args[-3:] == ["-f", "s16le", "pipe:1"]
    line = "[Parsed_ashowinfo_4 @ 0x55f41d476b40] n:   2 pts:103328 pts_time:6.458 pos:151860 fmt:s16 channels:1"
    assert parse_clock(line) == (2, 6.458)
    assert parse_clock("[aac @ 0x1] decoding error") is None


def pcm(seconds: float, value: int = 1000) -> bytes:
    return np.full(int(seconds * SAMPLE_RATE), value, np.int16).tobytes()


def test_audio_waits_for_its_clock_and_joins_into_pieces():
    ring = AudioRing()
    ring.new_reader()
    ring.add(pcm(0.5), arrived=100.0)
    ring.add(pcm(0.5), arrived=100.5)
    assert ring.take() == [] and ring.waiting() == 1.0  # no stamp yet: held back
    ring.clock_line("[Parsed_ashowinfo_4 @ 0x1] n:0 pts:64000 pts_time:4.000 pos:1")
    [piece] = ring.take()
    assert piece.start == 4.0 and piece.seconds == 1.0 and piece.arrived == 100.5
    assert piece.clock == pytest.approx(100.5 - 5.0)
    ring.new_reader()  # OBS restarted its stream: a new clock
    ring.add(pcm(0.2), arrived=200.0)
    ring.clock_line("[Parsed_ashowinfo_4 @ 0x1] n:0 pts:0 pts_time:0.500 pos:1")
    ring.add(pcm(0.2), arrived=200.2)
    assert [(p.start, p.seconds) for p in ring.take(not_before=200.1)] == [(0.7, 0.2)]  # the first arrived too early


def test_a_ring_nobody_reads_stays_bounded():
    ring = AudioRing()
    ring.new_reader()
    for i in range(70):
        ring.add(pcm(1.0), arrived=float(i))
    assert ring.waiting() == 60.0 and ring.dropped == 10.0


def test_only_a_recorded_talk_or_its_qa_is_captioned_in_its_language_with_its_words():
    cfg = dataclasses.replace(minimal_config(Path("/tmp/out")), transcribe=TranscribeConfig(glossary=("Kafka",)))
    talk = Talk("kafka", "Balancing Kafka", now(), timedelta(minutes=30), ("Vitaly",), language="fr-FR")
    on = wanted(Role.TALK, talk, cfg)
    assert on.active and on.language == "fr" and on.hotwords == "Kafka"  # [transcribe] hotwords: the glossary
    everything = dataclasses.replace(cfg, transcribe=TranscribeConfig(glossary=("Kafka",), hotwords="all"))
    assert wanted(Role.TALK, talk, everything).hotwords == "Vitaly, Kafka, talkcast, Balancing Kafka"
    # The talk's own language wins over the event's, as when it is transcribed afterwards.
    german_event = dataclasses.replace(cfg, transcribe=TranscribeConfig(language="de"))
    assert wanted(Role.TALK, talk, german_event).language == "fr"
    assert wanted(Role.TALK, dataclasses.replace(talk, language=""), german_event).language == "de"
    assert wanted(Role.QA, talk, cfg).active
    assert not wanted(Role.BREAK, talk, cfg).active and wanted(Role.BREAK, None, cfg).reason == "break on air"
    private = dataclasses.replace(talk, record=False)
    assert not wanted(Role.TALK, private, cfg).active
    assert wanted(Role.TALK, private, cfg).reason == "the speaker did not agree to be recorded"
    assert wanted(Role.TALK, dataclasses.replace(talk, language=""), cfg).language == "en"


class Counting:
    """A decoder that hears nothing, and counts how much audio it was given."""

    def __init__(self) -> None:
        self.heard: list[float] = []

    def __call__(self, audio, prompt, prefix, most, more):
        self.heard.append(audio.size / SAMPLE_RATE)
        return []


def test_falling_more_than_ten_seconds_behind_drops_the_audio_and_says_so():
    ring, events = AudioRing(), []
    ring.new_reader()
    ring.clock_line("[Parsed_ashowinfo_0 @ 0x1] n:0 pts:0 pts_time:0.000 pos:1")
    setup = Setup(source=SOURCE, model="tiny.en", multilingual_model="base", max_behind=10.0)
    mode = Mode(epoch=1, active=True, since=0.0, talk="kafka")
    loop = PassLoop(
        setup, ring, Commands(mode=mode), events.append, models=None, speech=lambda a: np.ones(a.size // 512)
    )  # type: ignore[arg-type]
    decoder = Counting()
    loop.recognizer = Recognizer(decoder, loop.speech, Budget())
    loop.epoch = 1
    now_s = time.time()
    ring.add(pcm(14.0), arrived=now_s)  # a pass that took 14 s, say: 14 s wait
    loop._pass(mode, ring.take())
    [dropped] = [e for e in events if e.kind == "dropped"]
    assert dropped.epoch == 1 and dropped.seconds == pytest.approx(13.0)
    assert decoder.heard == [pytest.approx(1.0)]  # it went on with the last second, not with 14
    events.clear()
    ring.add(pcm(9.0), arrived=now_s)  # 9 s behind: within the budget, nothing dropped
    loop._pass(mode, ring.take())
    assert not [e for e in events if e.kind == "dropped"]


def test_the_captioner_says_when_its_log_level_setting_is_not_one(tmp_path):
    # TALKCAST_CAPTIONER_LOG=DEBUG explains a bad run afterwards; a typo there must not
    # stop the captioner, only say so (here it then stops at its empty command line).
    env = {**os.environ, "TALKCAST_CAPTIONER_LOG": "verbose"}
    run = subprocess.run(
        [sys.executable, "-m", "talkcast.streamer.captions.worker"], input="", env=env, capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 2
    assert "TALKCAST_CAPTIONER_LOG=VERBOSE is not a log level" in run.stderr
    assert "Traceback" not in run.stderr
