"""A generated demo evening, made once per test session and copied for each test."""

from __future__ import annotations

import shutil
from pathlib import Path

from talkcast.app.demo import generate_event


def generate_once(root: Path) -> Path:
    """Generate the demo event under ``root`` (once) and return that folder."""
    generate_event(root)
    return root


def copy_event(original: Path, dest: Path) -> Path:
    """Copy a generated event to ``dest``; returns the copy's event.toml.

    The journal holds absolute recording paths, as OBS reported them on the night. Point
    them at a folder that does not exist here, as when the recordings were copied off the
    OBS machine: plan must find them by name in the event's recording folder.
    """
    shutil.copytree(original, dest, ignore=shutil.ignore_patterns("speech"))
    journal = dest / "out" / "journal.jsonl"
    obs_machine = "/home/volunteer/obs-machine/videos"
    journal.write_text(journal.read_text().replace(str((original / "recordings").resolve()), obs_machine))
    return dest / "event.toml"
