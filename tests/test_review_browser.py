"""The review page in Debian's chromium: log in, step frames with the keyboard, set the start, approve.

The recording's frames carry their own index (``recorder_media``), so the test reads the
frame chromium really shows off the <video> and checks that "set start here" writes that
very frame's time to cuts.toml: the preview's time mapping, end to end.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from talkcast.app.review.serve import serve_review
from talkcast.approval import approval_of, history
from talkcast.config import load_config
from talkcast.cuts import read_cuts
from talkcast.media import probe
from talkcast.recorder.smart import frame_range, read_source
from talkcast.state import StateStore
from talkcast.timecode import format_clock
from tests.support.recorder_media import make_indexed_source
from tests.test_room_browser import chromium

pw = pytest.importorskip("playwright.async_api")

pytestmark = pytest.mark.browser
LAPTOP = {"width": 1280, "height": 900}
ARTEFACTS = Path(__file__).parent / "artefacts"
FIRST_INDEX = 300  # the recording's first frame shows 300, so no frame shows 0

CUTS = """\
# The talk, from the schedule.
[[talk]]
id = "indexed"
title = "Frames that know their number"
speakers = ["Ada"]
source = "../recordings/evening.mkv"  # OBS's file
start = 5.0
end = "00:00:15.000"
origin = "schedule"
"""

# The index a frame shows: its 16 blocks (bit b in block b), read off the <video> as drawn.
SHOWN_INDEX = """async (which) => {
  const video = document.querySelector(`section[data-which="${which}"] video`);
  if (video.seeking) await new Promise((r) => video.addEventListener('seeked', r, { once: true }));
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const canvas = Object.assign(document.createElement('canvas'), { width: 160, height: 96 });
  const g = canvas.getContext('2d', { willReadFrequently: true });
  g.drawImage(video, 0, 0, 160, 96);
  let index = 0;
  for (let b = 0; b < 16; b++) {
    const x = (b % 8) * 20 + 10, y = Math.floor(b / 8) * 48 + 24;
    const px = g.getImageData(x - 4, y - 4, 8, 8).data;
    let sum = 0;
    for (let i = 0; i < px.length; i += 4) sum += px[i];
    if (sum / (px.length / 4) > 128) index |= 1 << b;
  }
  return index;
}"""


@pytest.fixture
def event(tmp_path: Path) -> Path:
    root = tmp_path / "event"
    (root / "recordings").mkdir(parents=True)
    (root / "out").mkdir()
    make_indexed_source(root / "recordings" / "evening.mkv", seconds=20, fps=25, gop=50, first_index=FIRST_INDEX)
    (root / "event.toml").write_text('[event]\nname = "SRE Meetup #12"\noutput_dir = "out"\n')
    (root / "out" / "cuts.toml").write_text(CUTS)
    return root / "event.toml"


def test_a_reviewer_steps_frames_with_the_keyboard_sets_the_start_and_approves(event: Path) -> None:
    cfg = load_config(event)
    recording = event.parent / "recordings" / "evening.mkv"
    frame_times, _ = read_source(recording, probe(recording))
    seen: dict[str, int] = {}

    async def scenario() -> None:
        with StateStore(cfg.output_dir / "state.db") as store:
            async with serve_review(cfg, store, port=0) as served, chromium() as browser:
                context = await browser.new_context(viewport=LAPTOP)
                page = await context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda err: errors.append(str(err)))
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                expect = pw.expect

                await page.goto(served.login_url())
                row = page.locator('#talks tr[data-id="indexed"]')
                await expect(row.locator(".status")).to_have_text("needs review")
                await expect(row.locator(".origin")).to_have_text("schedule")
                await row.get_by_role("link", name="Frames that know their number").click()

                start = page.locator('section[data-which="start"]')
                position = start.locator(".position")
                # The frame a cut at 5 s begins with (its timestamps start at 0.021 s: the encoder's delay).
                planned = frame_range(frame_times, 5.0, 15.0).first
                times = frame_times.frame_times
                await expect(position).to_contain_text(f"At {format_clock(times[planned])}", timeout=20_000)
                assert await page.evaluate(SHOWN_INDEX, "start") - FIRST_INDEX == planned

                await page.keyboard.press("Period")  # +1 frame
                await page.keyboard.press("Period")
                await page.keyboard.press("ArrowRight")
                await expect(position).to_contain_text(f"+{times[planned + 3] - 5.0:.3f} s from cuts.toml")
                assert await page.evaluate(SHOWN_INDEX, "start") - FIRST_INDEX == planned + 3
                await page.keyboard.press("Shift+ArrowRight")  # +1 s
                await page.keyboard.press("l")  # +10 s
                await page.keyboard.press("j")  # -10 s
                await page.keyboard.press("Comma")  # -1 frame
                await expect(position).to_contain_text(f"+{times[planned + 27] - 5.0:.3f} s from cuts.toml")
                seen["start"] = await page.evaluate(SHOWN_INDEX, "start") - FIRST_INDEX
                assert seen["start"] == planned + 27

                await page.get_by_label("Your name").fill("Anna")
                await page.locator("body").click(position={"x": 5, "y": 5})  # away from the name field
                await page.keyboard.press("s")
                await page.keyboard.press("Enter")  # set start here
                chosen = format_clock(times[planned + 27])
                await expect(page.locator("#result")).to_contain_text(f"Start set to {chosen} (was 00:00:05.000)")
                await expect(start.locator(".planned")).to_have_text(chosen)
                await expect(page.locator("#origin")).to_have_text("review page")

                ARTEFACTS.mkdir(exist_ok=True)
                await page.screenshot(path=str(ARTEFACTS / "review-talk.png"), full_page=True)
                await page.get_by_role("button", name="Approve this cut").click()
                await expect(page.locator("#approved")).to_contain_text("approved by Anna at ")
                await expect(page.locator("#result")).to_have_text(
                    "Approved by Anna. Run `talkcast post`: it cuts, transcribes and publishes this talk again "
                    "with these times."
                )
                await context.close()
                assert not errors, errors

                talk = read_cuts(cfg.output_dir / "cuts.toml").get("indexed")
                assert talk is not None
                # cuts.toml holds the time of exactly the frame the reviewer saw, written as they wrote it.
                assert talk.spans[0].start == round(frame_times.frame_times[seen["start"]], 3)
                text = (cfg.output_dir / "cuts.toml").read_text()
                written = f"# OBS's file\nstart = {round(times[seen['start']], 3)}\n"
                assert text.startswith("# The talk, from the schedule.\n") and written in text
                approval = approval_of(store, talk)
                assert approval is not None and approval.by == "Anna"
                assert [h["what"] for h in history(store, "indexed")] == ["set start", "approved"]

    asyncio.run(scenario())
