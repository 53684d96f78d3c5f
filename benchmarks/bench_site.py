"""The archive page at meetup and conference sizes: build time, page weight, and how fast
the search answers in Debian's chromium, side by side for 3, 30 and 300 talks.

Each synthetic talk lasts 30 min with a cue every 4 s (450 cues, about 4,000 words), like a
Whisper transcript. Search has the whole event's transcripts inline in index.html (file://
pages cannot fetch), so this shows what that costs as the event grows.
Run: .venv/bin/python benchmarks/bench_site.py
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from talkcast.archive.site import SiteTalk, build_site
from talkcast.timecode import format_clock

SIZES = (3, 30, 300)
TALK_SECONDS = 1800
CUE_SECONDS = 4.0
WORDS = (
    "kafka", "partition", "replica", "leader", "broker", "consumer", "lag", "offset", "postgres",
    "vacuum", "index", "query", "planner", "latency", "throughput", "metrics", "tracing", "logs",
    "alert", "incident", "deploy", "rollback", "cluster", "node", "pod", "memory", "the",
    "a", "we", "and", "so", "then", "it", "is", "this", "that",
    "with", "for", "on", "of", "to", "in",
)  # fmt: skip
QUERIES = ("kafka", "leader election", "zzzz nothing", "vacuum planner index")


def _vtt(rng: random.Random) -> str:
    blocks = ["WEBVTT"]
    t = 0.0
    while t + CUE_SECONDS <= TALK_SECONDS:
        words = " ".join(rng.choice(WORDS) for _ in range(9))
        end = "." if rng.random() < 0.3 else ""
        blocks.append(f"{format_clock(t)} --> {format_clock(t + CUE_SECONDS - 0.2)}\n{words}{end}")
        t += CUE_SECONDS + (2.0 if rng.random() < 0.05 else 0.0)
    return "\n\n".join(blocks) + "\n"


def _event(out: Path, n: int) -> list[SiteTalk]:
    rng = random.Random(n)
    talks = []
    for i in range(n):
        talk_id = f"talk-{i:03d}"
        folder = out / "talks" / talk_id
        folder.mkdir(parents=True)
        (folder / "talk.mp4").write_bytes(b"")  # the builder links the video; it never reads it
        (folder / "talk.en.vtt").write_text(_vtt(rng), encoding="utf-8")
        talks.append(
            SiteTalk(
                id=talk_id,
                title=f"Talk {i}: {rng.choice(WORDS)} at scale",
                speakers=(f"Speaker {i}",),
                abstract=" ".join(rng.choice(WORDS) for _ in range(60)),
                duration=TALK_SECONDS,
                video=Path("talks", talk_id, "talk.mp4"),
                captions=(("en", Path("talks", talk_id, "talk.en.vtt")),),
            )
        )
    return talks


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="talkcast-bench-site-") as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )  # fmt: skip
        try:
            for n in SIZES:
                out = Path(tmp) / f"event-{n}"
                talks = _event(out, n)
                began = time.perf_counter()
                index = build_site(out, f"Conference of {n} talks", talks)
                build = time.perf_counter() - began
                page = browser.new_page()
                page.goto(index.as_uri())
                # From navigation start to the end of the load event: parsing, the JSON, the search index.
                load_ms = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
                search_ms = []
                for _ in range(3):
                    for q in QUERIES:
                        search_ms.append(
                            page.evaluate(
                                """q => { const box = document.getElementById('q'); const t0 = performance.now();
                                   box.value = q; box.dispatchEvent(new Event('input'));
                                   return performance.now() - t0; }""",
                                q,
                            )
                        )
                page.close()
                # The first search also parses and folds the whole index (built on first use).
                rows.append((n, build, index.stat().st_size, load_ms, search_ms[0], statistics.median(search_ms[1:])))
        finally:
            browser.close()

    base = rows[0]
    print(f"archive page, {TALK_SECONDS // 60}-min talks with a cue every {CUE_SECONDS:g} s (about 430 cues)")
    print(f"{'talks':>6} {'build s':>8} {'ms/talk':>8} {'index MB':>9} {'x size':>7} {'load ms':>8} {'x load':>7}"
          f" {'1st search ms':>14} {'x 1st':>6} {'search ms':>10} {'x search':>9}")  # fmt: skip
    for n, build, size, load, first, med in rows:
        print(
            f"{n:>6} {build:>8.2f} {build / n * 1000:>8.1f} {size / 1e6:>9.2f} {size / base[2]:>7.1f}"
            f" {load:>8.0f} {load / base[3]:>7.1f} {first:>14.1f} {first / base[4]:>6.1f}"
            f" {med:>10.1f} {med / base[5]:>9.1f}"
        )


if __name__ == "__main__":
    main()
