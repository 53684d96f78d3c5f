"""The rooms file of ``talkcast rooms``: parsed strictly, written back losslessly, registered under a lock."""

from __future__ import annotations

import os
import stat
import threading
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from talkcast.errors import ConfigError
from talkcast.fsutil import FileLock, LockHeld
from talkcast.secrets import Secret, redact
from talkcast.streamer.overview.roomsfile import (
    RoomEntry,
    parse_rooms,
    read_rooms,
    register_room,
    resolve_tokens,
    room_url,
    rooms_toml,
)

GOOD = """
[[room]]
name = "Main hall"
url = "http://10.0.0.5:8787/"
token_env = "TALKCAST_TOKEN_MAIN"

[[room]]
name = "Room B"
url = "http://[::1]:8788"
token = "literal-token-of-room-b"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rooms.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


def error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        read_rooms(write(tmp_path, text))
    assert caught.value.file.name == "rooms.toml"
    return str(caught.value)


def test_a_good_file_gives_each_room_in_order(tmp_path):
    rooms = read_rooms(write(tmp_path, GOOD))
    assert [(r.name, r.url, r.token_env) for r in rooms] == [
        ("Main hall", "http://10.0.0.5:8787", "TALKCAST_TOKEN_MAIN"),
        ("Room B", "http://[::1]:8788", ""),
    ]
    assert rooms[0].token is None and rooms[1].token == Secret("literal-token-of-room-b")
    assert "literal-token-of-room-b" not in repr(rooms) and redact("x literal-token-of-room-b") == "x ****"


def test_token_env_is_read_from_the_environment_only_when_asked(tmp_path):
    path = write(tmp_path, GOOD)
    rooms = read_rooms(path)
    resolved = resolve_tokens(path, rooms, {"TALKCAST_TOKEN_MAIN": "main-hall-token"})
    assert resolved[0].token == Secret("main-hall-token") and resolved[1] == rooms[1]
    assert redact("main-hall-token") == "****"
    unset = r"^rooms.toml: room\[0\].token_env: the variable TALKCAST_TOKEN_MAIN is not set$"
    with pytest.raises(ConfigError, match=unset):
        resolve_tokens(path, rooms, {})


A = '[[room]]\nname = "A"\nurl = "http://a:1"\n'  # a room without its token


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[rooms]]\nname = "A"', "rooms: unknown key (did you mean 'room'?); each room is a [[room]] table"),
        ('room = "A"', "room: expected [[room]] tables, got a string"),
        (A + 'tokn = "x"', "room[0].tokn: unknown key (did you mean 'token'?)"),
        ('[[room]]\nurl = "http://a:1"\ntoken = "x"', "room[0].name: missing required key"),
        ('[[room]]\nname = "A"\ntoken = "x"', "room[0].url: missing required key"),
        ('[[room]]\nname = 3\nurl = "http://a:1"\ntoken = "x"', "room[0].name: expected a string, got a number"),
        ('[[room]]\nname = " "\nurl = "http://a:1"\ntoken = "x"', "room[0].name: must not be empty"),
        (A, "room[0]: missing token_env (the variable that holds the room's live API token) or token"),
        (A + 'token = "x"\ntoken_env = "Y"', "room[0].token: give token_env or token, not both"),
        (A + 'token_env = ""', "room[0].token_env: must not be empty"),
        (
            '[[room]]\nname = "A"\nurl = "ftp://a:1"\ntoken = "x"',
            "room[0].url: expected the room's live API as http://host:port, got 'ftp://a:1'",
        ),
        (A + 'token = "x"\n' + A + 'token = "y"', "room[1].name: 'A' is used twice"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_file_and_the_key(tmp_path, text, message):
    assert error(tmp_path, text) == f"rooms.toml: {message}"


def test_an_error_never_echoes_a_token(tmp_path):
    secret = "do-not-print-this-token"
    for text in (A + f'token = ["{secret}"]', A + f'token = "{secret}"\ntoken_env = "X"', A + f'token = "{secret}\n'):
        assert secret not in error(tmp_path, text)


def test_a_missing_file_is_an_error_the_caller_may_accept(tmp_path):
    with pytest.raises(ConfigError, match=r"^none.toml: cannot be read: "):
        read_rooms(tmp_path / "none.toml")


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("http://10.0.0.5:8787", "http://10.0.0.5:8787"),
        ("http://hall-a.local:8787/", "http://hall-a.local:8787"),
        ("https://[fe80::1]:443", "https://[fe80::1]:443"),
        (" http://a ", "http://a"),
        ("http://a:8787/api/state", None),
        ("http://a:8787?x=1", None),
        ("http://user@a:8787", None),
        ("http://a:99999", None),
        ("http://a b:1", None),
        ("http://a;b:1", None),
        ("javascript:alert(1)", None),
        ("10.0.0.5:8787", None),
        ("", None),
    ],
)
def test_a_room_url_is_only_scheme_host_and_port(url, base):
    assert room_url(url) == base


names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1).filter(str.strip)


urls = st.sampled_from(["http://a:1", "https://[::1]:8787"])


@given(st.lists(st.tuples(names, urls, st.booleans(), names), max_size=4))
def test_the_written_file_reads_back_as_the_same_rooms(rows):
    rooms, seen = [], set()
    for name, url, by_env, token in rows:
        if name in seen:
            continue
        seen.add(name)
        rooms.append(RoomEntry(name, url, token_env=token if by_env else "", token=None if by_env else Secret(token)))
    text = rooms_toml(rooms)
    assert parse_rooms(Path("rooms.toml"), tomllib.loads(text)) == tuple(rooms)


def test_registering_adds_then_updates_by_name_and_keeps_the_file_private(tmp_path):
    path = tmp_path / "rooms.toml"
    main = RoomEntry("Main hall", "http://10.0.0.5:8787", token_env="TALKCAST_TOKEN_MAIN")
    assert register_room(path, main) == "added"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    side = RoomEntry("Room B", "http://10.0.0.6:8787", token=Secret("room-b-token"))
    assert register_room(path, side) == "added"
    assert register_room(path, main) == "unchanged"
    moved = RoomEntry("Main hall", "http://10.0.0.7:8788", token=Secret("a-fresh-random-token"))
    assert register_room(path, moved) == "updated"
    assert read_rooms(path) == (moved, side)  # the order stays
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("# The rooms on talkcast rooms' overview page.")


def test_registering_leaves_a_bad_file_alone(tmp_path):
    path = write(tmp_path, '[[room]]\nname = "A"\nurl = "nowhere"\ntoken = "x"\n')
    before = path.read_text()
    with pytest.raises(ConfigError, match=r"room\[0\].url"):
        register_room(path, RoomEntry("B", "http://b:1", token=Secret("b-token")))
    assert path.read_text() == before


def test_registering_waits_for_the_lock_and_gives_up_after_a_while(tmp_path):
    path = tmp_path / "rooms.toml"
    lock_path = tmp_path / ".rooms.toml.lock"
    room = RoomEntry("A", "http://a:1", token=Secret("a-token"))
    # flock locks belong to open files: another open of the lock file in this process
    # conflicts just as another process would.
    held = FileLock(lock_path)
    held.acquire()
    with pytest.raises(LockHeld):
        register_room(path, room, wait=0.2)
    assert not path.exists()
    timer = threading.Timer(0.2, held.release)
    timer.start()
    assert register_room(path, room, wait=5.0) == "added"
    timer.join()
    assert os.path.exists(path)


def test_many_rooms_registering_at_once_all_get_in(tmp_path):
    path = tmp_path / "rooms.toml"
    rooms = [RoomEntry(f"Room {i}", f"http://10.0.0.{i}:8787", token=Secret(f"token-{i:04d}")) for i in range(8)]
    threads = [threading.Thread(target=register_room, args=(path, room)) for room in rooms]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.name for r in read_rooms(path)) == sorted(r.name for r in rooms)
