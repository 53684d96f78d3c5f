"""The overview's card for each room, from what it last saw of the room, as plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from talkcast.streamer.overview.view import RoomLook, destinations_summary, overview_view, room_card
from tests.test_room_view import NOW, dest, state

DOWN = datetime(2026, 8, 27, 19, 42, tzinfo=UTC)


def test_a_room_that_answers_is_summed_up_in_the_control_rooms_words():
    look = RoomLook("Main hall", "http://10.0.0.5:8787", state=state(destinations=[dest("youtube", "live")]))
    card = room_card(look)
    assert card["reachable"] and card["down"] == ""
    assert card["name"] == "Main hall" and card["mode"] == "auto" and card["mode_label"] == "Auto"
    assert card["obs"] == "connected" and card["obs_ok"]
    assert card["scene"] == "Talk"
    assert card["current"] == "Balancing Kafka" and card["remaining"] == "35:00 left" and not card["over"]
    when = (NOW + timedelta(minutes=45)).astimezone().strftime("%H:%M")
    assert card["next"] == f"SRE at scale, at {when} (in 45:00)"
    assert card["recording"] == "Recording, 50:00" and card["recording_state"] == "recording"
    assert card["destinations"] == "1 live"
    assert card["warnings"] == []


def test_a_room_in_trouble_says_so_with_its_name_on_every_warning():
    troubled = state(
        mode="manual",
        obs={"state": "waiting", "message": "connection refused", "reconnects": 2},
        current=None,
        next=None,
        destinations=[dest("youtube", "live"), dest("twitch", "retrying", last_error="timeout"), dest("x", "failed")],
    )
    card = room_card(RoomLook("Room B", "http://b:1", state=troubled))
    assert card["mode"] == "manual" and card["mode_label"] == "Manual"
    assert card["obs"] == "waiting" and not card["obs_ok"]
    assert card["current"] == "No talk on air" and card["remaining"] == "" and card["next"] == "No more talks"
    assert card["destinations"] == "1 live, 1 retrying, 1 failed"
    texts = [w["text"] for w in card["warnings"]]
    assert texts[0] == "Room B: OBS is not connected: connection refused"
    assert all(t.startswith("Room B: ") for t in texts) and len(texts) == 3
    assert all(w["key"].startswith("Room B:") for w in card["warnings"])


def test_over_time_is_said_and_flagged():
    over = state()
    over["current"]["remaining_s"] = -90.0
    card = room_card(RoomLook("A", "http://a:1", state=over))
    assert card["remaining"] == "1:30 over time" and card["over"]


def test_a_room_that_does_not_answer_shows_since_when_and_why_instead_of_stale_values():
    card = room_card(RoomLook("Room B", "http://b:1", down_since=DOWN, problem="connection refused"))
    since = DOWN.astimezone().strftime("%H:%M")
    assert not card["reachable"] and card["down"] == f"Unreachable since {since}: connection refused"
    assert card["scene"] == card["current"] == card["next"] == card["recording"] == ""
    assert card["warnings"] == []  # the room's old warnings no longer hold; the card says it is down
    assert room_card(RoomLook("New", "http://n:1"))["down"] == "Not reached yet"


def test_every_card_has_the_same_fields_reachable_or_not():
    up = room_card(RoomLook("A", "http://a:1", state=state()))
    down = room_card(RoomLook("B", "http://b:1", down_since=DOWN))
    assert set(up) == set(down)


def test_destinations_summary_counts_by_state_in_a_fixed_order():
    assert destinations_summary([]) == "none"
    rows = [{"state": "failed"}, {"state": "live"}, {"state": "live"}, {"state": "odd"}]
    assert destinations_summary(rows) == "2 live, 1 failed, 1 odd"


def test_the_overview_counts_rooms_and_carries_the_files_problem():
    looks = [RoomLook("A", "http://a:1", state=state()), RoomLook("B", "http://b:1", down_since=DOWN)]
    view = overview_view(looks, file="/srv/rooms.toml", problem="rooms.toml: room[2].url: ...")
    assert [r["name"] for r in view["rooms"]] == ["A", "B"]
    assert view["summary"] == "2 rooms, 1 unreachable" and view["problem"].startswith("rooms.toml")
    since = DOWN.astimezone().strftime("%H:%M")
    assert view["alerts"] == [{"key": "B:down", "text": f"B: Unreachable since {since}"}]
    assert overview_view([], file="rooms.toml")["summary"] == "0 rooms"
    assert overview_view(looks[:1], file="rooms.toml")["summary"] == "1 room"
