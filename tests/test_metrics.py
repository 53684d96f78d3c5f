"""``/metrics``: what it exposes from the relay and the analyser, who may read it, and the pure helpers.

The relay test runs the real ingest, a real stand-in destination and ffmpeg in OBS's
place (seconds, no OBS); the API tests run ``live()`` against the fake obs-websocket.
The real Prometheus scraping a real ``talkcast live`` with OBS is in test_prometheus.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from talkcast.config import (
    Config,
    DestinationConfig,
    EventConfig,
    LiveConfig,
    MonitorConfig,
    RelayConfig,
    load_config,
    minimal_config,
)
from talkcast.errors import ConfigError
from talkcast.journal import JournalWriter, now
from talkcast.schedule import Schedule, Talk
from talkcast.secrets import Secret, register_secret
from talkcast.streamer.controller import Controller
from talkcast.streamer.live import Session, live
from talkcast.streamer.metrics import LiveMetrics, histogram, recording_left_seconds
from talkcast.streamer.relay import Relay
from tests.conftest import fake_obs_config
from tests.fakes.obs_server import FakeObs
from tests.support.net import free_port, until
from tests.support.programme import TONE, LavfiProgramme

KEY = "rtmp-key-metrics-7d1c9e"
LATER = (Talk(id="later", title="Later", start=now() + timedelta(hours=2), duration=timedelta(minutes=30)),)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a metrics page by (name, sorted labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(text: str, name: str, **labels: str) -> float | None:
    """One sample's value, or None when absent."""
    return samples(text).get((name, tuple(sorted(labels.items()))))


def test_histogram_buckets_are_cumulative_and_end_with_inf() -> None:
    buckets, total = histogram([-0.2, 0.01, 0.03, 0.4, 7.0], (-0.1, 0.0, 0.05, 0.5))
    assert buckets == [("-0.1", 1.0), ("0.0", 1.0), ("0.05", 3.0), ("0.5", 4.0), ("+Inf", 5.0)]
    assert total == pytest.approx(7.24)


def test_recording_time_left_is_the_free_disk_at_the_files_average_bitrate() -> None:
    # 1 MB/s so far, 30 GB free: 30,000 s.
    assert recording_left_seconds(30e9, 600_000_000, 600.0) == pytest.approx(30_000)
    assert recording_left_seconds(30e9, 0, 0.0) is None  # nothing recorded yet: unknown, not 0


def relay_config(tmp_path: Path, server: str, **monitor: object) -> Config:
    return Config(
        file=tmp_path / "event.toml",
        event=EventConfig(name="metrics test", output_dir=tmp_path / "out"),
        destinations=(DestinationConfig(name="standin", url=server, key=register_secret(Secret(KEY))),),
        relay=RelayConfig(ingest_port=free_port(), safety_recording=False, healthy_after=1.0, backoff_initial=0.2),
        monitor=MonitorConfig(**monitor),  # type: ignore[arg-type]
    )


@pytest.mark.rtmp
def test_relay_and_programme_metrics_count_a_killed_destination_and_hide_the_key(tmp_path, rtmp_factory) -> None:
    server = rtmp_factory()
    cfg = relay_config(tmp_path, server.url)
    # The tone (1/8 of full scale) driven 20x past it: clipped on every cycle.
    source = LavfiProgramme(audio=f"{TONE},volume=20")
    pages: dict[str, str] = {}

    async def scenario() -> None:
        with JournalWriter(cfg.output_dir / "journal.jsonl") as journal:
            controller = Controller(cfg, Schedule(LATER), journal)
            async with Relay(cfg, journal) as relay:
                metrics = LiveMetrics(cfg, controller, relay=relay)

                def page() -> str:
                    return metrics.exposition().decode()

                source.start(relay.ingest_url, relay.ingest_key)
                sup = relay.supervisor("standin")
                assert relay.analyser is not None
                analyser = relay.analyser
                await until("live and analysed", lambda: sup.health.state == "live" and analyser.fresh, 20)
                await until("a bitrate", lambda: (value(page(), "talkcast_ingest_bitrate_bits_per_second") or 0) > 0, 5)
                await until("a second of clipping", lambda: analyser.state.clipped_total > 1000, 5)
                pages["before"] = page()
                assert sup.health.pid is not None
                os.kill(sup.health.pid, signal.SIGKILL)
                await until("the restart", lambda: sup.health.restarts == 1 and sup.health.state == "live", 15)
                pages["after"] = page()

    try:
        asyncio.run(scenario())
    finally:
        source.stop()
    before, after = pages["before"], pages["after"]
    target = {"destination": "standin", "kind": "destination"}
    assert value(before, "talkcast_destination_up", **target) == 1.0
    assert value(before, "talkcast_destination_state", state="live", **target) == 1.0
    assert value(before, "talkcast_destination_restarts_total", reason="exit", **target) == 0.0
    assert value(after, "talkcast_destination_restarts_total", reason="exit", **target) == 1.0
    assert value(after, "talkcast_destination_restarts_total", reason="stall", **target) == 0.0
    sent_before = value(before, "talkcast_destination_sent_bytes_total", **target) or 0
    assert 0 < sent_before < (value(after, "talkcast_destination_sent_bytes_total", **target) or 0)
    assert 50_000 < (value(before, "talkcast_destination_bitrate_bits_per_second", **target) or 0) < 2_000_000
    assert 0 <= (value(before, "talkcast_destination_last_data_age_seconds", **target) or 99) < 2
    assert value(before, "talkcast_ingest_publishing") == 1.0
    assert 100_000 < (value(before, "talkcast_ingest_bitrate_bits_per_second") or 0) < 2_000_000
    assert value(before, "talkcast_programme_analysed") == 1.0
    assert (value(before, "talkcast_programme_clipped_samples_total") or 0) > 1000
    assert (value(after, "talkcast_programme_clipped_samples_total") or 0) > (
        value(before, "talkcast_programme_clipped_samples_total") or 0
    )
    assert (value(before, "talkcast_programme_peak_dbfs") or -99) > -0.5
    assert -15 < (value(before, "talkcast_programme_loudness_momentary_lufs") or -99) < 0  # a clipped, loud tone
    assert value(before, "talkcast_programme_silence_seconds") == 0.0
    assert value(before, "talkcast_info", event="metrics test", schedule_room="", version="0.1.0") == 1.0
    for page in (before, after):
        assert KEY not in page and "rtmp://" not in page


