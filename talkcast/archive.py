"""The self-hosted archive page, built from what the pipeline recorded in state.db."""

from __future__ import annotations

from pathlib import Path

from talkcast.config import Config
from talkcast.pipeline import subtitle_tracks
from talkcast.state import StateStore


def build_archive(cfg: Config) -> Path | None:
    """Write ``<output_dir>/site/`` for every cut talk; returns index.html, or None if no talk is cut."""
    from talkcast.site import SiteTalk, build_site

    state_file = cfg.output_dir / "state.db"
    if not state_file.exists():
        return None
    talks = []
    with StateStore(state_file) as store:
        for talk_id in store.talk_ids():
            cut = store.stage(talk_id, "cut")
            if cut is None or cut.status != "done":
                continue
            info = store.talk_info(talk_id)
            tr = store.stage(talk_id, "transcribe")
            captions: list[tuple[str, Path]] = []
            if tr is not None and tr.status in ("done", "review"):
                own = tr.result.get("language", "")
                vtts = [
                    (lang, Path(files["vtt"])) for lang, files in subtitle_tracks(tr.result).items() if "vtt" in files
                ]
                # The talk's own language first: it is also the transcript shown under the video.
                captions = sorted(vtts, key=lambda c: (c[0] != own, c[0]))
            pub = store.stage(talk_id, "publish")
            talks.append(
                SiteTalk(
                    id=talk_id,
                    title=info.get("title", talk_id),
                    speakers=tuple(info.get("speakers", ())),
                    abstract=info.get("abstract", ""),
                    duration=float(cut.result.get("duration", 0.0)),
                    video=Path(cut.result["artefacts"]["video"]),
                    captions=tuple(captions),
                    youtube_url=(pub.result.get("url") if pub and pub.status == "done" else None),
                )
            )
    if not talks:
        return None
    return build_site(cfg.output_dir, cfg.event.name, talks)
