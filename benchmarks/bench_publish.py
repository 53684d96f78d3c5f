"""Resumable upload throughput against the local YouTube fake, by chunk size, side by side.

Also: what resuming saves over restarting after a crash at 60 %, and how long planning
500 talks takes. Run: .venv/bin/python benchmarks/bench_publish.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib

import google_auth_httplib2
from google.oauth2.credentials import Credentials

from talkcast.config import YouTubeConfig
from talkcast.publish.build import Requests
from talkcast.publish.client import build_service, make_http
from talkcast.publish.metadata import VideoMetadata
from talkcast.publish.plan import TalkInputs, TalkRecord, Target, plan_talk
from talkcast.publish.quota import Budget, Ledger, plan_day
from talkcast.publish.upload import FileMedia, Session, Uploader, chunk_bytes
from tests.fakes.youtube_server import YouTubeTestServer

SIZE = 48 * 2**20


def upload(
    yt: YouTubeTestServer, path: Path, creds: Credentials, chunk_mib: int, stop_at: float | None = None
) -> tuple[float, int]:
    os.environ["HTTPLIB2_CA_CERTS"] = yt.ca_file
    settings = YouTubeConfig(api_endpoint=yt.api_root, chunk_mib=chunk_mib)
    http = google_auth_httplib2.AuthorizedHttp(creds, http=make_http(30))
    requests = Requests(build_service(settings, http), settings)
    saved: list[Session] = []
    uploader = Uploader(http, path, chunk_bytes(chunk_mib), saved.append)
    meta = VideoMetadata("Bench", "", (), "en", "")
    built = requests.video_insert(meta, FileMedia(path, "video/mp4", uploader.chunk))
    start = time.perf_counter()
    session = uploader.start(built.request, "sha")
    if stop_at is not None:  # a "crash" at stop_at of the file: then resume, or restart from zero
        uploader.progress = lambda held, total, s: (
            (_ for _ in ()).throw(KeyboardInterrupt) if held >= stop_at * total else None
        )
        with contextlib.suppress(KeyboardInterrupt):
            uploader.run(session, resume=False)
        uploader.progress = lambda held, total, s: None
        start, before = time.perf_counter(), uploader.sent_bytes
        uploader.run(saved[-1], resume=True)
        return time.perf_counter() - start, uploader.sent_bytes - before
    else:
        uploader.run(session, resume=False)
    return time.perf_counter() - start, uploader.sent_bytes


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, YouTubeTestServer(body_timeout=30) as yt:
        path = Path(tmp) / "talk.mp4"
        path.write_bytes(os.urandom(SIZE))
        info = json.loads(yt.make_token_file(Path(tmp) / "token.json").read_text())
        creds = Credentials.from_authorized_user_info(info).with_token_uri(info["token_uri"])
        rows = []
        for mib in (1, 4, 8, 16):
            seconds, _sent = upload(yt, path, creds, mib)
            rows.append((f"upload 48 MiB, {mib} MiB chunks", seconds, SIZE / seconds / 1e6))
        base = rows[2][1]
        print(f"{'case':44} {'seconds':>8} {'MB/s':>8} {'vs 8 MiB':>9}")
        for name, seconds, rate in rows:
            print(f"{name:44} {seconds:8.3f} {rate:8.1f} {seconds / base:8.2f}x")
        resumed, sent_resume = upload(yt, path, creds, 8, stop_at=0.6)
        restart, _ = upload(yt, path, creds, 8)
        label = f"after a crash at 60 %: resume (sent {sent_resume // 2**20} MiB)"
        print(f"{label:44} {resumed:8.3f} {'':8} {resumed / restart:8.2f}x of a restart ({restart:.3f} s)")

    meta = VideoMetadata("T", "", (), "en", "")
    talks = [
        TalkInputs(f"t{i}", Path("v"), "v", {"en": (Path("s"), "c")}, (Path("j"), "j"), meta, "m", False)
        for i in range(500)
    ]
    start = time.perf_counter()
    steps = [
        (
            t.talk_id,
            [s.api for s in plan_talk(t, TalkRecord(), target=Target("public"), playlist=True, force_metadata=False)],
        )
        for t in talks
    ]
    plan = plan_day(steps, Budget(10_000), Ledger("2026-08-28"))
    print(f"{'plan 500 talks + quota plan':44} {time.perf_counter() - start:8.4f}   ({plan.message(Budget(10_000))})")


if __name__ == "__main__":
    main()