@contextlib.asynccontextmanager
async def running(cfg: Config, talks: tuple[Talk, ...] = LATER) -> AsyncIterator[Session]:
    ready: asyncio.Future[Session] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(live(cfg, Schedule(talks), ui=False, handle_signals=False, on_ready=ready.set_result))
    try:
        yield await asyncio.wait_for(asyncio.shield(ready), 10)
    finally:
        ready.result().controller.request_stop() if ready.done() else task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            assert await asyncio.wait_for(task, 10) == 0


def api_config(tmp_path: Path, obs: FakeObs, **monitor: object) -> Config:
    cfg = minimal_config(tmp_path / "out")
    live_cfg = LiveConfig(http_port=0, intro_lead=0.0, token=Secret("metrics-test-token"))
    return dataclasses.replace(cfg, obs=fake_obs_config(obs), live=live_cfg, monitor=MonitorConfig(**monitor))  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_metrics_are_readable_without_the_token_and_show_obs_and_the_schedule(fake_obs, tmp_path) -> None:
    cfg = api_config(tmp_path, fake_obs)
    talk = Talk(id="kafka", title="Kafka", start=now() + timedelta(seconds=0.3), duration=timedelta(seconds=60))
    async with running(cfg, (talk,)) as session, aiohttp.ClientSession() as http:
        ctl = session.controller
        await until("the talk's switch to be confirmed", lambda: len(ctl.lateness) == 1, 5)
        await until("GetStats", lambda: ctl.health.stats is not None, 5)
        async with http.get(f"{session.api.url}/metrics") as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            page = await r.text()
    assert value(page, "talkcast_obs_connected") == 1.0
    assert value(page, "talkcast_talk_on_air") == 1.0
    assert value(page, "talkcast_current_talk_info", talk="kafka", title="Kafka") == 1.0
    assert value(page, "talkcast_scene_switch_lateness_seconds_count") == 1.0
    assert value(page, "talkcast_obs_recording_active") == 1.0
    assert value(page, "talkcast_journal_write_errors_total") == 0.0
    assert value(page, "talkcast_schedule_slip_seconds") is not None
    assert value(page, "process_cpu_seconds_total") is not None  # talkcast's own
    assert value(page, "talkcast_programme_analysed") is None  # no destinations: no relay, no analyser
    assert "metrics-test-token" not in page


@pytest.mark.asyncio
async def test_metrics_can_require_the_token_or_be_turned_off(fake_obs, tmp_path) -> None:
    cfg = api_config(tmp_path / "a", fake_obs, metrics_token=True)
    async with running(cfg) as session, aiohttp.ClientSession() as http:
        url = f"{session.api.url}/metrics"
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            async with http.get(url, headers=headers) as r:
                assert r.status == 401
        async with http.get(url, headers={"Authorization": "Bearer metrics-test-token"}) as r:
            assert r.status == 200 and "talkcast_info" in await r.text()
    cfg = api_config(tmp_path / "b", fake_obs, metrics=False)
    async with running(cfg) as session, aiohttp.ClientSession() as http, http.get(f"{session.api.url}/metrics") as r:
        assert r.status == 404


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("silence_after = -1", "monitor.silence_after: must not be negative (0 turns the check off)"),
        ("silense_after = 20", "monitor.silense_after: unknown key (did you mean 'silence_after'?)"),
        ("freeze_noise = 2", "monitor.freeze_noise: must be between 0 and 1, got 2"),
        ("clip_level = 1.5", "monitor.clip_level: a level in dBFS is 0 or below, got 1.5"),
        ("quiet_below = -60", "monitor.quiet_below: expected silence_below < quiet_below < loud_above"),
        ("youtube_quota = 0", "monitor.youtube_quota: must be at least 1 unit"),
        ('metrics = "yes"', "monitor.metrics: expected true or false, got a string"),
    ],
)
def test_a_bad_monitor_setting_is_one_line_naming_the_file_and_key(tmp_path: Path, line: str, error: str) -> None:
    path = tmp_path / "event.toml"
    path.write_text(f'[event]\nname = "x"\noutput_dir = "out"\n[monitor]\n{line}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert str(info.value) == f"event.toml: {error}"
