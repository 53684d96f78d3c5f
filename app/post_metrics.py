"""``talkcast post``'s stage timings and outcomes as a metrics textfile beside the manifest.

``<output_dir>/talkcast_post.prom`` is Prometheus' text format, for node_exporter's
textfile collector (``--collector.textfile.directory``; link the file into that folder).
It is rewritten at the end of every pipeline run, atomically, so the collector never
reads half a file. Every series carries the event's name, so several events' files can
share one collector folder::

    talkcast_post_last_run_timestamp_seconds{event}   when the run ended (Unix time)
    talkcast_post_last_run_duration_seconds{event}    how long it took
    talkcast_post_last_run_success{event}             1: it finished and no talk failed
    talkcast_post_stage_duration_seconds{event,stage} this run: the stage's first start to its last end
    talkcast_post_stage_work{event,stage}             talks the stage worked on this run
    talkcast_post_talks{event,stage,status}           talks by the stage's recorded outcome
    talkcast_post_talk_stage_seconds{event,talk,stage} the last time each talk's stage took
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

from talkcast.app.report import RunReport
from talkcast.stage import TALK_STAGES

log = logging.getLogger(__name__)

TEXTFILE = "talkcast_post.prom"


@dataclass(frozen=True)
class RunTimes:
    """When a run started and ended (Unix time), whether it finished, and each stage's span (seconds)."""

    started: float
    ended: float
    finished: bool
    stages: Mapping[str, float]


def post_registry(event: str, report: RunReport, times: RunTimes) -> CollectorRegistry:
    """The run's metrics (pure: builds a registry, writes nothing)."""
    registry = CollectorRegistry()

    def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(name, doc, ("event", *labels), registry=registry)

    gauge("talkcast_post_last_run_timestamp_seconds", "When the last post run ended.").labels(event).set(times.ended)
    duration = times.ended - times.started
    gauge("talkcast_post_last_run_duration_seconds", "How long the last post run took.").labels(event).set(duration)
    ok = times.finished and not report.failed
    gauge("talkcast_post_last_run_success", "1 when it finished and no talk failed.").labels(event).set(float(ok))
    span = gauge("talkcast_post_stage_duration_seconds", "The stage's first start to last end.", ("stage",))
    for stage, length in times.stages.items():
        span.labels(event, stage).set(length)
    work = gauge("talkcast_post_stage_work", "Talks the stage worked on in the last run.", ("stage",))
    done = Counter(stage for _, stage in report.work_done)
    outcomes = gauge("talkcast_post_talks", "Talks by the stage's recorded outcome.", ("stage", "status"))
    took = gauge("talkcast_post_talk_stage_seconds", "What the talk's stage took, last time.", ("talk", "stage"))
    for stage in TALK_STAGES:
        work.labels(event, stage).set(done.get(stage, 0))
        counts = Counter(_status(t.stages.get(stage, "-")) for t in report.talks)
        for status, n in counts.items():
            outcomes.labels(event, stage, status).set(n)
        for talk in report.talks:
            if talk.seconds.get(stage):
                took.labels(event, talk.talk.id, stage).set(talk.seconds[stage])
    return registry


def _status(text: str) -> str:
    return "none" if text in ("", "-") else str(text)


def write_post_metrics(output_dir: Path, event: str, report: RunReport, times: RunTimes) -> Path | None:
    """Write ``<output_dir>/talkcast_post.prom``; None (and a warning) when it cannot be written."""
    path = output_dir / TEXTFILE
    try:
        write_to_textfile(str(path), post_registry(event, report, times))
    except OSError as err:  # the run's real work is done: never fail it over its metrics
        log.warning("could not write %s: %s", path, err.strerror or err)
        return None
    return path
