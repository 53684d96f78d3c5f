"""A generated demo evening, made once per test session and copied for each test."""

from __future__ import annotations

import shutil
from pathlib import Path

from talkcast.demo import generate_event


def generate_once(root: Path) -> Path:
    """Generate the demo event under ``root`` (once) and return that folder."""
    generate_event(root)
    return root


def copy_event(original: Path, dest: Path) -> Path:
    """Copy a generated event to ``dest``; returns the copy's event.toml.

    The journal holds absolute recording paths, as OBS reports them; point them at the copy.
    """
    shutil.copytree(original, dest, ignore=shutil.ignore_patterns("speech"))
    journal = dest / "out" / "journal.jsonl"
    journal.write_text(journal.read_text().replace(str(original.resolve()), str(dest.resolve())))
    return dest / "event.toml"
