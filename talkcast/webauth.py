"""Who may use talkcast's web pages: one-time login codes, sessions, CSRF and Origin checks.

Shared by the control room (``talkcast live``, ``streamer/room``) and the review page
(``talkcast review``, ``app/review``), so that both log in and guard alike.

Pure: no I/O, the time is always passed in (seconds, any clock that only moves forward
while talkcast runs; the web handlers use ``time.monotonic``).

* A **login code** is what ``talkcast live`` or ``talkcast review`` prints (and
  ``POST /api/login-codes`` returns) inside a URL. It works once, expires after
  ``CODE_TTL`` seconds, and is compared in constant time against every code still
  outstanding.
* Spending a code makes a **session**: a random id, which the browser keeps in an
  HttpOnly, SameSite=Strict cookie (never the live token), and a CSRF token, which the
  page carries and sends back as a header with every action. Sessions live in memory:
  a restart of the server logs everyone out.
* An action needs the session cookie, the session's CSRF token, and, when the browser
  sends one, an Origin header naming this very server.
* The servers bind loopback by default and then answer only requests whose Host is a
  loopback name (``is_loopback``, ``host_name``): a web page cannot reach them through
  DNS rebinding. Every page carries ``PAGE_HEADERS`` (a strict CSP, no referrer).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass

CODE_TTL = 600.0  # seconds a login code stays valid
SESSION_TTL = 24 * 3600.0  # seconds a session lasts: the whole night, not the whole week
MAX_CODES = 32  # outstanding codes kept; issuing more drops the oldest
MAX_SESSIONS = 64  # sessions kept; a new login beyond that drops the oldest
COOKIE_PREFIX = "talkcast_room_"
CSRF_HEADER = "X-CSRF-Token"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}
# The pages load nothing from elsewhere and run no inline script: a strict policy costs nothing.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",  # the login URL's code never leaves in a Referer
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def _bytes(text: str) -> bytes:
    """Text as bytes for ``hmac.compare_digest``, which takes str only when it is ASCII."""
    return text.encode("utf-8", "surrogateescape")


@dataclass
class _Code:
    value: bytes
    expires: float


class LoginCodes:
    """The one-time login codes handed out and not yet spent."""

    def __init__(self, *, ttl: float = CODE_TTL, limit: int = MAX_CODES) -> None:
        self.ttl = ttl
        self.limit = limit
        self._codes: list[_Code] = []

    def issue(self, now: float) -> str:
        """A fresh code, valid for ``ttl`` seconds from ``now``, once."""
        code = secrets.token_urlsafe(18)
        self._codes = [c for c in self._codes if c.expires > now][-(self.limit - 1) :]
        self._codes.append(_Code(_bytes(code), now + self.ttl))
        return code

    def consume(self, code: str, now: float) -> bool:
        """Whether ``code`` is outstanding and unexpired; if so it is spent.

        Every outstanding code is compared, with ``hmac.compare_digest``, even after a
        match: how long this takes says nothing about how close a guess came.
        """
        given = _bytes(code)
        found: _Code | None = None
        for candidate in self._codes:
            if hmac.compare_digest(given, candidate.value) and found is None:
                found = candidate
        self._codes = [c for c in self._codes if c is not found and c.expires > now]
        return found is not None and found.expires > now

    def __len__(self) -> int:
        return len(self._codes)


@dataclass(frozen=True)
class RoomSession:
    """One logged-in browser."""

    id: str  # the cookie's value
    csrf: str  # carried by the page, sent back in the X-CSRF-Token header
    expires: float


def _key(session_id: str) -> str:
    # Sessions are found by a hash of their id, so no lookup compares the secret itself
    # byte by byte: a dict probe on a SHA-256 digest leaks nothing usable about the id.
    return hashlib.sha256(_bytes(session_id)).hexdigest()


class Sessions:
    """The logged-in browsers, in memory."""

    def __init__(self, *, ttl: float = SESSION_TTL, limit: int = MAX_SESSIONS) -> None:
        self.ttl = ttl
        self.limit = limit
        self._by_key: dict[str, RoomSession] = {}

    def create(self, now: float) -> RoomSession:
        """A new session, valid for ``ttl`` seconds."""
        self._by_key = {k: s for k, s in self._by_key.items() if s.expires > now}
        while len(self._by_key) >= self.limit:
            del self._by_key[next(iter(self._by_key))]  # the oldest (dicts keep insertion order)
        session = RoomSession(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now + self.ttl)
        self._by_key[_key(session.id)] = session
        return session

    def get(self, session_id: str | None, now: float) -> RoomSession | None:
        """The live session with this cookie value, or None (unknown, expired or no cookie)."""
        if not session_id:
            return None
        session = self._by_key.get(_key(session_id))
        if session is None or session.expires <= now:
            return None
        return session

    def end(self, session_id: str) -> None:
        """Log this session out."""
        self._by_key.pop(_key(session_id), None)

    def __len__(self) -> int:
        return len(self._by_key)


def csrf_ok(session: RoomSession, header: str | None) -> bool:
    """Whether the X-CSRF-Token header carries this session's token (constant-time compare)."""
    return header is not None and hmac.compare_digest(_bytes(header), _bytes(session.csrf))


def origin_ok(origin: str | None, scheme: str, host: str) -> bool:
    """Whether an Origin header, when the browser sent one, names this server (``scheme://host``).

    Browsers send Origin with every cross-origin request and with same-origin POSTs; a
    missing header is a non-browser client, which still needs the cookie and the CSRF
    token. ``null`` (a sandboxed frame, a redirect across origins) is refused.
    """
    if origin is None:
        return True
    return origin.lower() == f"{scheme}://{host}".lower()


def cookie_name(host: str) -> str:
    """The session cookie's name for the server reached as ``host`` (``name:port``).

    Cookies ignore ports: two rooms run on one machine (ports 8787 and 8788) would share
    one cookie and log each other out. The port in the name keeps them apart.
    """
    _, colon, port = host.rpartition(":")
    return f"{COOKIE_PREFIX}{port if colon and port.isdigit() else '80'}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only reaches this machine."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(host_header: str) -> str:
    """The name in a Host header, without its port (``[::1]:8787`` gives ``[::1]``)."""
    if host_header.startswith("["):
        return host_header.split("]")[0] + "]"
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header
