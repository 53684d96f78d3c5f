"""The control room's login link on the terminal: URL, QR code, and where it must not appear."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import qrcode
from rich.console import Console

from talkcast.config import LiveConfig, ObsConfig, minimal_config
from talkcast.journal import now
from talkcast.schedule import Schedule, Talk
from talkcast.streamer.live import Session, live
from talkcast.streamer.room.terminal import login_banner, public_base, qr_lines
from tests.support.net import free_port

URL = "http://192.168.1.20:8787/room/login?code=4gB0xQ7p_Zk2LwYt9sVnHc3R"
UPPER, LOWER, BOTH = "▀", "▄", "█"


def modules(lines: list[str]) -> list[list[bool]]:
    """The QR modules that half-block lines draw (two rows per line)."""
    rows = []
    for line in lines:
        rows.append([c in (UPPER, BOTH) for c in line])
        rows.append([c in (LOWER, BOTH) for c in line])
    return rows


def test_the_qr_code_draws_every_module_of_the_url_in_half_blocks():
    lines = qr_lines(URL)
    code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_L)
    code.add_data(URL)
    code.make(fit=True)
    matrix = code.get_matrix()
    assert len(lines) == (len(matrix) + 1) // 2  # square on a terminal: cells are twice as tall as wide
    assert {len(line) for line in lines} == {len(matrix)}
    assert set("".join(lines)) <= {UPPER, LOWER, BOTH, " "}
    assert modules(lines)[: len(matrix)] == [[bool(c) for c in row] for row in matrix]
    assert len(matrix) <= 41  # version 4 and a 2-module border: fits an 80-column terminal


def text(renderable) -> str:
    console = Console(width=100, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_the_banner_says_how_long_the_link_works_and_warns_when_phones_cannot_reach_it():
    lan = text(login_banner(URL, host="192.168.1.20"))
    assert URL in lan and "works once, for 10 minutes; press l for a fresh one" in lan
    assert qr_lines(URL)[3] in lan
    assert "Only this machine" not in lan
    local = text(login_banner(URL.replace("192.168.1.20", "127.0.0.1"), host="127.0.0.1"))
    assert "Only this machine can open it: phones need live.http_host" in local


def test_public_base_names_a_reachable_address():
    assert public_base("127.0.0.1", 8787) == "http://127.0.0.1:8787"
    assert public_base("::1", 8787) == "http://[::1]:8787"
    wildcard = public_base("0.0.0.0", 8787)
    assert wildcard.startswith("http://") and "0.0.0.0" not in wildcard and wildcard.endswith(":8787")


def test_live_prints_the_login_link_but_never_puts_it_in_the_state(tmp_path, capsys):
    """The status log lines are served by /api/state without a token: the code must stay out of them."""
    cfg = dataclasses.replace(
        minimal_config(tmp_path / "out"),
        obs=ObsConfig(host="127.0.0.1", port=free_port(), request_timeout=1.0),  # no OBS: live waits for it
        live=LiveConfig(http_port=0),
    )
    talk = Talk(id="a", title="Alpha", start=now() + timedelta(minutes=10), duration=timedelta(minutes=20))
    seen: dict[str, object] = {}

    def ready(session: Session) -> None:
        seen["state"] = session.controller.snapshot().to_json()
        seen["base"] = session.api.url
        session.controller.request_stop()

    code = asyncio.run(live(cfg, Schedule((talk,)), ui=False, handle_signals=False, on_ready=ready, show_login=True))
    assert code == 0
    printed = capsys.readouterr().out
    link = next(line for line in printed.splitlines() if "/room/login?code=" in line).strip()
    assert link.startswith(f"{seen['base']}/room/login?code=")
    assert "POST /api/login-codes gives a fresh one" in printed and BOTH in printed
    state = str(seen["state"])
    assert "code=" not in state and f"control room on {seen['base']}/room" in state
