"""Which OBS scene plays which role, and checking that OBS has them all.

``scene_for`` is pure: the configured names, the role, and the talk on air in, a scene
name out. While a talk whose speaker did not consent to recording is on air, its talk
and Q&A roles show ``scenes.no_record`` (the break scene when that is not set), so
neither the stream nor the recording shows it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from talkcast.config import ScenesConfig
from talkcast.errors import ConfigError
from talkcast.schedule import Talk
from talkcast.streamer.clock import Role
from talkcast.streamer.obs import ObsClient


def scene_for(scenes: ScenesConfig, role: Role | None, on_air: Talk | None) -> str | None:
    """The OBS scene name that plays ``role`` (Q&A falls back to the talk scene)."""
    if role in (Role.TALK, Role.QA) and on_air is not None and not on_air.record:
        return scenes.no_record or scenes.break_
    names = {
        Role.INTRO: scenes.intro,
        Role.TALK: scenes.talk,
        Role.QA: scenes.qa or scenes.talk,
        Role.BREAK: scenes.break_,
        Role.OUTRO: scenes.outro,
    }
    return names[role] if role is not None else None


def required_scenes(scenes: ScenesConfig) -> dict[str, str]:
    """Config key -> scene name for every scene the evening needs."""
    s = scenes
    needed = {"scenes.intro": s.intro, "scenes.talk": s.talk, "scenes.break": s.break_, "scenes.outro": s.outro}
    if s.qa:
        needed["scenes.qa"] = s.qa
    if s.no_record:
        needed["scenes.no_record"] = s.no_record
    return needed


async def check_scenes(
    obs: ObsClient, scenes: ScenesConfig, file: Path, *, setup: bool, checked: bool, note: Callable[..., None]
) -> bool:
    """Make sure OBS has every scene; True when all were there.

    ``setup`` creates the missing ones empty (``--setup-scenes``). Otherwise a scene
    missing on the first session is a ``ConfigError`` naming the key; after a reconnect
    (``checked``: the scenes were there before) it is only a warning, not a reason to stop.
    """
    have = set(await obs.scene_names())
    missing = {key: name for key, name in required_scenes(scenes).items() if name not in have}
    if not missing:
        return True
    if setup:
        for name in dict.fromkeys(missing.values()):
            await obs.create_scene(name)
            note(f"created the empty scene '{name}' in OBS (--setup-scenes)")
        return False
    if checked:
        note(f"OBS lacks the scenes {', '.join(missing.values())} after reconnecting", level=logging.WARNING)
        return False
    key, name = next(iter(missing.items()))
    others = ", ".join(f"'{n}'" for n in sorted(have)) or "none"
    more = f" (also missing: {', '.join(repr(n) for n in list(missing.values())[1:])})" if len(missing) > 1 else ""
    raise ConfigError(
        file,
        key,
        f"OBS has no scene '{name}'{more}; scenes in OBS: {others}. "
        "Create it in OBS, fix the name, or run `talkcast live --setup-scenes` to create empty ones",
    )
