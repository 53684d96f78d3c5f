"""``talkcast broadcast create|chapters``, and the broadcast ``talkcast live`` drives.

The two stages meet here and only here. ``publish.live`` owns the YouTube client: it
creates the room's broadcast, stores the stream key for the relay and offers
``LiveControl``. The live side drives the broadcast through its own small protocol
(``streamer.broadcast.BroadcastControl``), which ``LiveControl`` fits; this module builds
one and hands it to ``streamer.live.run_live``, so ``streamer`` never imports ``publish``.
"""

from __future__ import annotations

import logging

from talkcast.config import Config, broadcast_destination, load_config
from talkcast.errors import PublishError, TalkcastError
from talkcast.publish.live import (
    BROADCAST_KEY,
    LiveControl,
    connect_youtube,
    dry_run_create,
    ensure_broadcast,
    write_chapters,
)
from talkcast.publish.youtube import EVENT_KEY
from talkcast.schedule import Schedule, load_schedule
from talkcast.secrets import redact
from talkcast.state import StateStore
from talkcast.streamer.youtube_health import Fetch

log = logging.getLogger("talkcast")


def _say(line: str) -> None:
    print(redact(line), flush=True)


def create(cfg: Config, *, dry_run: bool = False, new: bool = False) -> int:
    """``talkcast broadcast create``: the room's broadcast and stream, made once; 0 when ready."""
    schedule = load_schedule(cfg)
    with StateStore(cfg.output_dir / "state.db") as store:
        if dry_run:
            dry_run_create(cfg, schedule, store, _say, new=new)
            return 0
        info = ensure_broadcast(cfg, schedule, store, _say, new=new)
    dest = broadcast_destination(cfg)
    _say(f"broadcast: {info.url} ({info.lifecycle}); control room: {info.studio}")
    _say(f"stream: {info.stream_id}, key stored for destination '{dest.name if dest else '?'}' (never shown)")
    return 0


def chapters(cfg: Config, *, dry_run: bool = False) -> int:
    """``talkcast broadcast chapters``: chapters on the stream's recording, from the journal."""
    schedule = load_schedule(cfg)
    with StateStore(cfg.output_dir / "state.db") as store:
        write_chapters(cfg, schedule, store, _say, dry_run=dry_run)
    return 0


def chapters_after_post(cfg: Config) -> None:
    """``talkcast post``'s last step when a broadcast is configured: its chapters, links included."""
    if not (cfg.broadcast.enabled and cfg.publish.enabled):
        return
    try:
        chapters(cfg)
    except TalkcastError as err:
        # The talks are published; the chapters are written by the next post or `broadcast chapters`.
        _say(f"chapters not written: {err}")


def run_live_with_broadcast(
    cfg: Config, schedule: Schedule, *, setup_scenes: bool, mode: str | None, ui: bool, youtube: Fetch | None = None
) -> int:
    """``talkcast live`` with [broadcast] enabled: make sure of the broadcast, then drive it.

    When YouTube cannot be reached or refuses at start (no network, quota used up), the
    evening still goes on with the stream key stored by an earlier ``broadcast create``,
    and the driver keeps trying; without a stored key the error stops here, saying why.
    """
    from talkcast.streamer.live import run_live

    with StateStore(cfg.output_dir / "state.db") as store:
        try:
            info = ensure_broadcast(cfg, schedule, store, _say)
            _say(f"YouTube broadcast: {info.url} ({info.lifecycle}); control room: {info.studio}")
            broadcast_id: str | None = info.broadcast_id
        except PublishError as err:
            dest = broadcast_destination(cfg)
            if dest is None or dest.key is None:
                raise
            log.warning("could not check the YouTube broadcast (%s); streaming with the stored stream key", err)
            broadcast_id = (store.get(EVENT_KEY, BROADCAST_KEY) or {}).get("id")
        cfg = load_config(cfg.file)  # the destination now has the stream ensure_broadcast stored
        control = None
        if broadcast_id:
            yt, requests = connect_youtube(cfg, store, retries=2)
            control = LiveControl(yt, requests, broadcast_id)
        return run_live(cfg, schedule, setup_scenes=setup_scenes, mode=mode, ui=ui, broadcast=control, youtube=youtube)
