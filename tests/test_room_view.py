"""What the control room page shows, from ``/api/state``'s JSON as plain values."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta

import pytest

from talkcast.config import LiveConfig, minimal_config
from talkcast.journal import JournalWriter, now
from talkcast.schedule import Schedule, Talk
from talkcast.streamer.controller import Controller
from talkcast.streamer.room.view import (
    BadAction,
    check_action,
    destination_name,
    plain_suggestion,
    recording_minutes_left,
    span_words,
    view_model,
)

NOW = datetime(2026, 8, 27, 19, 50, tzinfo=UTC)


def dest(name, state, **fields):
    """One row of the relay's status (``Relay.status()``)."""
    kind = "recording" if name == "safety" else "destination"
    return {"name": name, "kind": kind, "state": state, "bitrate_kbps": 0.0, "restarts": 0, "last_error": "", **fields}


def state(**overrides):
    """A ``Snapshot.to_json()`` of a talk on air for 5 minutes of 40, OBS fine, one YouTube destination."""
    base = {
        "event": "SRE Meetup #12",
        "now": NOW.isoformat(),
        "mode": "auto",
        "role": "talk",
        "scene": "Talk",
        "applied_scene": "Talk",
        "shift_s": 0.0,
        "current": {
            "id": "kafka",
            "title": "Balancing Kafka",
            "speakers": ["Vitaly", "Ann"],
            "started": (NOW - timedelta(minutes=5)).isoformat(),
            "ends": (NOW + timedelta(minutes=35)).isoformat(),
            "remaining_s": 2100.0,
            "record": True,
            "no_record_reason": "",
        },
        "next": {
            "id": "sre",
            "title": "SRE at scale",
            "speakers": [],
            "start": (NOW + timedelta(minutes=45)).isoformat(),
            "in_s": 2700.0,
            "record": True,
            "no_record_reason": "",
        },
        "suggestion": None,
        "obs": {"state": "connected", "message": "", "reconnects": 0},
        "recording": {
            "wanted": True,
            "active": True,
            "file": "/videos/2026-08-27 19-00-00.mkv",
            "duration_s": 3000.0,
            "paused": False,
            "bytes": 3000 * 750_000,  # 6 Mbit/s
        },
        "stream": {"active": True, "reconnecting": False},
        "health": {
            "stats": {
                "fps": 30.0,
                "cpu": 12.34,
                "memory_mb": 400.0,
                "disk_free_mb": 45 * 1024.0,
                "render_skipped": 3,
                "render_total": 1000,
                "output_skipped": 0,
                "output_total": 1000,
                "frame_ms": 2.0,
            },
            "warnings": [],
        },
        "destinations": [dest("youtube", "live", bitrate_kbps=6012.4, state_for_s=600.0)],
        "message": "start: now on air: Talk",
        "log": [f"19:4{i} line {i}" for i in range(8)],
        "talks": [
            {"id": "kafka", "title": "Balancing Kafka", "start": NOW.isoformat(), "state": "live"},
            {"id": "sre", "title": "SRE at scale", "start": NOW.isoformat(), "state": "next"},
        ],
    }
    return {**base, **overrides}


def test_a_talk_on_air_with_its_time_against_the_schedule():
    view = view_model(state())
    assert view["scene"] == "Talk" and view["scene_note"] == ""
    cur = view["current"]
    assert cur["title"] == "Balancing Kafka" and cur["speakers"] == "Vitaly, Ann"
    assert (cur["elapsed"], cur["remaining"], cur["remaining_label"]) == ("5:00", "35:00", "Left")
    assert cur["progress"] == 12 and not cur["over"]
    nxt = view["next"]
    assert nxt["countdown"] == "in 45:00" and nxt["title"] == "SRE at scale"
    assert view["mode"] == "auto" and view["mode_toggle"] == "Switch to manual"
    assert view["warnings"] == [] and view["do_not_record"] == ""
    assert len(view["log"]) == 5 and view["log"][-1] == "19:47 line 7"


def test_a_talk_over_its_time_says_so():
    over = {**state()["current"], "remaining_s": -125.0, "ends": (NOW - timedelta(seconds=125)).isoformat()}
    cur = view_model(state(current=over))["current"]
    assert (cur["remaining"], cur["remaining_label"], cur["over"], cur["progress"]) == ("2:05", "Over time", True, 100)


def test_recording_file_duration_and_minutes_left_on_disk():
    rec = view_model(state())["recording"]
    assert rec == {
        "state": "recording",
        "label": "Recording",
        "file": "2026-08-27 19-00-00.mkv",
        "duration": "50:00",
        # 45 GiB at the recording's own 6 Mbit/s
        "space": "about 17 h 53 min",
    }


