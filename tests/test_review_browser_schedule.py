"""A schedule 40 s off, end to end in Debian's chromium: accept the suggested start, nudge the end, approve, post.

The recording's frames carry their own index (``recorder_media``) and its sound is a
silent break, then espeak-ng speech: the detector's "sound begins after a silence" is the
talk's true start. The reviewer takes that suggestion with one click, moves the end three
frames on with the keyboard and approves; cuts.toml then holds those very frames' times
(checked against the frame index), keeps its comments, and ``talkcast post`` (plan and
cut) cuts that talk again and leaves the other one alone.
"""

from __future__ import annotations

import asyncio
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from talkcast.app import pipeline
from talkcast.app.progress import PlainDisplay
from talkcast.app.review.serve import serve_review
from talkcast.app.synth import speak
from talkcast.approval import approval_of
from talkcast.config import load_config
from talkcast.cuts import read_cuts
from talkcast.media import probe, tool
from talkcast.recorder.smart import frame_range, read_source
from talkcast.stage import StageName
from talkcast.state import StateStore
from talkcast.timecode import format_clock
from tests.support.recorder_media import make_indexed_source, read_frame_indices
from tests.test_review_browser import FIRST_INDEX, LAPTOP, SHOWN_INDEX
from tests.test_room_browser import chromium

pw = pytest.importorskip("playwright.async_api")

pytestmark = pytest.mark.browser
RATE = 48000
SECONDS = 90.0
TRUE_START = 45.0  # silence before it, speech from it
SECOND_TALK = (70.5, 85.0)
SAID = "Good evening everyone. Today I want to talk about infrastructure as a product."

CUTS = """\
# Where each talk is in the recordings.
# Anna: no markers this evening, the schedule's times are a guess.

# times from schedule 19:00-19:25: PLEASE CHECK
[[talk]]
id = "opening"
title = "Infrastructure as a product"
speakers = ["Anna Petrova"]
source = "../recordings/evening.mkv"  # OBS's file
start = 5.0   # the schedule's guess: 40 s early
end = "00:01:05.000"
origin = "schedule"

# times from schedule 19:25-19:40
[[talk]]
id = "second"
title = "The second talk"
speakers = ["Ada"]
source = "../recordings/evening.mkv"
start = 70.5
end = 85.0
origin = "schedule"
"""


def _speech(folder: Path) -> np.ndarray:
    wav = speak(SAID, folder / "said.wav")
    out = subprocess.run(
        [tool("ffmpeg"), "-v", "error", "-i", str(wav), "-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    samples = np.frombuffer(out, dtype=np.float32).astype(np.float64) * 0.8
    first = int(np.argmax(np.abs(samples) > 0.01))  # the words, not espeak-ng's own lead-in
    return samples[first:]


@pytest.fixture
def event(tmp_path: Path) -> Path:
    root = tmp_path / "event"
    (root / "recordings").mkdir(parents=True)
    (root / "out").mkdir()
    picture = make_indexed_source(
        tmp_path / "picture.mkv", seconds=SECONDS, fps=25, gop=50, first_index=FIRST_INDEX, audio=False
    )
    rng = np.random.default_rng(3)
    audio = rng.normal(0.0, 0.001, round(SECONDS * RATE))
    said = _speech(tmp_path)
    for at in (TRUE_START, SECOND_TALK[0]):
        i = round(at * RATE)
        audio[i : i + len(said)] += said
    wav = tmp_path / "sound.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    subprocess.run(
        [tool("ffmpeg"), "-v", "error", "-y", "-i", str(picture.path), "-i", str(wav), "-map", "0:v", "-map", "1:a",
         "-c:v", "copy", "-c:a", "aac", "-b:a", "96k", "-ac", "2", str(root / "recordings" / "evening.mkv")],
        check=True, capture_output=True,
    )  # fmt: skip
    (root / "event.toml").write_text(
        '[event]\nname = "SRE Meetup #12"\noutput_dir = "out"\n\n[recording]\ndir = "recordings"\n', encoding="utf-8"
    )
    (root / "out" / "cuts.toml").write_text(CUTS, encoding="utf-8")
    return root / "event.toml"


def post(config: Path) -> pipeline.RunReport:
    cfg = load_config(config)
    options = pipeline.Options(stages=(StageName.PLAN, StageName.CUT), workers=1)
    return pipeline.run(cfg, options, PlainDisplay())  # type: ignore[arg-type]


def outputs(out: Path) -> dict[str, int]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in sorted((out / "talks").rglob("*")) if p.is_file()}


