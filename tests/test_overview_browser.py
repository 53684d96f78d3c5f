"""``talkcast rooms`` in Debian's chromium on a phone-sized screen, over two real ``talkcast live`` rooms.

The organiser logs into the overview with its one-time link, sees both rooms, hears
(``aria-live``) a room that stops, and goes into the other room's control room with the
keyboard, landing logged in. The overview is opened as ``localhost`` and the rooms as
``127.0.0.1``: two sites, as an overview and its rooms on different machines are.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest

from tests.support.net import until
from tests.test_overview_live import MAIN_TOKEN, SIDE_TOKEN, two_rooms
from tests.test_overview_web import overview
from tests.test_room_browser import chromium, phone_page

pw = pytest.importorskip("playwright.async_api")

pytestmark = pytest.mark.browser


def test_an_organiser_sees_every_room_on_a_phone_and_goes_into_one(tmp_path):
    async def scenario() -> None:
        async with two_rooms(tmp_path) as rooms:
            await rooms.main.controller.act("start")
            environ = {"TALKCAST_TOKEN_MAIN": MAIN_TOKEN}
            async with overview(rooms.file, environ=environ) as session, chromium() as browser:
                link = session.overview.login_url(f"http://localhost:{session.port}")
                page, errors = await phone_page(browser, link)
                expect = pw.expect

                # Logged in: a cookie the page's script cannot read; both rooms on screen.
                assert urlsplit(page.url).path == "/rooms"
                [cookie] = await page.context.cookies()
                assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/rooms"
                main_card = page.locator('li.room[data-key="Main hall"]')
                side_card = page.locator('li.room[data-key="Side room"]')
                await expect(main_card.get_by_role("heading", name="Main hall")).to_be_visible()
                await expect(side_card.get_by_role("heading", name="Side room")).to_be_visible()
                await expect(main_card).to_contain_text("First talk in Main hall")
                await expect(main_card).to_contain_text("left")  # the talk on air and its time left
                await expect(side_card).to_contain_text("No talk on air")
                await expect(page.get_by_text("OBS: connected")).to_have_count(2)
                await expect(main_card).to_contain_text("Manual")
                html = await page.content()
                assert MAIN_TOKEN not in html and SIDE_TOKEN not in html
                assert await page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling

                # The side room stops: its card says so, and a screen reader hears it, without a reload.
                await rooms.stop_side()
                await expect(side_card.locator(".down")).to_contain_text("Unreachable since", timeout=5000)
                await expect(page.locator("#announcer")).to_contain_text("Side room: Unreachable since")
                await expect(page.locator("#summary")).to_have_text("2 rooms, 1 unreachable")

                # By keyboard into the main hall's control room: the button keeps its focus while
                # the cards update, and Enter lands logged in there (the token stays on the server).
                button = page.get_by_role("button", name="Open control room of Main hall")
                await button.focus()
                text = await main_card.locator('[data-text="remaining"]').text_content()
                await expect(main_card.locator('[data-text="remaining"]')).not_to_have_text(text or "", timeout=5000)
                await expect(button).to_be_focused()
                await page.keyboard.press("Enter")
                await expect(page.get_by_role("button", name="Start talk now")).to_be_visible()
                assert page.url == f"{rooms.main.api.url}/room"
                assert MAIN_TOKEN not in await page.content()
                await until("the main hall to have one session", lambda: len(rooms.main.room.sessions) == 1)
                await page.context.close()
                assert not errors, errors

    asyncio.run(scenario())