def test_recording_time_left_uses_a_default_bitrate_until_it_can_measure():
    assert recording_minutes_left(45 * 1024, 3000 * 750_000, 3000) == pytest.approx(1073.7, abs=0.1)
    assert recording_minutes_left(45 * 1024, 1000, 2.0) == pytest.approx(805.3, abs=0.1)  # 8 Mbit/s default
    assert recording_minutes_left(0, 1000, 60) is None and recording_minutes_left(None, None, None) is None


def test_low_disk_space_is_a_warning_in_minutes():
    stats = {**state()["health"]["stats"], "disk_free_mb": 1024.0}
    view = view_model(state(health={"stats": stats, "warnings": ["only 1.0 GiB of disk left for recordings"]}))
    texts = [w["text"] for w in view["warnings"]]
    assert texts == ["only 1.0 GiB of disk left for recordings", "Only about 23 min of recording space left on disk"]


def test_health_figures():
    health = view_model(state())["health"]
    assert health == {
        "fps": "30.0",
        "cpu": "12.3%",
        "render_skipped": "3 of 1000 (0.3%)",
        "output_skipped": "0 of 1000 (0.0%)",
        "disk_free": "45.0 GiB",
    }
    assert view_model(state(health={"stats": None, "warnings": []}))["health"] is None


def test_a_retrying_destination_is_a_warning_in_plain_words():
    refused = "exited with code 1: Connection refused"
    rows = [
        dest("youtube", "live", bitrate_kbps=6012.4, state_for_s=600.0),
        dest("youtube/backup", "retrying", restarts=4, last_error=refused, state_for_s=40.2),
        dest("safety", "failed", restarts=5, state_for_s=3),
    ]
    view = view_model(state(destinations=rows))
    assert [w["text"] for w in view["warnings"]] == [
        "YouTube backup has been retrying for 40 s: exited with code 1: Connection refused",
        "The safety copy has failed 5 times in a row: check its stream key and the platform",
    ]
    primary, backup, _ = view["destinations"]
    assert (primary["name"], primary["state"], primary["bitrate"], primary["for"]) == (
        "YouTube",
        "live",
        "6,012 kbps",
        "for 10 min",
    )
    assert (backup["state"], backup["bitrate"], backup["restarts"]) == ("retrying", "-", "4")


def test_a_warning_keeps_its_key_while_its_numbers_change():
    def keys(seconds):
        row = dest("youtube/backup", "retrying", state_for_s=seconds)
        return [w["key"] for w in view_model(state(destinations=[row]))["warnings"]]

    assert keys(3) == keys(40) == ["dest:youtube/backup:retrying"]
    health = state(health={"stats": None, "warnings": ["OBS skipped 12 of 300 frames while rendering"]})
    again = state(health={"stats": None, "warnings": ["OBS skipped 40 of 301 frames while rendering"]})
    assert view_model(health)["warnings"][0]["key"] == view_model(again)["warnings"][0]["key"]


def test_obs_stream_settings_warning_is_a_warning_not_a_destination():
    row = {"name": "OBS stream", "kind": "ingest", "state": "warning", "last_error": "keyframe interval is 5 s"}
    view = view_model(state(destinations=[row]))
    assert view["destinations"] == []
    assert view["warnings"][0]["text"] == "OBS's stream settings: keyframe interval is 5 s"


def test_obs_away_and_recording_off_are_warnings():
    obs = {"state": "waiting", "message": "OBS at 127.0.0.1:4455 is not reachable", "reconnects": 1}
    view = view_model(state(obs=obs, applied_scene=None))
    assert view["warnings"][0] == {"key": "obs", "text": "OBS is not connected: OBS at 127.0.0.1:4455 is not reachable"}
    assert view["scene_note"] == "not yet seen in OBS"
    stopped = {**state()["recording"], "active": False}
    assert {"key": "recording:off", "text": "OBS is not recording"} in view_model(state(recording=stopped))["warnings"]


def test_do_not_record_is_flagged_and_a_recording_that_goes_on_is_a_warning():
    talk = {**state()["current"], "record": False, "no_record_reason": "speaker opted out"}
    view = view_model(state(current=talk))
    assert view["do_not_record"] == "Do not record: 'Balancing Kafka' (on air now): speaker opted out"
    assert "'Balancing Kafka' must not be recorded, but OBS is still recording" in [w["text"] for w in view["warnings"]]
    paused = {**state()["recording"], "paused": True}
    view = view_model(state(current=talk, recording=paused))
    assert view["recording"]["label"] == "Recording paused" and not view["warnings"]
    nxt = {**state()["next"], "record": False}
    assert view_model(state(next=nxt))["do_not_record"] == "Do not record: 'SRE at scale' (next)"


def test_scene_changed_by_hand_in_obs():
    view = view_model(state(applied_scene="Break"))
    assert (view["scene"], view["scene_note"]) == ("Break", "changed in OBS; the schedule says 'Talk'")


