"""The stream store `talkcast broadcast create` writes, and the config reading it back."""

from __future__ import annotations

from pathlib import Path

import pytest

from talkcast.config import load_config
from talkcast.errors import ConfigError
from talkcast.secrets import (
    LIVE_SECRETS_FILE,
    Secret,
    StreamSecrets,
    read_stream_secrets,
    redact,
    write_stream_secrets,
)

KEY = "abcd-1234-efgh-5678-live"
EVENT = """
[event]
name = "SRE Meetup #12"
output_dir = "out"

[[destinations]]
name = "youtube"
kind = "youtube"
{extra}
"""


def stream(key: str = KEY) -> StreamSecrets:
    return StreamSecrets("rtmp://127.0.0.1:1/live2", "rtmp://127.0.0.1:2/live2?backup=1", Secret(key))


def test_the_store_is_private_keeps_other_destinations_and_masks_the_key(tmp_path: Path) -> None:
    path = tmp_path / LIVE_SECRETS_FILE
    write_stream_secrets(path, "main hall", stream("key-of-the-main-hall"))
    write_stream_secrets(path, 'room "B"', stream())

    assert path.stat().st_mode & 0o777 == 0o600
    found = read_stream_secrets(path, ["main hall", 'room "B"', "gone"])
    assert found["main hall"].stream_name.reveal() == "key-of-the-main-hall"
    assert found['room "B"'] == stream()
    assert "gone" not in found
    assert KEY not in redact(f"pushing with {KEY}")


def test_a_broken_store_names_itself(tmp_path: Path) -> None:
    path = tmp_path / LIVE_SECRETS_FILE
    path.write_text("[youtube\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=LIVE_SECRETS_FILE):
        read_stream_secrets(path, ["youtube"])


def test_a_youtube_destination_takes_the_fetched_stream_unless_a_key_is_given(tmp_path: Path) -> None:
    config = tmp_path / "event.toml"
    config.write_text(EVENT.format(extra=""), encoding="utf-8")
    write_stream_secrets(tmp_path / "out" / LIVE_SECRETS_FILE, "youtube", stream())

    (dest,) = load_config(config, environ={}).destinations
    assert dest.key == Secret(KEY)
    assert (dest.url, dest.backup_url) == ("rtmp://127.0.0.1:1/live2", "rtmp://127.0.0.1:2/live2?backup=1")

    (dest,) = load_config(config, environ={"TALKCAST_KEY_YOUTUBE": "typed-by-hand"}).destinations
    assert dest.key == Secret("typed-by-hand") and dest.url == ""


def test_a_broadcast_needs_a_youtube_destination(tmp_path: Path) -> None:
    config = tmp_path / "event.toml"
    config.write_text(EVENT.format(extra='\n[broadcast]\nenabled = true\ndestination = "twitch"\n'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broadcast.destination: needs 'twitch' of the \[\[destinations\]\]"):
        load_config(config, environ={})
