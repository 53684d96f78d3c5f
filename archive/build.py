"""The self-hosted archive page, built from what the pipeline recorded in state.db."""

from __future__ import annotations

from pathlib import Path

from talkcast.approval import approval_of
from talkcast.archive.site import SiteTalk, build_site
from talkcast.config import Config
from talkcast.cuts import read_cuts
from talkcast.stage import CutOutput, PublishOutput, StageName, Status, TranscriptOutput
from talkcast.state import StateStore


def build_archive(cfg: Config, store: StateStore | None = None) -> Path | None:
    """Write ``<output_dir>/site/`` for every cut talk; returns index.html, or None if no talk is cut.

    Only the talks cuts.toml lists now are shown: one an organiser took out, or whose
    speaker withdrew consent after it was cut, leaves the page with its next build. With
    ``[publish] require_review``, only talks approved on the review page are shown.
    ``store`` is the run's open state.db; without one, the file is opened (and closed) here.
    """
    if store is None:
        state_file = cfg.output_dir / "state.db"
        if not state_file.exists():
            return None
        with StateStore(state_file) as own:
            return build_archive(cfg, own)
    cuts_file = cfg.output_dir / "cuts.toml"
    listed = {t.id: t for t in read_cuts(cuts_file).talks} if cuts_file.is_file() else {}
    talks = []
    for talk_id in store.talk_ids():
        if talk_id not in listed:
            continue
        if cfg.publish.require_review and approval_of(store, listed[talk_id]) is None:
            continue
        cut_record = store.stage(talk_id, StageName.CUT)
        if cut_record is None or Status.of(cut_record.status) is not Status.DONE:
            continue
        cut = CutOutput.from_json(cut_record.result)
        info = store.talk_info(talk_id)
        tr = store.stage(talk_id, StageName.TRANSCRIBE)
        captions: list[tuple[str, Path]] = []
        if tr is not None and Status.of(tr.status).succeeded:
            transcript = TranscriptOutput.from_json(tr.result)
            vtts = [(lang, Path(files["vtt"])) for lang, files in transcript.tracks.items() if "vtt" in files]
            # The talk's own language first: it is also the transcript shown under the video.
            captions = sorted(vtts, key=lambda c: (c[0] != transcript.language, c[0]))
        pub = store.stage(talk_id, StageName.PUBLISH)
        published = PublishOutput.from_json(pub.result, Status.of(pub.status)) if pub else None
        talks.append(
            SiteTalk(
                id=talk_id,
                title=info.get("title", talk_id),
                speakers=tuple(info.get("speakers", ())),
                abstract=info.get("abstract", ""),
                duration=cut.duration,
                video=Path(cut.video),
                captions=tuple(captions),
                youtube_url=published.url if published and published.status is Status.DONE else None,
            )
        )
    if not talks:
        return None
    return build_site(cfg.output_dir, cfg.event.name, talks)
