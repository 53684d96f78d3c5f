"""Recording consent: talks the export marks "do not record" are never planned or cut."""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from talkcast.config import load_config
from talkcast.cuts import Span, TalkCut, read_cuts, write_cuts
from talkcast.errors import ConfigError
from talkcast.journal import JournalWriter, Kind
from talkcast.media import tool
from talkcast.recorder.plan import run_plan
from talkcast.schedule import load_schedule
from talkcast.state import StateStore

FIXTURES = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures" / "schedules"
DEMOCON = FIXTURES / "democon-schedule.json"
NOT_RECORDED = "democon-2901-open-source-executive-info-mediaries"  # 10:00 in the Magenta Room
RECORDED = "democon-2905-integrated-asymmetric-neural-net"  # 10:30 in the Magenta Room
MAGENTA_OPT_OUTS = {NOT_RECORDED, "democon-2933-open-architected-interactive-circuit",
                    "democon-2908-profound-bi-directional-productivity"}  # fmt: skip

pytestmark = pytest.mark.skipif(not DEMOCON.is_file(), reason="shared fixtures not present")


def _event(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "schedule.json").write_bytes(DEMOCON.read_bytes())
    (tmp_path / "event.toml").write_text(
        '[event]\nname = "DemoCon"\noutput_dir = "out"\ntimezone = "Europe/Berlin"\n'
        '[schedule]\nfile = "schedule.json"\nroom = "Magenta Room"\n[recording]\ndir = "recordings"\n' + extra,
        encoding="utf-8",
    )
    return tmp_path / "event.toml"


def test_the_export_s_do_not_record_reaches_the_talks(tmp_path: Path) -> None:
    schedule = load_schedule(load_config(_event(tmp_path), environ={}))
    refused = {t.id: t.no_record_reason for t in schedule.talks if not t.record}
    assert set(refused) == MAGENTA_OPT_OUTS
    assert refused[NOT_RECORDED] == "do_not_record in the pretalx export"
    assert schedule.get(RECORDED) is not None and schedule.get(RECORDED).record  # type: ignore[union-attr]


def test_an_override_records_a_talk_anyway_and_can_refuse_one(tmp_path: Path) -> None:
    extra = f'[talk_overrides."{NOT_RECORDED}"]\nrecord = true\n[talk_overrides."{RECORDED}"]\nrecord = false\n'
    extra += '[talk_overrides."no-such-talk"]\nrecord = true\n'
    schedule = load_schedule(load_config(_event(tmp_path, extra), environ={}))
    assert schedule.get(NOT_RECORDED).record  # type: ignore[union-attr]
    refused = schedule.get(RECORDED)
    assert refused is not None and not refused.record and refused.no_record_reason == "record = false in event.toml"
    assert "event.toml: talk_overrides.no-such-talk: no such talk in the schedule" in schedule.warnings


def test_an_override_key_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_event(tmp_path, f'[talk_overrides."{RECORDED}"]\nrecrod = true\n'), environ={})
    assert str(info.value) == f"event.toml: talk_overrides.{RECORDED}.recrod: unknown key (did you mean 'record'?)"


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[Path, Path]:
    """A 10 s recording in which the journal marks a refused talk and a recorded one."""
    folder = tmp_path / "recordings"
    folder.mkdir()
    video = folder / "2020-04-17 10-00-00.mkv"
    subprocess.run(
        [tool("ffmpeg"), "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=64x36:r=5:d=10",
         "-c:v", "libx264", "-preset", "ultrafast", str(video)],
        check=True,
    )  # fmt: skip
    out = tmp_path / "out"
    with JournalWriter(out / "journal.jsonl") as journal:
        at = datetime(2020, 4, 17, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
        journal.record(Kind.RECORDING_STARTED, at=at, file=str(video), offset=0.0)
        journal.record(Kind.TALK_START, talk=NOT_RECORDED, file=str(video), offset=1.0)
        journal.record(Kind.TALK_END, talk=NOT_RECORDED, file=str(video), offset=3.0)
        journal.record(Kind.TALK_START, talk=RECORDED, file=str(video), offset=4.0)
        journal.record(Kind.TALK_END, talk=RECORDED, file=str(video), offset=8.0)
    return tmp_path, video


def test_plan_skips_talks_without_consent(recorded: tuple[Path, Path]) -> None:
    tmp_path, _ = recorded
    cfg = load_config(_event(tmp_path), environ={})
    with StateStore(cfg.output_dir / "state.db") as store:
        report = run_plan(cfg, load_schedule(cfg), store)
    cuts = read_cuts(cfg.output_dir / "cuts.toml")
    assert [t.id for t in cuts.talks] == [RECORDED]
    assert not MAGENTA_OPT_OUTS & {t.id for t in cuts.talks}
    assert f"{NOT_RECORDED}: skipped, not recorded (do_not_record in the pretalx export)" in report.summary
    assert {line.split(":")[0] for line in report.skipped} == MAGENTA_OPT_OUTS
    assert not any(NOT_RECORDED in w for w in report.warnings)


def test_plan_removes_a_refused_talk_an_older_plan_wrote(recorded: tuple[Path, Path]) -> None:
    tmp_path, video = recorded
    cfg = load_config(_event(tmp_path), environ={})
    path = cfg.output_dir / "cuts.toml"
    write_cuts(path, [TalkCut(NOT_RECORDED, "Old", (Span(video, 1.0, 3.0),), origin="journal")])
    with StateStore(cfg.output_dir / "state.db") as store:
        report = run_plan(cfg, load_schedule(cfg), store)
    assert [t.id for t in read_cuts(path).talks] == [RECORDED]
    assert (
        f"{NOT_RECORDED}: removed from cuts.toml, not to be recorded (do_not_record in the pretalx export)"
        in report.summary
    )


def test_an_organiser_s_override_keeps_the_talk(recorded: tuple[Path, Path]) -> None:
    tmp_path, video = recorded
    cfg = load_config(_event(tmp_path, f'[talk_overrides."{NOT_RECORDED}"]\nrecord = true\n'), environ={})
    path = cfg.output_dir / "cuts.toml"
    write_cuts(path, [TalkCut(NOT_RECORDED, "Old", (Span(video, 1.0, 3.0),), origin="journal")])
    with StateStore(cfg.output_dir / "state.db") as store:
        report = run_plan(cfg, load_schedule(cfg), store)
    cuts = read_cuts(path)
    assert [t.id for t in cuts.talks] == [NOT_RECORDED, RECORDED]
    assert cuts.get(NOT_RECORDED).spans == (Span(video, 1.0, 3.0),)  # type: ignore[union-attr]
    assert not any(line.startswith(NOT_RECORDED) for line in report.skipped)
