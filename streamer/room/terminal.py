"""The control room's login link on the terminal: the URL and a QR code a phone can scan.

``qr_lines`` is pure (text in, lines out): two rows of QR modules per line of text with
the half-block characters, so the code is square on a terminal and small enough to
scan off a laptop screen. ``login_banner`` wraps it in black on white (scanners need
dark modules on a light background, whatever the terminal's colours).
"""

from __future__ import annotations

import contextlib
import socket

import qrcode
from rich.console import Group, RenderableType
from rich.text import Text

from talkcast.webauth import CODE_TTL, is_loopback

_BLOCKS = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}
WILDCARDS = {"", "0.0.0.0", "::"}


def qr_lines(text: str, *, border: int = 2) -> list[str]:
    """``text`` as a QR code, dark modules drawn, two module rows per line."""
    qr = qrcode.QRCode(border=border, error_correction=qrcode.constants.ERROR_CORRECT_L)
    qr.add_data(text)
    qr.make(fit=True)
    rows = [[bool(cell) for cell in row] for row in qr.get_matrix()]
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    return [
        "".join(_BLOCKS[top, bottom] for top, bottom in zip(upper, lower, strict=True))
        for upper, lower in zip(rows[::2], rows[1::2], strict=True)
    ]


def _outgoing_address(family: socket.AddressFamily) -> str | None:
    # connect() on a UDP socket only picks the route: no packet is sent. The address is
    # from TEST-NET (RFC 5737 / RFC 3849), never a real host.
    target = ("192.0.2.1", 9) if family == socket.AF_INET else ("2001:db8::1", 9)
    with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_DGRAM) as s:
        s.connect(target)
        return str(s.getsockname()[0])
    return None


def public_base(host: str, port: int) -> str:
    """The base URL other devices use for a server bound to ``host:port``.

    A wildcard bind (``0.0.0.0``, ``::``) is reached at this machine's address on the
    network its default route leads to (or its host name, failing that).
    """
    if host in WILDCARDS:
        family = socket.AF_INET6 if host == "::" else socket.AF_INET
        host = _outgoing_address(family) or socket.gethostname()
    name = f"[{host}]" if ":" in host else host
    return f"http://{name}:{port}"


def login_banner(
    url: str,
    *,
    host: str,
    fresh: str = "press l for a fresh one",
    page: str = "Control room",
    lan: str = "live.http_host set to this machine's LAN address",
) -> RenderableType:
    """What the terminal shows: the login link to ``page``, its QR code, and where it works.

    ``lan`` says what makes the page reachable from phones, for a server bound to loopback.
    """
    minutes = round(CODE_TTL / 60)
    parts: list[RenderableType] = [
        Text(f"{page}: open this link (or scan the code) on the phone or laptop to use", style="bold"),
        Text(url, style="bold cyan"),
        Text("\n".join(qr_lines(url)), style="black on bright_white"),
        Text(f"The link works once, for {minutes} minutes; {fresh}.", style="dim"),
    ]
    if is_loopback(host):
        parts.append(Text(f"Only this machine can open it: phones need {lan}.", style="yellow"))
    return Group(*parts)
