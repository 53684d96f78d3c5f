"""``talkcast review``: check and fix every talk's start and end in the browser before it is published.

A local page (aiohttp on ``[review] http_host:http_port``, 127.0.0.1:8788 by default),
logged into and guarded like the control room (``talkcast.webauth``)::

    GET  /review                          every talk: status, where its times came from, duration, flags
    GET  /review/login?code=...           spend a one-time login code (``talkcast review`` prints it)
    GET  /review/talks/{id}               one talk: a player around its start and its end
    GET  /review/talks/{id}/boundary/{start|end}?at=S
                                          the boundary's preview window around S (default: the planned
                                          time): frame times, waveform, suggestions, transcript words
    GET  /review/previews/{name}.mp4      a preview (HTTP Range), made on demand and cached
    POST /review/talks/{id}/set           {"which": "start"|"end", "preview": name, "frame": n}: set here
    POST /review/talks/{id}/approve       approve the cut as it is now
    POST /review/logout                   end this browser's session
    GET  /review/static/{file}            CSS and JavaScript (the control room's stylesheet, and ours)

Modules: ``model`` (the talk list and a talk's facts from cuts.toml and state.db: pure
reads), ``boundary`` (one boundary's window: preview, waveform, suggestions, words),
``web`` (the thin handlers), ``serve`` (the server and the terminal), ``assets``.
The media work (previews, signals, suggestions) is the recorder stage's
(``recorder/preview.py``, ``recorder/boundaries.py``).
"""

from __future__ import annotations

from talkcast.config import Config


def review_url(cfg: Config) -> str:
    """Where ``talkcast review`` serves the page for this event (a login link is still needed)."""
    host = cfg.review.http_host
    name = f"[{host}]" if ":" in host else host
    return f"http://{name}:{cfg.review.http_port}/review"
