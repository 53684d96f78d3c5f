"""A small event for the review page: one generated recording (``review_media``) and a cuts.toml
whose times came from the schedule and are off, as after an evening without markers."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from talkcast.config import Config, load_config
from tests.support.review_media import ReviewMedia, make_review_recording

CUTS = """\
# Where each talk is in the recordings.
# Anna: the projector died during the break, check the opening talk.

# times from schedule 19:00-19:30
[[talk]]
id = "opening"
title = "Infrastructure as a product"
speakers = ["Anna Petrova"]
source = "../recordings/evening.mkv"
start = 3.0   # the schedule's guess
end = "00:00:15.000"
origin = "schedule"
"""


@dataclass(frozen=True)
class ReviewEvent:
    """The event folder, its config and the recording's facts."""

    root: Path
    media: ReviewMedia

    @property
    def cfg(self) -> Config:
        """The event's config."""
        return load_config(self.root / "event.toml")

    @property
    def cuts(self) -> Path:
        """Its cuts.toml."""
        return self.root / "out" / "cuts.toml"


def make_review_event(root: Path, media: ReviewMedia | None = None) -> ReviewEvent:
    """Write the event under ``root`` (reusing ``media``'s recording when given)."""
    (root / "recordings").mkdir(parents=True, exist_ok=True)
    (root / "out").mkdir(exist_ok=True)
    media = media or make_review_recording(root / "media")
    shutil.copyfile(media.path, root / "recordings" / "evening.mkv")
    (root / "event.toml").write_text(
        '[event]\nname = "SRE Meetup #12"\noutput_dir = "out"\n\n[recording]\ndir = "recordings"\n', encoding="utf-8"
    )
    (root / "out" / "cuts.toml").write_text(CUTS, encoding="utf-8")
    return ReviewEvent(root, media)
