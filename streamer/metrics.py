"""Prometheus metrics of ``talkcast live``, served at ``/metrics`` on the live API.

``LiveMetrics`` is a collector: each scrape reads the figures where their owners keep
them (the controller and its OBS health, the relay's supervisors and ingest, the
programme analyser, the YouTube watch) and builds the metric families then. Nothing
is copied between scrapes, so a value is as fresh as its owner's last reading, and a
scrape costs well under a millisecond of CPU (``benchmarks/bench_metrics.py``).

A figure that is not known yet (OBS not connected, no programme) is left out rather
than reported as 0. Labels never carry a secret: destinations appear by their configured
name, never by URL. The metric names are listed in the README ("Metrics and alerts");
``configs/prometheus/`` and ``configs/grafana/`` use them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from talkcast import __version__
from talkcast.config import Config
from talkcast.streamer.analyser import ProgrammeAnalyser
from talkcast.streamer.controller import Controller
from talkcast.streamer.observe import Observers, talk_on_air
from talkcast.streamer.signal import CHECKS, LOUDNESS_FLOOR, dbfs
from talkcast.streamer.supervisor import Health, State
from talkcast.streamer.youtube_health import HEALTH_STATES, STREAM_STATES, YouTubeWatch

if TYPE_CHECKING:  # the relay is imported only when there is somewhere to stream to
    from talkcast.streamer.relay import Relay

Metric = GaugeMetricFamily | CounterMetricFamily | HistogramMetricFamily

# Scene-switch lateness: OBS's confirmation minus the scheduled instant (negative: early).
LATENESS_BUCKETS = (-1.0, -0.5, -0.25, -0.1, -0.05, 0.0, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
PEAK_FLOOR = -100.0  # dBFS shown for digital silence


def histogram(samples: Sequence[float], bounds: Sequence[float]) -> tuple[list[tuple[str, float]], float]:
    """Cumulative ``(le, count)`` buckets, ending with ``+Inf``, and the sum of ``samples``."""
    buckets = [(_le(b), float(sum(1 for s in samples if s <= b))) for b in bounds]
    buckets.append(("+Inf", float(len(samples))))
    return buckets, float(sum(samples))


def _le(bound: float) -> str:
    return repr(float(bound))


def recording_left_seconds(disk_free_bytes: float, recorded_bytes: int, recorded_seconds: float) -> float | None:
    """Seconds of recording the free disk holds at the current file's average bitrate (None: unknown)."""
    if recorded_bytes <= 0 or recorded_seconds < 1.0:
        return None
    return disk_free_bytes / (recorded_bytes / recorded_seconds)


def _gauge(name: str, doc: str, value: float, labels: dict[str, str] | None = None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=list(labels or {}))
    family.add_metric(list((labels or {}).values()), value)
    return family


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc)
    family.add_metric([], value)
    return family


class LiveMetrics:
    """The collector behind ``/metrics``; ``exposition()`` is the page."""

    def __init__(
        self, cfg: Config, controller: Controller, *, relay: Relay | None = None, observers: Observers | None = None
    ) -> None:
        self.cfg = cfg
        self.controller = controller
        self.relay = relay
        self.observers = observers
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collect(self))
        ProcessCollector(registry=self.registry)  # talkcast's own CPU, memory and open files

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)

    def collect(self) -> Iterator[Metric]:
        """Every family, read now."""
        yield self._info()
        yield from controller_metrics(self.controller)
        yield from obs_metrics(self.controller)
        if self.relay is not None:
            yield from relay_metrics(self.relay)
            if self.relay.analyser is not None:
                yield from programme_metrics(self.relay.analyser)
        if self.observers is not None:
            yield _warning_family("talkcast_programme_warning", CHECKS, self.observers.programme_board.active)
            if self.observers.youtube is not None:
                yield from youtube_metrics(self.observers.youtube)

    def _info(self) -> GaugeMetricFamily:
        # Not "room": the scrape job gives each target its `room` label (README), which the
        # dashboard and the alerts use; an exposed label of that name would be renamed.
        labels = {"event": self.cfg.event.name, "schedule_room": self.cfg.schedule.room or "", "version": __version__}
        return _gauge("talkcast_info", "The event and schedule room this talkcast live runs; always 1.", 1.0, labels)


