"""The captioner process under ``talkcast live``'s ``Captioner``: real ingest, real ffmpeg, real tiny.en.

An ffmpeg stands in for OBS and publishes speech to the relay's own ingest (nginx-rtmp);
the captioner reads it, and its words reach the live transcript. Killed, it comes back
by itself; stopped, it leaves nothing running.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
from datetime import timedelta

import psutil
import pytest

from talkcast.config import CaptionsConfig, minimal_config
from talkcast.journal import JournalWriter, now
from talkcast.schedule import Schedule, Talk
from talkcast.streamer.captions import captioner as captioner_module
from talkcast.streamer.captions.agreement import normalise
from talkcast.streamer.captions.captioner import TRANSCRIPT_FILE, Captioner
from talkcast.streamer.controller import Controller
from talkcast.streamer.ingest import Ingest
from tests.support.net import free_port, until
from tests.support.speech import TALK_TEXT, speech_wav

pytestmark = [pytest.mark.rtmp, pytest.mark.whisper]


def publish(wav, url: str) -> subprocess.Popen[bytes]:
    """A stand-in for OBS: a picture and the speech, looped, pushed in real time."""
    return subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "color=c=navy:s=160x90:r=15",
         "-stream_loop", "-1", "-i", str(wav), "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast",
         "-g", "30", "-c:a", "aac", "-f", "flv", url],
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def family(pid: int) -> list[int]:
    with contextlib.suppress(psutil.NoSuchProcess):
        proc = psutil.Process(pid)
        return [pid, *(p.pid for p in proc.children(recursive=True))]
    return []


def process_or_none(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None


def transcript_words(path) -> list[str]:
    if not path.exists():
        return []
    return [w for line in path.read_text().splitlines() for w in json.loads(line).get("text", "").split()]


def test_the_captioner_comes_back_after_a_kill_and_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(captioner_module, "RESTART", dataclasses.replace(captioner_module.RESTART, initial=0.2))
    wav = speech_wav(TALK_TEXT, tmp_path / "talk.wav")
    cfg = dataclasses.replace(minimal_config(tmp_path / "out"), captions=CaptionsConfig(live=True))
    talk = Talk("kafka", "Balancing Kafka", now() - timedelta(minutes=1), timedelta(minutes=30))
    seen: dict[str, object] = {}

    async def scenario() -> None:
        async with Ingest(port=free_port()) as ingest:
            source = publish(wav, ingest.source)
            try:
                with JournalWriter(cfg.output_dir / "journal.jsonl") as journal:
                    controller = Controller(cfg, Schedule((talk,)), journal)
                    controller.clock.tick(now())  # the talk is on (the controller's clock loop is not running)
                    transcript = cfg.output_dir / TRANSCRIPT_FILE
                    async with Captioner(cfg, controller, journal, source=ingest.source) as captions:
                        await until("words in the transcript", lambda: len(transcript_words(transcript)) >= 8, 60)
                        first = captions.proc
                        assert first is not None
                        seen["first"] = family(first.pid)
                        assert len(seen["first"]) == 2  # the captioner and its one ffmpeg reader
                        os.kill(first.pid, signal.SIGKILL)
                        heard = len(transcript_words(transcript))
                        await until("a new captioner", lambda: captions.proc not in (None, first), 20)
                        await until("more words", lambda: len(transcript_words(transcript)) > heard + 5, 60)
                        seen["second"] = family(captions.proc.pid)
                        seen["view"] = captions.view()
            finally:
                source.kill()
                source.wait()

    asyncio.run(scenario())
    assert seen["view"].state == "captioning" and seen["view"].talk == "kafka"
    # Nothing of either captioner is left: not the first's orphaned ffmpeg, not the second.
    # The group's SIGKILL is sent before the captioner is reaped, but an ffmpeg grandchild
    # may take a moment under load to finish dying (it was seen "running" just after).
    left = [p for p in map(process_or_none, [*seen["first"], *seen["second"]]) if p is not None]
    _, alive = psutil.wait_procs(left, timeout=5)
    for proc in alive:
        assert proc.status() == psutil.STATUS_ZOMBIE, proc.pid
    lines = (cfg.output_dir / TRANSCRIPT_FILE).read_text().splitlines()
    assert json.loads(lines[0])["event"] == "captioning"


GERMAN = (
    "Zuerst messen wir die Verzögerung auf jeder Partition. Dann verschieben wir die Leader, "
    "einen Broker nach dem anderen, damit der Cluster nie sein Quorum verliert."
)


def test_a_german_talk_is_captioned_in_german_by_the_multilingual_model(tmp_path):
    wav = speech_wav(GERMAN, tmp_path / "talk.wav", voice="de")
    cfg = dataclasses.replace(minimal_config(tmp_path / "out"), captions=CaptionsConfig(live=True))
    talk = Talk("kafka", "Kafka ausbalancieren", now() - timedelta(minutes=1), timedelta(minutes=30), language="de")
    transcript = cfg.output_dir / TRANSCRIPT_FILE

    async def scenario() -> None:
        async with Ingest(port=free_port()) as ingest:
            source = publish(wav, ingest.source)
            try:
                with JournalWriter(cfg.output_dir / "journal.jsonl") as journal:
                    controller = Controller(cfg, Schedule((talk,)), journal)
                    controller.clock.tick(now())
                    async with Captioner(cfg, controller, journal, source=ingest.source):
                        # Two loops and more of the speech: the reader joins it anywhere, and
                        # what a window catches of espeak-ng's German varies with where it starts.
                        await until("German words", lambda: len(transcript_words(transcript)) >= 54, 150)
            finally:
                source.kill()
                source.wait()

    asyncio.run(scenario())
    lines = [json.loads(line) for line in transcript.read_text().splitlines()]
    assert lines[0] == {**lines[0], "event": "captioning", "language": "de"}
    assert {x["language"] for x in lines if "text" in x} == {"de"}
    heard = [normalise(w) for w in transcript_words(transcript)]
    # tiny.en could only write English-sounding words; these are the German text's own.
    german = {normalise(w) for w in GERMAN.split()}
    assert len(german.intersection(heard)) >= 8, heard