def test_a_schedule_40_s_off_is_fixed_with_one_suggestion_and_a_nudge_and_post_recuts_only_that_talk(
    event: Path,
) -> None:
    cfg = load_config(event)
    out = cfg.output_dir
    first = post(event)
    assert not first.failed, first
    before = outputs(out)
    assert any(name.startswith("talks/second/") for name in before), before

    recording = event.parent / "recordings" / "evening.mkv"
    index, _ = read_source(recording, probe(recording))
    times = index.frame_times
    seen: dict[str, int] = {}

    async def scenario() -> None:
        with StateStore(out / "state.db") as store:
            async with serve_review(cfg, store, port=0) as served, chromium() as browser:
                context = await browser.new_context(viewport=LAPTOP)
                page = await context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda err: errors.append(str(err)))
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                expect = pw.expect

                await page.goto(served.login_url())
                await (
                    page.locator('#talks tr[data-id="opening"]')
                    .get_by_role("link", name="Infrastructure as a product")
                    .click()
                )
                await page.get_by_label("Your name").fill("Anna")

                start = page.locator('section[data-which="start"]')
                # Offered with the next talk's start (70 s on, also after a silence): the reviewer takes this one.
                suggestion = start.locator(".suggestions li").filter(has_text="sound begins after 45.0 s of silence")
                await expect(suggestion).to_have_count(1, timeout=30_000)
                await suggestion.locator("button.use").click()  # one click: accept it
                await expect(page.locator("#result")).to_contain_text("Start set to ", timeout=20_000)
                await expect(page.locator("#origin")).to_have_text("review page")
                talk = read_cuts(out / "cuts.toml").get("opening")
                assert talk is not None
                seen["start"] = min(range(len(times)), key=lambda k: abs(times[k] - talk.spans[0].start))
                await expect(start.locator(".position")).to_contain_text(f"At {format_clock(times[seen['start']])}")
                assert await page.evaluate(SHOWN_INDEX, "start") - FIRST_INDEX == seen["start"]

                end = page.locator('section[data-which="end"]')
                planned_end = frame_range(index, talk.spans[0].start, 65.0).stop  # the first frame not in the cut
                await expect(end.locator(".position")).to_contain_text("from cuts.toml", timeout=30_000)
                await page.locator("body").click(position={"x": 5, "y": 5})  # away from the name field
                await page.keyboard.press("e")
                shown = await page.evaluate(SHOWN_INDEX, "end") - FIRST_INDEX
                assert abs(shown - planned_end) <= 1, (shown, planned_end)
                for _ in range(3):
                    await page.keyboard.press("Period")  # +1 frame
                seen["end"] = shown + 3
                await expect(end.locator(".position")).to_contain_text(f"At {format_clock(times[seen['end']])}")
                assert await page.evaluate(SHOWN_INDEX, "end") - FIRST_INDEX == seen["end"]
                await page.keyboard.press("Enter")  # set end here
                await expect(page.locator("#result")).to_contain_text(f"End set to {format_clock(times[seen['end']])}")

                await page.get_by_role("button", name="Approve this cut").click()
                await expect(page.locator("#approved")).to_contain_text("approved by Anna at ")
                await context.close()
                assert not errors, errors
                reviewed = read_cuts(out / "cuts.toml").get("opening")
                assert reviewed is not None and approval_of(store, reviewed) is not None

    asyncio.run(scenario())

    talk = read_cuts(out / "cuts.toml").get("opening")
    assert talk is not None and talk.origin == "reviewed"
    # exactly the chosen frames' times; the start is the one the detector found, within a second of the truth
    assert talk.spans[0].start == round(times[seen["start"]], 3)
    assert talk.spans[0].end == round(times[seen["end"]], 3)
    assert abs(talk.spans[0].start - TRUE_START) <= 1.0, talk.spans[0].start
    text = (out / "cuts.toml").read_text()
    assert text.startswith("# Where each talk is in the recordings.\n# Anna: no markers this evening")
    assert '# times from schedule 19:25-19:40\n[[talk]]\nid = "second"' in text
    assert 'source = "../recordings/evening.mkv"  # OBS\'s file' in text

    again = post(event)
    assert not again.failed, again
    assert sorted(again.work_done) == [("opening", "cut")]
    after = outputs(out)
    for name, mtime in before.items():
        if name.startswith("talks/second/"):
            assert after[name] == mtime, name
    cut = next(p for p in (out / "talks" / "opening").rglob("*.mp4"))
    indices = read_frame_indices(cut)
    assert indices[0] - FIRST_INDEX == seen["start"] and indices[-1] - FIRST_INDEX == seen["end"] - 1