class _Collect(Collector):
    def __init__(self, metrics: LiveMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return list(self.metrics.collect())


def controller_metrics(controller: Controller) -> Iterator[Metric]:
    """The schedule, the talk on air, scene-switch lateness, the OBS connection, the journal."""
    state = controller.obs_state
    connected = float(state.state == "connected")
    yield _gauge("talkcast_obs_connected", "1 while the obs-websocket connection is up.", connected)
    yield _counter("talkcast_obs_reconnects", "Times OBS came back after the connection was lost.", state.reconnects)
    slip = controller.clock.shift.total_seconds()
    yield _gauge("talkcast_schedule_slip_seconds", "How late the evening runs against the schedule.", slip)
    on_air = float(talk_on_air(controller) is not None)
    yield _gauge("talkcast_talk_on_air", "1 while a recorded talk's talk or Q&A scene is on air.", on_air)
    talk = controller.clock.current
    doc = "The talk on air (1), by id and title."
    info = GaugeMetricFamily("talkcast_current_talk_info", doc, labels=["talk", "title"])
    if talk is not None:
        info.add_metric([talk.id, talk.title], 1.0)
    yield info
    buckets, total = histogram(list(controller.lateness), LATENESS_BUCKETS)
    late = HistogramMetricFamily(
        "talkcast_scene_switch_lateness_seconds",
        "Scheduled scene switches: OBS's confirmation minus the scheduled instant (negative: early).",
    )
    late.add_metric([], buckets, total)
    # With negative bounds the client leaves out _sum (no longer a counter) and _count with
    # it; the count still is one, and dashboards want it.
    late.samples.append(Sample(f"{late.name}_count", {}, buckets[-1][1]))
    yield late
    errors = controller.journal.write_errors
    yield _counter("talkcast_journal_write_errors", "Journal writes that failed (a full or broken disk).", errors)


def obs_metrics(controller: Controller) -> Iterator[Metric]:
    """OBS's own figures (GetStats, recording and stream status), once it has answered."""
    stats = controller.health.stats
    if stats is not None:
        yield _gauge("talkcast_obs_active_fps", "Frames per second OBS renders.", stats.fps)
        yield _counter("talkcast_obs_render_frames", "Frames OBS rendered.", stats.render_total)
        skipped = stats.render_skipped
        yield _counter("talkcast_obs_render_skipped_frames", "Frames OBS skipped while rendering.", skipped)
        yield _counter("talkcast_obs_output_frames", "Frames OBS's outputs encoded.", stats.output_total)
        yield _counter("talkcast_obs_output_skipped_frames", "Frames OBS's encoder skipped.", stats.output_skipped)
        yield _gauge("talkcast_obs_cpu_usage_ratio", "OBS's CPU use (1.0 is one core).", stats.cpu / 100)
        yield _gauge("talkcast_obs_memory_bytes", "OBS's memory use.", stats.memory_mb * 1024 * 1024)
        disk = stats.disk_free_mb * 1024 * 1024
        yield _gauge("talkcast_obs_disk_free_bytes", "Free disk space where OBS records.", disk)
    rec = controller.recording.status
    if rec is not None:
        yield _gauge("talkcast_obs_recording_active", "1 while OBS records.", float(rec.active))
        yield _gauge("talkcast_obs_recording_paused", "1 while OBS's recording is paused.", float(rec.paused))
        yield _gauge("talkcast_obs_recording_bytes", "Size of the file OBS records to.", rec.bytes)
        yield _gauge("talkcast_obs_recording_duration_seconds", "Length of the file OBS records to.", rec.duration)
        left = recording_left_seconds(disk, rec.bytes, rec.duration) if stats is not None and rec.active else None
        if left is not None:
            doc = "Recording time the free disk holds at the current file's bitrate."
            yield _gauge("talkcast_obs_recording_left_seconds", doc, left)
    stream = controller.health.stream_status
    if stream is not None:
        yield _gauge("talkcast_obs_streaming_active", "1 while OBS streams to the relay.", float(stream.active))
        again = float(stream.reconnecting)
        yield _gauge("talkcast_obs_stream_reconnecting", "1 while OBS reconnects its stream.", again)


def relay_metrics(relay: Relay) -> Iterator[Metric]:
    """One set per pusher (and the safety recording), and the ingest OBS publishes to."""
    rows: list[Health] = [s.health for s in relay.supervisors]
    labels = ["destination", "kind"]
    now = time.monotonic()
    up = GaugeMetricFamily("talkcast_destination_up", "1 while video frames go out to the target.", labels=labels)
    state = GaugeMetricFamily(
        "talkcast_destination_state", "The target's state (1 for the current one).", labels=[*labels, "state"]
    )
    sent = CounterMetricFamily("talkcast_destination_sent_bytes", "Bytes written to the target.", labels=labels)
    rate = GaugeMetricFamily(
        "talkcast_destination_bitrate_bits_per_second", "What goes out now, over 3 s.", labels=labels
    )
    restarts = CounterMetricFamily(
        "talkcast_destination_restarts", "Restarts of the target's ffmpeg, by reason.", labels=[*labels, "reason"]
    )
    age = GaugeMetricFamily(
        "talkcast_destination_last_data_age_seconds", "Seconds since the last video frame went out.", labels=labels
    )
    stalls = CounterMetricFamily(
        "talkcast_destination_watchdog_stalls", "Runs the stall watchdog killed.", labels=labels
    )
    for h in rows:
        key = [h.name, h.kind]
        up.add_metric(key, float(h.state == State.LIVE))
        for s in State:
            state.add_metric([*key, s.value], float(h.state == s))
        sent.add_metric(key, h.sent_bytes)
        rate.add_metric(key, h.bitrate_kbps * 1000)
        for reason in ("exit", "stall", "start", "programme"):
            restarts.add_metric([*key, reason], h.restart_causes.get(reason, 0))
        if h.last_data is not None:
            age.add_metric(key, now - h.last_data)
        stalls.add_metric(key, h.stalls)
    yield from (up, state, sent, rate, restarts, age, stalls)
    yield from ingest_metrics(relay)


def ingest_metrics(relay: Relay) -> Iterator[Metric]:
    """OBS's stream as the local ingest receives it."""
    live = float(relay.programme_live)
    yield _gauge("talkcast_ingest_publishing", "1 while OBS publishes the programme to the ingest.", live)
    rate = relay.ingest_bitrate
    yield _gauge("talkcast_ingest_bitrate_bits_per_second", "OBS's stream into the ingest, over 3 s.", rate)
    received = float(relay.ingest_bytes)
    yield _gauge("talkcast_ingest_received_bytes", "Bytes of OBS's current stream session.", received)
    interval = relay.ingest_keyframe_interval
    if interval:
        doc = "Longest distance between keyframes in OBS's stream (measured when it arrives)."
        yield _gauge("talkcast_ingest_keyframe_interval_seconds", doc, interval)


def programme_metrics(analyser: ProgrammeAnalyser) -> Iterator[Metric]:
    """The programme's loudness, silence, clipping and still picture, while it is analysed."""
    s = analyser.state
    fresh = analyser.fresh
    yield _gauge("talkcast_programme_analysed", "1 while the programme's sound and picture are measured.", float(fresh))
    yield _counter("talkcast_programme_clipped_samples", "Samples at or above monitor.clip_level.", s.clipped_total)
    yield _counter("talkcast_programme_analyser_restarts", "Restarts of the programme analyser.", analyser.restarts)
    if not fresh:
        return
    for name, value in (("momentary", s.momentary), ("shortterm", s.short_term)):
        if value is not None:
            doc = f"The programme's {name} loudness in LUFS ({LOUDNESS_FLOOR:g}: silence)."
            yield _gauge(f"talkcast_programme_loudness_{name}_lufs", doc, value)
    yield _gauge("talkcast_programme_silence_seconds", "How long the programme has been silent.", s.silence_seconds)
    peak = max(dbfs(s.recent_peak), PEAK_FLOOR)
    yield _gauge("talkcast_programme_peak_dbfs", "Highest sample of the last 5 s, in dBFS.", peak)
    if s.picture_t is not None:
        doc = "Seconds since the programme's picture last changed (measured at keyframes)."
        yield _gauge("talkcast_programme_picture_unchanged_seconds", doc, s.still_seconds)


def _warning_family(name: str, checks: Iterable[str], active: dict[str, str]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, "1 while the warning of this check is raised.", labels=["check"])
    for check in sorted(set(checks) | set(active)):
        family.add_metric([check], float(check in active))
    return family


def youtube_metrics(watch: YouTubeWatch) -> Iterator[Metric]:
    """YouTube's view of the stream (liveStreams.list) and the polling itself."""
    yield _counter("talkcast_youtube_polls", "liveStreams.list calls made.", watch.polls)
    yield _counter("talkcast_youtube_poll_errors", "Polls that failed (network, token, quota).", watch.errors)
    yield _gauge("talkcast_youtube_poll_interval_seconds", "Seconds between polls (quota-aware).", watch.interval)
    yield _gauge("talkcast_youtube_quota_units_spent", "Quota units the polling has spent.", watch.units)
    if watch.last_success is not None:
        stamp = watch.last_success.timestamp()
        yield _gauge("talkcast_youtube_last_success_timestamp_seconds", "When YouTube last answered.", stamp)
    yield _warning_family("talkcast_youtube_warning", (), watch.board.active)
    health = watch.health
    if health is None:
        return
    for name, states, value in (
        ("talkcast_youtube_stream_health", HEALTH_STATES, health.health),
        ("talkcast_youtube_stream_status", STREAM_STATES, health.stream_status),
    ):
        family = GaugeMetricFamily(name, "YouTube's status of the stream (1 for the current one).", labels=["status"])
        for s in sorted(set(states) | ({value} if value else set())):
            family.add_metric([s], float(s == value))
        yield family
    issues = GaugeMetricFamily(
        "talkcast_youtube_configuration_issue", "YouTube's configurationIssues (1 each).", labels=["type", "severity"]
    )
    for issue in health.issues:
        issues.add_metric([issue.type, issue.severity], 1.0)
    yield issues
