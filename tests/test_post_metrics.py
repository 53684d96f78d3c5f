"""``talkcast post`` leaves its stage timings and outcomes beside the manifest, for node_exporter."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from talkcast.app.demo import DEMO_EVENT
from talkcast.app.post_metrics import TEXTFILE, RunTimes, post_registry
from talkcast.app.report import RunReport, TalkStatus
from talkcast.cuts import Span, TalkCut
from tests.support.event import copy_event
from tests.test_metrics import value


def talk(talk_id: str) -> TalkCut:
    return TalkCut(id=talk_id, title=talk_id, spans=(Span(Path("/r.mkv"), 0.0, 1.0),))


def test_the_registry_holds_each_stages_time_outcomes_and_the_runs_result() -> None:
    report = RunReport(
        talks=[
            TalkStatus(
                talk("a"), stages={"cut": "done", "transcribe": "review"}, seconds={"cut": 2.5, "transcribe": 9.0}
            ),
            TalkStatus(talk("b"), stages={"cut": "failed", "transcribe": "-"}, seconds={"cut": 0.4}),
        ],
        work_done=[("a", "cut"), ("a", "transcribe")],
    )
    times = RunTimes(started=1000.0, ended=1012.5, finished=True, stages={"plan": 0.2, "cut": 3.0})
    page = generate_latest(post_registry("SRE #12", report, times)).decode()
    ev = {"event": "SRE #12"}
    assert value(page, "talkcast_post_last_run_timestamp_seconds", **ev) == 1012.5
    assert value(page, "talkcast_post_last_run_duration_seconds", **ev) == 12.5
    assert value(page, "talkcast_post_last_run_success", **ev) == 0.0  # talk b's cut failed
    assert value(page, "talkcast_post_stage_duration_seconds", stage="cut", **ev) == 3.0
    assert value(page, "talkcast_post_stage_work", stage="cut", **ev) == 1.0
    assert value(page, "talkcast_post_stage_work", stage="publish", **ev) == 0.0
    assert value(page, "talkcast_post_talks", stage="cut", status="done", **ev) == 1.0
    assert value(page, "talkcast_post_talks", stage="cut", status="failed", **ev) == 1.0
    assert value(page, "talkcast_post_talks", stage="transcribe", status="none", **ev) == 1.0
    assert value(page, "talkcast_post_talk_stage_seconds", talk="a", stage="transcribe", **ev) == 9.0


def test_post_writes_the_textfile_beside_the_manifest_and_node_exporter_can_read_it(demo_event, tmp_path) -> None:
    event = copy_event(demo_event, tmp_path / "event")
    out = event.parent / "out"
    cmd = [sys.executable, "-m", "talkcast.app.cli", "-c", str(event), "--plain", "post", "--until", "cut"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    path = out / TEXTFILE
    assert path.parent == (out / "manifest.json").parent and (out / "manifest.json").is_file()
    page = path.read_text(encoding="utf-8")
    families = {f.name for f in text_string_to_metric_families(page)}
    assert "talkcast_post_stage_duration_seconds" in families
    talks = [
        s
        for f in text_string_to_metric_families(page)
        if f.name == "talkcast_post_talks"
        for s in f.samples
        if s.labels["stage"] == "cut"
    ]
    assert sum(s.value for s in talks if s.labels["status"] == "done") == 3, talks
    for stage in ("plan", "cut", "archive"):
        spans = [
            s.value
            for f in text_string_to_metric_families(page)
            if f.name == "talkcast_post_stage_duration_seconds"
            for s in f.samples
            if s.labels["stage"] == stage
        ]
        assert len(spans) == 1 and spans[0] > 0, (stage, spans)
    assert all(s.labels["event"] == DEMO_EVENT for f in text_string_to_metric_families(page) for s in f.samples)
    assert value(page, "talkcast_post_last_run_success", event=DEMO_EVENT) == 1.0
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (Debian's prometheus) is not installed")
    check = subprocess.run([promtool, "check", "metrics"], input=page, capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
