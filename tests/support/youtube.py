"""Talks ready for publishing, without running cut/transcribe: a small real mp4, subtitles,
a thumbnail, and the cut/transcribe stages recorded in state.db as the pipeline does."""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from talkcast.app.pipeline import input_hash
from talkcast.app.progress import PlainDisplay
from talkcast.config import Config, load_config
from talkcast.cuts import Span, TalkCut, write_cuts
from talkcast.media import tool
from talkcast.stage import TalkJob, rel, talk_dir
from talkcast.state import StateStore
from tests.fakes.youtube_server import YouTubeTestServer


def make_video(path: Path, *, seconds: float = 2.0) -> Path:
    """An H.264 mp4 of noisy test pattern: about 3 MB, so 1 MiB chunks make a few of them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    args = [
        tool("ffmpeg"), "-nostdin", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", "testsrc2=s=640x360:r=25,noise=alls=80:allf=t:all_seed=7",
        "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-qp", "8", "-pix_fmt", "yuv420p",
        "-movflags", "+faststart", str(path),
    ]  # fmt: skip
    subprocess.run(args, check=True, timeout=60)
    return path


def retag_video(src: Path, dest: Path, comment: str) -> Path:
    """The same video with different container metadata: a changed file, as an edited cut is."""
    args = [tool("ffmpeg"), "-nostdin", "-loglevel", "error", "-y", "-i", str(src), "-c", "copy",
            "-metadata", f"comment={comment}", str(dest)]  # fmt: skip
    subprocess.run(args, check=True, timeout=60)
    return dest


def make_thumbnail(path: Path) -> Path:
    """A small JPEG, as the cut stage writes ``thumbnail.jpg``."""
    args = [tool("ffmpeg"), "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
            "testsrc2=s=320x180:r=1", "-frames:v", "1", str(path)]  # fmt: skip
    subprocess.run(args, check=True, timeout=60)
    return path


def srt(text: str) -> str:
    """A two-cue SRT file."""
    return f"1\n00:00:00,000 --> 00:00:01,000\n{text}\n\n2\n00:00:01,000 --> 00:00:02,000\nThanks.\n"


def vtt(text: str) -> str:
    """The same cues as WebVTT."""
    return f"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n{text}\n\n00:00:01.000 --> 00:00:02.000\nThanks.\n"


@dataclass
class Event:
    """An event folder with event.toml pointing [publish.youtube] at the fake server."""

    root: Path
    config_file: Path
    talks: list[TalkCut] = field(default_factory=list)

    @property
    def cfg(self) -> Config:
        """The event's config, loaded afresh (reflects edits of event.toml)."""
        return load_config(self.config_file)

    @property
    def out(self) -> Path:
        """The output folder."""
        return self.root / "out"

    def jobs(self) -> list[TalkJob]:
        """One publish job per talk, in order, as the pipeline builds them."""
        return [
            TalkJob(config_file=self.config_file, talk=t, abstract=t.abstract, recorded="2026-08-27")
            for t in self.talks
        ]


def make_event(root: Path, yt: YouTubeTestServer, *, youtube: str = "", talks: int = 2) -> Event:
    """event.toml (+ token and client secrets from the fake) and ``talks`` talks in cuts.toml."""
    root.mkdir(parents=True, exist_ok=True)
    yt.make_token_file(root / "token.json")
    yt.make_client_secrets(root / "client.json")
    (root / "event.toml").write_text(
        f"""
[event]
name = "SRE Meetup #12"
output_dir = "out"
url = "https://meetup.example/sre-12"

[publish]
enabled = true

[publish.youtube]
api_endpoint = "{yt.api_root}"
token_file = "token.json"
client_secrets = "client.json"
privacy = "unlisted"
playlist = "SRE Meetup #12"
chunk_mib = 1
http_timeout = 5
tags = ["sre", "kafka"]
{youtube}
""",
        encoding="utf-8",
    )
    titles = ["Balancing a Kafka cluster", "On-call without tears", "Postmortems that help", "Tracing at scale"]
    speakers = [("Vitaly Dobrovolsky",), ("Ana Lima", "Ben Okafor"), ("Chen Wu",), ("Dana Smith",)]
    cut_talks = [
        TalkCut(
            id=f"talk-{i + 1}",
            title=titles[i % len(titles)],
            spans=(Span(root / "recording.mkv", 0.0, 2.0),),
            speakers=speakers[i % len(speakers)],
            language="en",
            abstract=f"What we learned, part {i + 1}.",
        )
        for i in range(talks)
    ]
    (root / "out").mkdir(exist_ok=True)
    write_cuts(root / "out" / "cuts.toml", cut_talks)
    return Event(root, root / "event.toml", cut_talks)


def ready_talk(
    event: Event, talk: TalkCut, video: Path, *, subtitles: str = "Hello, SRE meetup.", review: bool = False
) -> None:
    """Put a talk's cut and transcribe outputs in place and record both stages in state.db."""
    cfg = event.cfg
    folder = talk_dir(cfg, talk.id)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(video, folder / "talk.mp4")
    (folder / "talk.en.srt").write_text(srt(subtitles), encoding="utf-8")
    (folder / "talk.en.vtt").write_text(vtt(subtitles), encoding="utf-8")
    thumb = folder / "thumbnail.jpg"
    if not thumb.exists():
        make_thumbnail(thumb)
    job = next(j for j in event.jobs() if j.talk.id == talk.id)
    with StateStore(cfg.output_dir / "state.db") as store:
        cut = {"artefacts": {"video": rel(cfg, folder / "talk.mp4"), "thumbnail": rel(cfg, thumb)}, "duration": 2.0}
        store.set_stage(talk.id, "cut", "done", input_hash=input_hash(cfg, "cut", job, store), result=cut)
        artefacts = {
            "srt": rel(cfg, folder / "talk.en.srt"),
            "vtt": rel(cfg, folder / "talk.en.vtt"),
        }
        result = {"artefacts": artefacts, "language": "en", "needs_review": review}
        if review:
            result["review_reasons"] = ["low confidence"]
        status = "review" if review else "done"
        store.set_stage(
            talk.id, "transcribe", status, input_hash=input_hash(cfg, "transcribe", job, store), result=result
        )


def quiet_display() -> tuple[PlainDisplay, io.StringIO]:
    """The pipeline's plain display writing into a buffer the test can read."""
    buffer = io.StringIO()
    return PlainDisplay(buffer), buffer