def test_manual_mode_suggestion_names_the_buttons():
    view = view_model(state(mode="manual", suggestion="'Kafka' was due 0:30 ago: press s when it starts"))
    assert view["suggestion"] == "'Kafka' was due 0:30 ago: press “Start talk now” when it starts"
    assert view["mode_toggle"] == "Switch to auto"
    outro = plain_suggestion("all talks are done: press o for the outro")
    assert outro == "all talks are done: press “Outro” for the outro"


def test_undo_shows_only_when_the_snapshot_offers_it():
    assert view_model(state())["undo_available"] is False  # the key may be absent
    assert view_model(state(undo_available=True))["undo_available"] is True
    assert view_model(state(undo_available="yes"))["undo_available"] is False


def test_ending_the_broadcast_is_offered_only_with_one_and_asks_first():
    assert view_model(state())["broadcast"] is False
    row = {"name": "YouTube broadcast", "kind": "broadcast", "state": "live"}
    assert view_model(state(destinations=[row]))["broadcast"] is True
    with pytest.raises(BadAction, match="end-stream needs"):
        check_action("end-stream", b"")
    check_action("end-stream", b'{"confirm": true}')


def test_words():
    words = [span_words(s) for s in (0, 40.9, 60, 3599, 3600, 3900)]
    assert words == ["0 s", "40 s", "1 min", "59 min", "1 h", "1 h 5 min"]
    assert destination_name("youtube/backup") == "YouTube backup"
    assert destination_name("twitch") == "twitch" and destination_name("safety") == "The safety copy"


@pytest.mark.parametrize(
    ("action", "body", "error"),
    [
        ("Start", b"", "an action is a lower-case word"),
        ("../api", b"", "an action is a lower-case word"),
        ("start", b"nope", "the body must be a JSON object"),
        ("start", b"[]", 'the body must be empty or {"confirm": true}'),
        ("start", b'{"mode": "auto"}', 'the body must be empty or {"confirm": true}'),
        ("quit", b"", 'quit needs {"confirm": true}'),
        ("quit", b'{"confirm": "yes"}', 'quit needs {"confirm": true}'),
    ],
)
def test_a_bad_page_action_is_refused_with_one_line(action, body, error):
    with pytest.raises(BadAction, match=rf"^{re.escape(error)}$"):
        check_action(action, body)


def test_good_page_actions_pass():
    check_action("start", b"")
    check_action("undo", b"{}")  # whether the controller knows it is the controller's answer
    check_action("quit", b'{"confirm": true}')


def test_the_view_reads_a_real_snapshot(tmp_path):
    cfg = dataclasses.replace(minimal_config(tmp_path / "out"), live=LiveConfig(mode="manual"))
    talk = Talk(id="a", title="Alpha <script>", start=now() + timedelta(minutes=3), duration=timedelta(minutes=20))
    with JournalWriter(cfg.output_dir / "journal.jsonl") as journal:
        ctl = Controller(cfg, Schedule((talk,)), journal)
        view = view_model(ctl.snapshot().to_json())
    assert view["next"]["title"] == "Alpha <script>"  # escaping is the template's job
    assert view["current"] is None and view["mode"] == "manual"
    assert view["warnings"][0]["key"] == "obs"
    assert view["talks"] == [{"at": view["next"]["at"], "title": "Alpha <script>", "state": "next"}]


def captions(**fields):
    """The ``captions`` part of a snapshot (``CaptionsView``) while a talk is captioned."""
    lines = ["we move the leaders one broker", "at a time"]
    base = {"state": "captioning", "reason": "", "lines": lines, "talk": "kafka", "language": "en", "lag_s": 1.84,
            "dropped_s": 0.0, "dropped_ago_s": None, "cpu_pct": 38.2, "sent": 12}  # fmt: skip
    return {**base, **fields}


def test_live_captions_show_the_lines_going_out_and_how_they_keep_up():
    assert view_model(state())["captions"] is None  # [captions] live is off: no box at all
    view = view_model(state(captions=captions()))["captions"]
    assert view["shown"] and view["label"] == "On the stream"
    assert (view["top"], view["bottom"]) == ("we move the leaders one broker", "at a time")
    assert view["note"] == "1.8 s after the audio, captioner CPU 38%"
    paused = view_model(state(captions=captions(state="paused", reason="break on air", lines=[])))["captions"]
    assert not paused["shown"] and paused["label"] == "Paused: break on air"


def test_live_captions_that_fail_or_fall_behind_are_warnings():
    failed = captions(state="failed", reason="Whisper model 'base' does not know the language 'xx'", lines=[])
    [warning] = view_model(state(captions=failed))["warnings"]
    assert warning["key"] == "captions:failed" and "does not know the language" in warning["text"]
    behind = view_model(state(captions=captions(dropped_s=12.0, dropped_ago_s=5.0)))
    assert [w["key"] for w in behind["warnings"]] == ["captions:dropped"]
    assert "12 s of audio skipped" in behind["captions"]["note"]
    assert view_model(state(captions=captions(dropped_s=12.0, dropped_ago_s=300.0)))["warnings"] == []
