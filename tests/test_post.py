"""`talkcast post` end to end on a generated evening: outputs, resumability, edits, kills, Dask."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jiwer
import pytest

from talkcast.app import pipeline
from talkcast.app.demo import DEMO_TALKS
from talkcast.app.progress import PlainDisplay
from talkcast.archive.build import build_archive
from talkcast.config import load_config
from talkcast.media import decode_errors, probe
from tests.support.event import copy_event

pytestmark = pytest.mark.whisper

STAGES = ("plan", "cut", "transcribe")


@pytest.fixture
def event(demo_event: Path, tmp_path: Path) -> Path:
    return copy_event(demo_event, tmp_path / "event")


def post(config: Path, **options: object) -> pipeline.RunReport:
    cfg = load_config(config)
    settings: dict[str, object] = {"stages": STAGES, "workers": 2, **options}
    return pipeline.run(cfg, pipeline.Options(**settings), PlainDisplay())  # type: ignore[arg-type]


def outputs(out: Path) -> dict[str, float]:
    """Every artefact under talks/ with its modification time."""
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in sorted((out / "talks").rglob("*")) if p.is_file()}


def digests(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((out / "talks").rglob("*"))
        if p.is_file()
    }


def normalise(text: str) -> str:
    return jiwer.RemovePunctuation()(text.lower()).replace("-", " ")


def test_post_makes_every_artefact_and_a_second_run_does_nothing(event: Path) -> None:
    out = event.parent / "out"
    # The journal names the recording where OBS wrote it, on another machine; plan finds it here.
    assert "/home/volunteer/obs-machine/videos/" in (out / "journal.jsonl").read_text()
    report = post(event)
    assert not report.failed, [t.errors for t in report.talks]
    manifest = json.loads((out / "manifest.json").read_text())
    for talk in DEMO_TALKS:
        folder = out / "talks" / talk.id
        for name in ("talk.mp4", "talk.en.srt", "talk.en.vtt", "transcript.txt"):
            assert (folder / name).is_file(), f"{talk.id}: {name} missing"
        info = probe(folder / "talk.mp4")
        assert info.video is not None and info.video.codec_name == "h264"
        assert info.audio is not None and info.audio.codec_name == "aac"
        assert decode_errors(folder / "talk.mp4") == ""
        artefacts = manifest["talks"][talk.id]["artefacts"]
        assert artefacts["video"] == f"talks/{talk.id}/talk.mp4"
        assert any(path.endswith("talk.en.vtt") for path in artefacts.values())
        # The transcript says what espeak-ng said.
        heard = normalise((folder / "transcript.txt").read_text())
        error_rate = jiwer.wer(normalise(talk.text), heard)
        assert error_rate < 0.25, f"{talk.id}: WER {error_rate:.2f}: {heard!r}"

    # The archive page lists every talk, with its captions inlined for file:// viewing.
    index = build_archive(load_config(event))
    assert index == out / "site" / "index.html"
    for talk in DEMO_TALKS:
        assert talk.title in index.read_text()
        page = (out / "site" / "talks" / f"{talk.id}.html").read_text()
        assert "WEBVTT" in page
        assert "talks/" + talk.id + "/talk.mp4" in page

    before = outputs(out)
    again = post(event)
    assert again.work_done == []
    assert outputs(out) == before
    # Tuning how fast it runs is not a reason to redo anything.
    event.write_text(event.read_text().replace("[transcribe]\n", "[transcribe]\nthreads = 1\n"))
    assert post(event).work_done == []
    db = sqlite3.connect(out / "state.db")
    statuses = db.execute("SELECT DISTINCT status FROM stages").fetchall()
    assert {s for (s,) in statuses} <= {"done", "review"}

    # A talk the organiser takes out of cuts.toml (or whose speaker withdrew consent)
    # leaves the archive page, though state.db still remembers it.
    gone = DEMO_TALKS[-1]
    blocks = (out / "cuts.toml").read_text().split("[[talk]]")
    (out / "cuts.toml").write_text("[[talk]]".join(b for b in blocks if f'id = "{gone.id}"' not in b))
    index = build_archive(load_config(event))
    assert index is not None and gone.title not in index.read_text()
    assert not (out / "site" / "talks" / f"{gone.id}.html").exists()
    assert all(t.title in index.read_text() for t in DEMO_TALKS[:-1])


def test_editing_one_cut_redoes_only_that_talk(event: Path) -> None:
    out = event.parent / "out"
    assert not post(event).failed
    before = outputs(out)
    cuts = out / "cuts.toml"
    text = cuts.read_text()
    kafka = text.index('id = "kafka-balancing"')
    end_at = text.index("end = ", kafka)
    line_end = text.index("\n", end_at)
    cuts.write_text(text[:end_at] + 'end = "00:00:30.000"' + text[line_end:])

    report = post(event)
    assert sorted(report.work_done) == [("kafka-balancing", "cut"), ("kafka-balancing", "transcribe")]
    after = outputs(out)
    for name, mtime in before.items():
        changed = after[name] != mtime
        assert changed == name.startswith("talks/kafka-balancing/"), name
    assert probe(out / "talks" / "kafka-balancing" / "talk.mp4").duration < 30.5


def test_a_talk_with_a_bad_cut_fails_alone_and_keeps_what_it_had(event: Path) -> None:
    out = event.parent / "out"
    assert not post(event, stages=("plan", "cut")).failed
    good = (out / "talks" / "panel-on-call" / "talk.mp4").read_bytes()
    cuts = out / "cuts.toml"
    text = cuts.read_text()
    start = text.index('id = "panel-on-call"')
    end_at = text.index("end = ", start)
    cuts.write_text(text[:end_at] + 'end = "05:00:00"' + text[text.index("\n", end_at) :])
    report = post(event, stages=("cut", "transcribe"))
    by_id = {t.talk.id: t for t in report.talks}
    assert by_id["panel-on-call"].stages["cut"] == "failed"
    assert "panel-on-call" in by_id["panel-on-call"].errors[0]
    assert by_id["kafka-balancing"].stages["transcribe"] in ("done", "review")
    # The earlier good cut is neither overwritten nor dropped from the manifest.
    assert (out / "talks" / "panel-on-call" / "talk.mp4").read_bytes() == good
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["talks"]["panel-on-call"]["artefacts"]["video"] == "talks/panel-on-call/talk.mp4"
    assert manifest["talks"]["panel-on-call"]["stages"]["cut"]["status"] == "failed"


def test_killed_post_resumes_without_redoing_finished_stages(event: Path) -> None:
    out = event.parent / "out"
    cmd = [
        sys.executable,
        "-m",
        "talkcast.app.cli",
        "-c",
        str(event),
        "--plain",
        "post",
        "--skip-publish",
        "--workers",
        "1",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # wait for the first finished stage, then kill everything
            if line.rstrip().endswith(")") and " cut done" in line:
                break
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    time.sleep(0.2)
    db = sqlite3.connect(out / "state.db")
    finished = {(t, s): u for t, s, u in db.execute("SELECT talk_id, stage, updated FROM stages WHERE status='done'")}
    db.close()
    assert finished, "the kill came before any stage finished"
    for path in (out / "talks").rglob("talk.mp4"):
        assert decode_errors(path) == "", f"{path} is corrupt"

    report = post(event)
    assert not report.failed
    redone = set(report.work_done)
    assert not redone & set(finished), f"redid finished stages: {redone & set(finished)}"
    for talk in DEMO_TALKS:
        assert (out / "talks" / talk.id / "talk.en.vtt").is_file()


def _talkcast(event: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "talkcast.app.cli", "-c", str(event), "--plain", *args]


def _alive(procs: list) -> list:
    import psutil

    alive = []
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            # An orphan's zombie waits for whoever adopted it to reap it: it runs no more.
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
    return alive


def _wait_for_ffmpeg_under_a_worker(coordinator, timeout: float = 120.0) -> None:
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in coordinator.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                if p.name() == "ffmpeg" and p.ppid() != coordinator.pid:
                    return
        time.sleep(0.02)
    pytest.fail("no pool worker started an ffmpeg")


def test_one_talkcast_per_folder_and_killing_the_coordinator_leaves_no_orphans(event: Path) -> None:
    psutil = pytest.importorskip("psutil")
    out = event.parent / "out"
    cmd = _talkcast(event, "post", "--skip-publish", "--workers", "2")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        coordinator = psutil.Process(proc.pid)
        _wait_for_ffmpeg_under_a_worker(coordinator)
        second = subprocess.run(_talkcast(event, "cut"), capture_output=True, text=True, check=False)
        assert second.returncode == 2
        assert second.stderr == f"talkcast: error: another talkcast (pid {proc.pid}) is working on {out}/\n"

        _wait_for_ffmpeg_under_a_worker(coordinator)
        family = coordinator.children(recursive=True)
        assert any(p.name() == "ffmpeg" for p in _alive(family))
        os.kill(proc.pid, signal.SIGKILL)  # the coordinator alone, not its group
        proc.wait(timeout=10)
        # A worker notices within WATCH_INTERVAL and is gone after at most STOP_GRACE plus
        # half a second (1.4 s); the rest is slack for a loaded 2-core test machine.
        deadline = time.monotonic() + 5.0
        while _alive(family) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [(p.pid, p.name()) for p in _alive(family)]
        assert not left, f"orphans 5 s after the coordinator died: {left}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    # The dead coordinator's lock file is still there, and blocks nobody.
    assert (out / ".talkcast.lock").is_file()
    again = subprocess.run(_talkcast(event, "plan"), capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr


def test_a_web_server_user_can_read_the_site_and_talks_but_not_state(demo_event: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("reading as another user needs root")
    nobody = 65534
    # pytest's own temporary folders are private to root; this one lets others through.
    root = Path(tempfile.mkdtemp(prefix="talkcast-umask-"))
    root.chmod(0o755)
    old = os.umask(0o022)
    try:
        config = copy_event(demo_event, root / "event")
        config.parent.chmod(0o755)  # copied from pytest's private folder, and as private
        assert not post(config).failed
        assert build_archive(load_config(config)) is not None
        os.umask(old)
        out = root / "event" / "out"
        files = [p for folder in ("site", "talks") for p in sorted((out / folder).rglob("*")) if p.is_file()]
        files += [out / "manifest.json", out / "cuts.toml"]
        assert any(p.suffix == ".vtt" for p in files) and any(p.suffix == ".mp4" for p in files)
        assert any(p.suffix == ".jpg" for p in files), "no thumbnail"

        def cat_as_nobody(paths: list[Path]) -> subprocess.CompletedProcess[str]:
            argv = ["cat", *map(str, paths)]
            return subprocess.run(
                argv, user=nobody, group=nobody, extra_groups=[], stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, text=True, check=False,
            )  # fmt: skip

        readable = cat_as_nobody(files)
        assert readable.returncode == 0, readable.stderr
        assert (out / "state.db").stat().st_mode & 0o777 == 0o600
        assert cat_as_nobody([out / "state.db"]).returncode != 0
    finally:
        os.umask(old)
        shutil.rmtree(root, ignore_errors=True)


def test_cluster_mode_gives_identical_outputs(demo_event: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    local = copy_event(demo_event, tmp_path / "local")
    remote = copy_event(demo_event, tmp_path / "cluster")
    assert not post(local).failed
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        report = post(remote, cluster=cluster.scheduler_address)
    assert not report.failed
    assert digests(remote.parent / "out") == digests(local.parent / "out")


def test_edited_cut_redoes_its_upload_against_youtube(event: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from talkcast.publish.pipeline import publish_jobs
    from tests.fakes.youtube_server import YouTubeTestServer

    with YouTubeTestServer() as yt:
        monkeypatch.setenv("HTTPLIB2_CA_CERTS", str(yt.ca_file))
        yt.make_token_file(event.parent / "token.json")
        yt.make_client_secrets(event.parent / "client.json")
        text = event.read_text().replace(
            "[publish]\nenabled = false\n",
            "[publish]\nenabled = true\n[publish.youtube]\n"
            f'api_endpoint = "{yt.api_root}"\ntoken_file = "token.json"\nclient_secrets = "client.json"\n'
            'playlist = "SRE Meetup #12"\nchunk_mib = 1\n',
        )
        event.write_text(text)
        cfg = load_config(event)
        everything = pipeline.Options(stages=(*STAGES, "publish"), workers=2)
        first = pipeline.run(cfg, everything, PlainDisplay(), publisher=publish_jobs)
        assert not first.failed, [t.errors for t in first.talks]
        assert len(yt.videos) == len(DEMO_TALKS)
        old_ids = {t.talk.id: t.url for t in first.talks}

        cuts = cfg.output_dir / "cuts.toml"
        text = cuts.read_text()
        end_at = text.index("end = ", text.index('id = "kafka-balancing"'))
        cuts.write_text(text[:end_at] + 'end = "00:00:30.000"' + text[text.index("\n", end_at) :])
        writes_before = len(yt.write_calls())
        second = pipeline.run(cfg, everything, PlainDisplay(), publisher=publish_jobs)
        assert not second.failed
        assert sorted(second.work_done) == [
            ("kafka-balancing", "cut"),
            ("kafka-balancing", "publish"),
            ("kafka-balancing", "transcribe"),
        ]
        assert len(yt.write_calls()) > writes_before
        urls = {t.talk.id: t.url for t in second.talks}
        assert urls["kafka-balancing"] != old_ids["kafka-balancing"]  # YouTube cannot replace media: a new video
        assert {k: v for k, v in urls.items() if k != "kafka-balancing"} == {
            k: v for k, v in old_ids.items() if k != "kafka-balancing"
        }
        third = pipeline.run(cfg, everything, PlainDisplay(), publisher=publish_jobs)
        assert third.work_done == []
