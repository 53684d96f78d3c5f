"""A strict local stand-in for the YouTube Data API v3 and Google's OAuth token endpoint.

It implements what talkcast uses the way Google does: the resumable upload protocol
(initiation, chunk ``PUT`` s answered ``308`` + ``Range``, the ``bytes */TOTAL`` status
query), multipart and simple media uploads, videos, captions, thumbnails, playlists and
playlistItems, Bearer auth with each method's scopes and parameters taken from the static
discovery document google-api-python-client ships, Google's quota costs, and Google-shaped
errors. Faults are injected on demand: a 503 on a chunk, a connection dropped mid-chunk,
expired access tokens, quota exhaustion, ``uploadLimitExceeded``.

For ``talkcast live``'s health poller, ``liveStreams.list`` also answers with the streams
made by ``add_live_stream``, with the health a test sets by ``set_stream_health``.

It speaks TLS with a throwaway self-signed certificate: the client keeps the discovery
document's ``https`` scheme for media upload URLs whatever ``api_endpoint`` says. Build a
client against it like this::

    import google_auth_httplib2, httplib2
    from google.oauth2.credentials import Credentials
    from googleapiclient.discovery import build

    with YouTubeTestServer() as yt:
        creds = Credentials.from_authorized_user_file(str(yt.make_token_file(path)))
        creds = creds.with_token_uri(yt.token_uri)  # from_authorized_user_* ignores token_uri
        http = httplib2.Http(ca_certs=yt.ca_file, timeout=10)
        http.redirect_codes = http.redirect_codes - {308}  # 308 means "Resume Incomplete"
        youtube = build("youtube", "v3", static_discovery=True,
                        client_options={"api_endpoint": yt.api_root},
                        http=google_auth_httplib2.AuthorizedHttp(creds, http=http))

A child process (``talkcast publish``) may use ``build(..., credentials=creds)`` instead
when started with ``env={**os.environ, **yt.client_env()}``: httplib2 reads
``HTTPLIB2_CA_CERTS`` once, when it is imported.

Quota is charged when a call succeeds (a resumable upload at its initiation); a call that
would go past the daily limit fails with 403 ``quotaExceeded``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import ipaddress
import json
import re
import secrets
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from yarl import URL

Json = dict[str, Any]
Media = tuple[str, bytes]  # (content type, bytes)

CHUNK_GRANULARITY = 256 * 1024  # every resumable chunk but the last is a multiple of this
SCOPE_UPLOAD = "https://www.googleapis.com/auth/youtube.upload"
SCOPE_FORCE_SSL = "https://www.googleapis.com/auth/youtube.force-ssl"
# Google's published costs. captions.list costs 50, not 1 like the other list calls.
QUOTA_COSTS: dict[str, int] = {
    "videos.list": 1, "videos.insert": 1600, "videos.update": 50, "captions.list": 50, "captions.insert": 400,
    "captions.update": 450, "thumbnails.set": 50, "playlists.list": 1, "playlists.insert": 50,
    "playlistItems.list": 1, "playlistItems.insert": 50,
    "playlistItems.delete": 50,  # added for talkcast's publisher: a replaced video's playlist item
    # Added for talkcast's live broadcasts (Google's quota table: every write 50, every list 1).
    "liveBroadcasts.list": 1, "liveBroadcasts.insert": 50, "liveBroadcasts.update": 50, "liveBroadcasts.bind": 50,
    "liveBroadcasts.transition": 50, "liveStreams.list": 1, "liveStreams.insert": 50,
}  # fmt: skip
WRITE_METHODS = frozenset(m for m in QUOTA_COSTS if not m.endswith(".list"))
PARTS = {
    "videos": {
        "id",
        "snippet",
        "status",
        "contentDetails",
        "processingDetails",
        "recordingDetails",
        "localizations",
        "liveStreamingDetails",
    },
    "captions": {"id", "snippet"},
    "thumbnails": set(),
    "playlists": {"id", "snippet", "status", "contentDetails", "localizations"},
    "playlistItems": {"id", "snippet", "contentDetails", "status"},
    "liveBroadcasts": {"id", "snippet", "contentDetails", "status", "monetizationDetails"},
    "liveStreams": {"id", "snippet", "cdn", "contentDetails", "status"},
}
LIVE_RESOLUTIONS = frozenset(("240p", "360p", "480p", "720p", "1080p", "1440p", "2160p", "variable"))
LIVE_FRAME_RATES = frozenset(("30fps", "60fps", "variable"))
CATEGORY_IDS = frozenset(("1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28", "29"))
CHANNEL = {"channelId": "UCtalkcastFakeChannel00", "channelTitle": "talkcast test channel"}
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}
_CALL: contextvars.ContextVar[Call] = contextvars.ContextVar("call")
_QUOTA_LINK = '<a href="/youtube/v3/getting-started#quota">quota</a>.'
_CONTENT_RANGE = re.compile(r"bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)")


class ApiError(Exception):
    """An error the API answers with, in Google's JSON shape."""

    def __init__(self, code: int, reason: str, message: str, domain: str = "global", **extra: str) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code, self.reason, self.message, self.domain, self.extra = code, reason, message, domain, extra

    def body(self) -> Json:
        """``{"error": {"code", "message", "errors": [{"message", "domain", "reason"}], "status"}}``."""
        detail = {"message": self.message, "domain": self.domain, "reason": self.reason, **self.extra}
        status = _STATUS.get(self.code, "FAILED_PRECONDITION" if self.code < 500 else "UNAVAILABLE")
        return {"error": {"code": self.code, "message": self.message, "errors": [detail], "status": status}}


def _bad(reason: str, message: str, domain: str = "global", **extra: str) -> ApiError:
    return ApiError(400, reason, message, domain, **extra)


class _Dropped(Exception):
    """The connection was closed on purpose; no response goes out."""


@dataclass
class Call:
    """One recorded request. ``api`` is e.g. ``videos.insert``, ``videos.insert:chunk`` or ``oauth.token``."""

    method: str
    path: str
    query: dict[str, str]
    api: str = ""
    write: bool = False
    status: int | None = None  # None: the connection was dropped


@dataclass
class UploadSession:
    """A resumable upload session and everything the server saw of it."""

    upload_id: str
    api: str
    query: dict[str, str]
    metadata: Json | None
    content_type: str
    total: int | None
    data: bytearray = field(default_factory=bytearray)
    acked: int = 0  # bytes the client has been told (Range) that the server holds
    bytes_received: int = 0  # every body byte read, including discarded and resent ones
    resent_acked_bytes: int = 0  # bytes sent again although a Range had acknowledged them
    chunks: list[tuple[int, int, int | None]] = field(default_factory=list)  # (first, last, status or None: dropped)
    result: Json | None = None

    @property
    def offset(self) -> int:
        """Bytes persisted so far: the next chunk must start at or before this."""
        return len(self.data)


@dataclass
class LiveIngest:
    """Where the fake's liveStreams take their programme, and how the fake sees it arrive.

    YouTube calls a stream ``active`` while an encoder publishes to its ingestion address
    under its stream name. The fake cannot take RTMP itself: a test points ``address`` and
    ``backup_address`` at nginx-rtmp stand-ins it started (``tests/support/rtmp.py``) and
    passes ``publishing``, which asks the stand-ins' stat pages whether anything publishes
    a stream name right now. The fake asks each time it reads a stream's status (a list,
    a transition, a broadcast's auto start or stop), so "active" holds exactly while the
    relay really pushes there, and turns "inactive" the moment it stops. Without
    ``publishing`` a stream is active only while a test says an encoder publishes it
    (``set_stream_publishing``); YouTube's own ingest addresses are handed out by default.
    """

    address: str = "rtmp://a.rtmp.youtube.com/live2"
    backup_address: str = "rtmp://b.rtmp.youtube.com/live2?backup=1"
    publishing: Callable[[str], bool] | None = None


def parse_multipart_related(content_type: str, body: bytes) -> list[Media]:
    """Split a ``multipart/related`` body into ``(content type, payload)`` parts.

    google-api-python-client writes bare ``\\n`` line breaks (email.generator's default),
    others ``\\r\\n``; both work. The line break before a delimiter belongs to the
    delimiter (RFC 2046), so payloads come back byte-exact.
    """
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/related") or m is None:
        raise _bad("badContent", "Expected a multipart/related body with a boundary.")
    pieces = (b"\n" + body).split(b"\n--" + m.group(1).encode())
    if len(pieces) < 3 or not pieces[-1].startswith(b"--"):
        raise _bad("badContent", "Malformed multipart body.")
    parts = []
    for piece in pieces[1:-1]:
        # The headers end at the first blank line, whichever line break it uses; the payload may
        # hold either kind (an SRT file with CRLF, say).
        ends = [(i, len(sep)) for sep in (b"\n\n", b"\r\n\r\n") if (i := piece.find(sep)) >= 0]
        if not ends:
            raise _bad("badContent", "Malformed multipart part.")
        at, width = min(ends)
        head, payload = piece[:at], piece[at + width :]
        payload = payload.removesuffix(b"\r") if width == 4 else payload  # a CRLF writer ends parts with CRLF
        headers = dict(ln.decode().strip().partition(":")[::2] for ln in head.splitlines() if ln.strip())
        part_type = {k.strip().lower(): v.strip() for k, v in headers.items()}.get("content-type")
        parts.append((part_type or "application/octet-stream", payload))
    return parts


def _check_video_snippet(snippet: Json, *, update: bool) -> None:
    title = snippet.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 100 or "<" in title or ">" in title:
        raise _bad("invalidTitle", "The request metadata specifies an invalid or empty video title.", "youtube.video")
    desc = snippet.get("description", "")
    # The description limit is 5000 *bytes* of UTF-8, not characters.
    if not isinstance(desc, str) or len(desc.encode()) > 5000 or "<" in desc or ">" in desc:
        raise _bad(
            "invalidDescription", "The request metadata specifies an invalid video description.", "youtube.video"
        )
    tags = snippet.get("tags", [])
    # Tags share 500 characters, commas included, and a tag with a space counts its quotes.
    if not isinstance(tags, list) or sum(len(t) + 2 * (" " in t) + 1 for t in tags) - 1 > 500:
        raise _bad("invalidTags", "The request metadata specifies invalid video keywords.", "youtube.video")
    category = snippet.get("categoryId")  # required by videos.update when it writes the snippet
    if (category is None and update) or (category is not None and str(category) not in CATEGORY_IDS):
        raise _bad(
            "invalidCategoryId", "The snippet.categoryId property specifies an invalid category ID.", "youtube.video"
        )


def _check_video_status(status: Json) -> None:
    privacy, license_ = status.get("privacyStatus", "public"), status.get("license", "youtube")
    if privacy not in ("private", "public", "unlisted") or license_ not in ("youtube", "creativeCommon"):
        raise _bad("invalidVideoMetadata", "The request metadata is invalid.", "youtube.video")
    if "publishAt" not in status:
        return
    # Scheduled publishing needs a private video and a time in the future.
    try:
        when = dt.datetime.fromisoformat(str(status["publishAt"]).replace("Z", "+00:00"))
        ok = when.tzinfo is not None and when > dt.datetime.now(dt.UTC)
    except ValueError:
        ok = False
    if not ok or status.get("privacyStatus") != "private":
        raise _bad(
            "invalidPublishAt", "The request metadata specifies an invalid scheduled publishing time.", "youtube.video"
        )


def _view(resource: Json, parts: set[str]) -> Json:
    """What the API returns: only the parts the request named, plus kind, etag and id."""
    return {k: v for k, v in resource.items() if k in ("kind", "etag", "id") or k in parts}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _etag() -> str:
    return secrets.token_urlsafe(20)


def _parse_json(raw: bytes) -> Json:
    try:
        value = json.loads(raw)
    except ValueError as err:
        raise _bad("parseError", "Parse Error") from err
    if not isinstance(value, dict):
        raise _bad("parseError", "Parse Error")
    return value


def _make_cert(directory: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for 127.0.0.1 and localhost that is its own CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "talkcast YouTube fake")])
    now = dt.datetime.now(dt.UTC)
    san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(san), critical=False).sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = directory / "ca.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pkcs8, plain = serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, pkcs8, plain))
    return cert_file, key_file


def _discovery() -> tuple[dict[tuple[str, str], str], dict[str, Json]]:
    """Routes ``(HTTP method, path) -> method`` and each method's description, from the static document."""
    doc = json.loads(
        (resources.files("googleapiclient") / "discovery_cache/documents/youtube.v3.json").read_text(encoding="utf-8")
    )
    routes, methods = {}, {}
    for res_name, res in doc["resources"].items():
        for name, m in res.get("methods", {}).items():
            if f"{res_name}.{name}" in QUOTA_COSTS:
                routes[(m["httpMethod"], m["path"])] = f"{res_name}.{name}"
                methods[f"{res_name}.{name}"] = {**m, "parameters": {**doc["parameters"], **m.get("parameters", {})}}
    return routes, methods


class YouTubeTestServer:
    """The fake YouTube and OAuth server, on 127.0.0.1 in a background thread with its own loop.

    Use it as a context manager; ``api_root``, ``token_uri`` and ``ca_file`` are set once it
    runs. Every request is recorded in ``calls``. ``videos``, ``captions``, ``playlists``,
    ``playlist_items`` and ``sessions`` hold the state; faults are armed with the methods
    below, or with ``POST /_control`` (same keys as ``control``).
    """

    def __init__(
        self, *, daily_quota: int = 10_000, video_insert_cost: int = 1600,
        video_insert_calls_per_day: int | None = None, scopes: tuple[str, ...] = (SCOPE_UPLOAD, SCOPE_FORCE_SSL),
        unverified_project: bool = False, token_lifetime: int = 3599, body_timeout: float = 10.0,
    ) -> None:  # fmt: skip
        self.client_id = "talkcast-test.apps.googleusercontent.com"
        self.client_secret = "GOCSPX-fake-" + secrets.token_urlsafe(12)
        self.refresh_token = "1//fake-" + secrets.token_urlsafe(32)
        self.daily_quota, self.quota_used = daily_quota, 0
        self.costs = {**QUOTA_COSTS, "videos.insert": video_insert_cost}
        # Google's newer accounting gives videos.insert its own bucket of calls per day.
        self.video_insert_calls_per_day, self.video_inserts_used = video_insert_calls_per_day, 0
        self.granted_scopes = frozenset(scopes)
        self.unverified_project = unverified_project  # Google locks such projects' uploads to private
        self.token_lifetime, self.body_timeout = token_lifetime, body_timeout
        self.calls: list[Call] = []
        self.videos: dict[str, Json] = {}
        self.captions: dict[str, Json] = {}
        self.playlists: dict[str, Json] = {}
        self.playlist_items: dict[str, Json] = {}
        self.sessions: dict[str, UploadSession] = {}
        self.api_root = self.token_uri = self.ca_file = ""
        self._media: dict[str, bytes] = {}  # video or caption id -> bytes; "thumb:" + video id -> image
        self._tokens: dict[str, tuple[frozenset[str], dt.datetime]] = {}
        self._refresh_revoked = self._upload_limit = False
        self._fail_chunks: dict[int, int] = {}  # chunk PUT number -> status
        self._drop_chunks: dict[int, int | None] = {}  # chunk PUT number -> bytes to read first
        self._chunk_puts = 0
        self._in_flight = 0  # requests being handled right now
        self.chunk_delay = 0.0  # seconds before answering each chunk PUT (see throttle_chunks)
        self._auth_codes: dict[str, dict[str, str]] = {}  # authorization-code grant, see the end of the class
        # Live broadcasts and streams (see "Added for talkcast's live broadcasts" below).
        self.live_broadcasts: dict[str, Json] = {}
        self.live_streams: dict[str, Json] = {}
        self.live_ingest = LiveIngest()
        self.live_streaming_enabled = True  # False: the channel cannot stream (403 liveStreamingNotEnabled)
        self.transition_settle = 0.2  # seconds a broadcast spends in testStarting / liveStarting
        self.transitions: list[tuple[str, str]] = []  # (broadcast id, status) of every transition accepted
        self._publishing: dict[str, bool] = {}
        self._ever_active: set[str] = set()
        self._live_pending: dict[str, tuple[str, float]] = {}  # broadcast id -> (state, when it settles)
        self._routes, self._methods = _discovery()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> YouTubeTestServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Make the certificate, bind a free port and serve from a background thread."""
        self._tmp = tempfile.TemporaryDirectory(prefix="youtube-fake-")
        cert, key = _make_cert(Path(self._tmp.name))
        self.ca_file = str(cert)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="youtube-fake", daemon=True)
        self._thread.start()
        port = asyncio.run_coroutine_threadsafe(self._serve(ctx), self._loop).result(10)
        self.api_root = f"https://127.0.0.1:{port}/"
        self.token_uri = self.api_root + "token"

    def stop(self) -> None:
        """Close every connection, stop the loop, join the thread, delete the certificate."""
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = self._thread = self._runner = None
        if self._tmp is not None:
            self._tmp.cleanup()

    async def _shutdown(self) -> None:
        if self._runner is None:
            return
        # Abort open connections first: closing TLS politely would wait for the client's close_notify.
        for handler in self._runner.server.connections if self._runner.server else []:
            if handler.transport is not None:
                handler.transport.abort()
        await self._runner.cleanup()
        await asyncio.sleep(0)  # let the aborted sockets close before the loop stops

    async def _serve(self, ctx: ssl.SSLContext) -> int:
        app = web.Application(middlewares=[self._middleware], client_max_size=2**30)
        app.router.add_post("/token", self._h_token)
        app.router.add_get("/o/oauth2/auth", self._h_authorize)
        app.router.add_route("*", "/_control", self._h_control)
        app.router.add_route("*", "/upload/youtube/v3/{res:.+}", self._h_api)
        app.router.add_route("*", "/youtube/v3/{res:.+}", self._h_api)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ctx).start()
        return int(self._runner.addresses[0][1])

    # -- for tests ------------------------------------------------------------------------

    def uploaded_bytes(self, video_id: str) -> bytes:
        """The media a finished upload created ``video_id`` from."""
        return self._media[video_id]

    def caption_bytes(self, caption_id: str) -> bytes:
        """The current content of a caption track."""
        return self._media[caption_id]

    def thumbnail_bytes(self, video_id: str) -> bytes:
        """The image last set as the video's thumbnail."""
        return self._media["thumb:" + video_id]

    def session_for(self, video_id: str) -> UploadSession:
        """The resumable session that created ``video_id``."""
        return next(s for s in self.sessions.values() if s.result is not None and s.result.get("id") == video_id)

    def wait_idle(self, timeout: float = 15.0) -> None:
        """Wait until no request is being handled, a killed client's last chunk included.

        A client killed after sending a chunk's body leaves the server still receiving and
        storing it; a status query answered before that is done cannot count those bytes.
        """
        deadline = time.monotonic() + timeout
        while self._in_flight:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self._in_flight} request(s) still being handled after {timeout} s")
            time.sleep(0.01)

    def write_calls(self) -> list[Call]:
        """Calls that create or change something, every upload chunk included."""
        return [c for c in list(self.calls) if c.write]

    def fail_chunk(self, nth: int = 1, status: int = 503) -> None:
        """Answer the ``nth`` chunk PUT (carrying bytes) from now with ``status``; its bytes are discarded."""
        with self._lock:
            self._fail_chunks[self._chunk_puts + nth] = status

    def drop_chunk(self, nth: int = 1, after_bytes: int | None = None) -> None:
        """Cut the connection of the ``nth`` chunk PUT from now after reading ``after_bytes`` of it (default half).

        Like Google, the server keeps what it read in whole 256 KiB units. Through TLS the client
        sees a clean end of stream, and httplib2 then resends the request once by itself: with a
        file-backed upload the body stream is already consumed, so that resend carries no bytes and
        stalls until ``body_timeout`` (or the client's own timeout) ends it.
        """
        with self._lock:
            self._drop_chunks[self._chunk_puts + nth] = after_bytes

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working: 401 until the client refreshes."""
        with self._lock:
            self._tokens.clear()

    def revoke_refresh_token(self) -> None:
        """The refresh token stops working (``invalid_grant``)."""
        self._refresh_revoked = True

    def exhaust_quota_after(self, units: int) -> None:
        """Let ``units`` more quota units through today, then answer ``quotaExceeded``."""
        self.daily_quota = self.quota_used + units

    def reset_quota(self, daily_quota: int | None = None) -> None:
        """Midnight Pacific: the day's quota and upload bucket start again."""
        self.quota_used = self.video_inserts_used = 0
        self.daily_quota = self.daily_quota if daily_quota is None else daily_quota

    def set_upload_limit_exceeded(self, on: bool = True) -> None:
        """Make videos.insert fail with 400 ``uploadLimitExceeded`` (the channel's daily upload cap)."""
        self._upload_limit = on

    def control(
        self, *, fail_chunk: int | None = None, drop_chunk: int | None = None, drop_after_bytes: int | None = None,
        expire_tokens: bool = False, quota_remaining: int | None = None, reset_quota: bool = False,
        upload_limit_exceeded: bool | None = None,
    ) -> None:  # fmt: skip
        """Arm faults in one call; ``POST /_control`` takes the same keys as a JSON object."""
        if reset_quota:
            self.reset_quota()
        if fail_chunk is not None:
            self.fail_chunk(fail_chunk)
        if drop_chunk is not None:
            self.drop_chunk(drop_chunk, drop_after_bytes)
        if expire_tokens:
            self.expire_access_tokens()
        if quota_remaining is not None:
            self.exhaust_quota_after(quota_remaining)
        if upload_limit_exceeded is not None:
            self.set_upload_limit_exceeded(upload_limit_exceeded)

    def issue_access_token(self, scopes: frozenset[str] | None = None) -> str:
        """A working access token, as the token endpoint hands them out."""
        token = "ya29.fake-" + secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = (scopes or self.granted_scopes, dt.datetime.now(dt.UTC) + self._lifetime)
        return token

    @property
    def _lifetime(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.token_lifetime)

    def make_token_file(self, path: Path | str, *, with_access_token: bool = True) -> Path:
        """Write an authorized-user JSON (mode 0600) as google-auth's ``Credentials.to_json()`` does.

        Its ``token_uri`` points here. With ``with_access_token`` it holds a working token and
        its expiry, so nothing is refreshed until the token stops working. Note that
        ``Credentials.from_authorized_user_file`` ignores ``token_uri`` and uses Google's.
        """
        from google.oauth2.credentials import Credentials

        token = self.issue_access_token() if with_access_token else None
        expiry = dt.datetime.now(dt.UTC).replace(tzinfo=None) + self._lifetime  # google-auth: naive UTC
        creds = Credentials(
            token, refresh_token=self.refresh_token, token_uri=self.token_uri, client_id=self.client_id,
            client_secret=self.client_secret, scopes=sorted(self.granted_scopes), expiry=expiry if token else None,
        )  # fmt: skip
        out = Path(path)
        out.write_text(creds.to_json(), encoding="utf-8")
        out.chmod(0o600)
        return out

    def make_client_secrets(self, path: Path | str) -> Path:
        """Write an installed-app OAuth client JSON, as the Cloud console downloads it."""
        installed = {"client_id": self.client_id, "client_secret": self.client_secret, "project_id": "talkcast-test",
                     "auth_uri": self.api_root + "o/oauth2/auth", "token_uri": self.token_uri,
                     "redirect_uris": ["http://localhost"]}  # fmt: skip
        out = Path(path)
        out.write_text(json.dumps({"installed": installed}), encoding="utf-8")
        return out

    def client_env(self) -> dict[str, str]:
        """Environment for a child process, so that httplib2 and requests trust this server."""
        return {"HTTPLIB2_CA_CERTS": self.ca_file, "REQUESTS_CA_BUNDLE": self.ca_file, "SSL_CERT_FILE": self.ca_file}

    # -- HTTP -------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == "/_control":
            return await handler(request)
        call = Call(request.method, request.path, dict(request.query))
        _CALL.set(call)  # the handler runs in this task and fills in what it learns
        self.calls.append(call)
        with self._lock:
            self._in_flight += 1
        try:
            return await self._answer(request, handler, call)
        finally:
            with self._lock:
                self._in_flight -= 1

    async def _answer(self, request: web.Request, handler: Any, call: Call) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except _Dropped:
            return web.Response(status=499)  # goes nowhere: the transport is closed
        except ApiError as err:
            if request.can_read_body:  # read the body, so the client sees this answer and not EPIPE
                with contextlib.suppress(Exception):
                    await request.read()
            headers = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'}
            response = web.json_response(err.body(), status=err.code, headers=headers if err.code == 401 else None)
        except web.HTTPNotFound:
            response = web.json_response(ApiError(404, "notFound", "Not Found").body(), status=404)
        call.status = response.status
        return response

    async def _h_control(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            try:
                self.control(**await request.json())
            except (TypeError, ValueError) as err:
                return web.json_response({"error": str(err)}, status=400)
        summary = {"quota_used": self.quota_used, "daily_quota": self.daily_quota, "videos": sorted(self.videos)}
        return web.json_response({**summary, "write_calls": len(self.write_calls())})

    async def _h_token(self, request: web.Request) -> web.Response:
        """Google's token endpoint; only the refresh_token grant (RFC 6749, section 6)."""
        _CALL.get().api = "oauth.token"
        form = {k: str(v) for k, v in (await request.post()).items()}

        def fail(status: int, error: str, description: str) -> web.Response:
            return web.json_response({"error": error, "error_description": description}, status=status)

        if form.get("grant_type") == "authorization_code":
            return self._code_grant(form, request.headers.get("Authorization", ""))
        if form.get("grant_type") != "refresh_token":
            return fail(400, "unsupported_grant_type", f"Invalid grant_type: {form.get('grant_type', '')}")
        for name in ("client_id", "refresh_token"):
            if not form.get(name):
                return fail(400, "invalid_request", f"Missing required parameter: {name}")
        if form["client_id"] != self.client_id:
            return fail(401, "invalid_client", "The OAuth client was not found.")
        if form.get("client_secret") != self.client_secret:
            return fail(401, "invalid_client", "Unauthorized")
        if form["refresh_token"] != self.refresh_token:
            return fail(400, "invalid_grant", "Bad Request")
        if self._refresh_revoked:
            return fail(400, "invalid_grant", "Token has been expired or revoked.")
        scopes = frozenset(form.get("scope", "").split()) or self.granted_scopes
        if not scopes <= self.granted_scopes:
            return fail(400, "invalid_scope", "Some requested scopes were invalid.")
        token = {"access_token": self.issue_access_token(scopes), "expires_in": self.token_lifetime}
        return web.json_response({**token, "scope": " ".join(sorted(scopes)), "token_type": "Bearer"})

    def _check_auth(self, request: web.Request, api: str) -> None:
        header = request.headers.get("Authorization", "")
        if not header:
            raise ApiError(401, "required", "Login Required.", location="Authorization", locationType="header")
        scheme, _, token = header.partition(" ")
        with self._lock:
            scopes, expiry = self._tokens.get(token, (frozenset(), None))
        if scheme.lower() != "bearer" or expiry is None or expiry <= dt.datetime.now(dt.UTC):
            raise ApiError(401, "authError", "Invalid Credentials", location="Authorization", locationType="header")
        if not scopes & set(self._methods[api]["scopes"]):
            raise ApiError(403, "insufficientPermissions", "Request had insufficient authentication scopes.")

    def _check_params(self, api: str, query: dict[str, str]) -> None:
        known = self._methods[api]["parameters"]
        for name in query.keys() - known.keys():
            # Google refuses unknown query parameters rather than ignoring them.
            raise _bad("invalid", f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query parameter.')
        for name in (n for n, spec in known.items() if spec.get("required") and not query.get(n)):
            raise _bad("required", f"Required parameter: {name}", location=name, locationType="parameter")

    def _check_quota(self, api: str) -> None:
        if api == "videos.insert" and self._upload_limit:
            msg = "The user has exceeded the number of videos they may upload."
            raise _bad("uploadLimitExceeded", msg, "youtube.video")
        if api == "videos.insert" and self.video_insert_calls_per_day is not None:
            over = self.video_inserts_used >= self.video_insert_calls_per_day
        else:
            over = self.quota_used + self.costs[api] > self.daily_quota
        if over:
            msg = "The request cannot be completed because you have exceeded your " + _QUOTA_LINK
            raise ApiError(403, "quotaExceeded", msg, "youtube.quota")

    def _charge(self, api: str) -> None:
        if api == "videos.insert" and self.video_insert_calls_per_day is not None:
            self.video_inserts_used += 1
        else:
            self.quota_used += self.costs[api]

    def _check_media(self, api: str, mime: str, size: int) -> None:
        accept, max_size = (
            self._methods[api]["mediaUpload"]["accept"],
            int(self._methods[api]["mediaUpload"]["maxSize"]),
        )
        if not any(a in ("*/*", mime) or (a.endswith("/*") and mime.startswith(a[:-1])) for a in accept):
            raise _bad("badContent", f"Media type '{mime}' is not supported. Valid media types: [{', '.join(accept)}]")
        if size > max_size:
            raise ApiError(413, "uploadTooLarge", f"Media larger than {max_size} bytes.")

    async def _h_api(self, request: web.Request) -> web.StreamResponse:
        call = _CALL.get()
        query, upload = dict(request.query), request.path.startswith("/upload/")
        if upload and "upload_id" in query:
            return await self._h_session(request, call, query.pop("upload_id"))
        api = self._routes.get((request.method, request.path.removeprefix("/upload").lstrip("/")))
        if api is None:
            raise ApiError(404, "notFound", "Not Found (or not implemented by this fake).")
        call.api, call.write = api, api in WRITE_METHODS
        self._check_auth(request, api)
        self._check_params(api, query)
        kind = query.get("uploadType")
        self._check_upload_kind(api, upload, kind)
        metadata, media = self._split_body(request, kind, await request.read())
        if media is not None:
            self._check_media(api, media[0], len(media[1]))
        self._check_quota(api)
        op = getattr(self, "_op_" + api.replace(".", "_"))
        if kind == "resumable":
            return self._start_session(request, api, query, metadata, op)
        result = op(query, metadata or {}, media)
        self._charge(api)
        if api.endswith(".delete"):
            return web.Response(status=204)  # Google answers a delete with no content
        return web.json_response(result)

    def _check_upload_kind(self, api: str, upload: bool, kind: str | None) -> None:
        if upload != (kind is not None) or (upload and kind not in ("media", "multipart", "resumable")):
            raise _bad("invalid", "Uploads go to /upload/ URLs with uploadType media, multipart or resumable.")
        if upload and "mediaUpload" not in self._methods[api]:
            raise ApiError(404, "notFound", "This method takes no media.")
        if not upload and api in ("videos.insert", "captions.insert", "thumbnails.set"):
            raise _bad("mediaBodyRequired", "The request does not include the media content.")

    @staticmethod
    def _split_body(request: web.Request, kind: str | None, raw: bytes) -> tuple[Json | None, Media | None]:
        """(JSON metadata, media) of a request body, as its ``uploadType`` lays them out."""
        if kind == "multipart":
            parts = parse_multipart_related(request.headers.get("Content-Type", ""), raw)
            if len(parts) != 2 or not parts[0][0].startswith("application/json"):
                raise _bad("badContent", "Expected a JSON part and then a media part.")
            return _parse_json(parts[0][1]), parts[1]
        if kind == "media":
            return None, (request.content_type, raw)
        return (_parse_json(raw) if raw else None), None

    def _start_session(
        self, request: web.Request, api: str, query: dict[str, str], metadata: Json | None, op: Any
    ) -> web.Response:
        # Resumable initiation: Google checks the metadata now, not once the bytes are in.
        op(query, metadata or {}, None, commit=False)
        size = request.headers.get("X-Upload-Content-Length")
        if size is not None and not size.isdigit():
            raise _bad("badContent", "Invalid X-Upload-Content-Length header.")
        mime = request.headers.get("X-Upload-Content-Type", "application/octet-stream")
        self._check_media(api, mime, int(size or 0))
        upload_id = "ADPycd" + secrets.token_urlsafe(40)
        total = None if size is None else int(size)
        self.sessions[upload_id] = UploadSession(upload_id, api, query, metadata, mime, total)
        self._charge(api)
        query_string = request.rel_url.update_query(upload_id=upload_id).query_string
        location = f"{self.api_root}{request.path.lstrip('/')}?{query_string}"
        return web.Response(headers={"Location": location, "X-GUploader-UploadID": upload_id})

    async def _h_session(self, request: web.Request, call: Call, upload_id: str) -> web.StreamResponse:
        """A PUT to a session URI: a chunk, or the ``bytes */TOTAL`` status query.

        The upload id is the credential here, as on Google's upload servers: no Bearer token needed.
        """
        session = self.sessions.get(upload_id)
        if session is None or request.method != "PUT":
            raise ApiError(404, "notFound", "No such upload session.")
        call.api, length = session.api + ":status", request.content_length or 0
        span = self._content_range(request, session, length)
        if span is None:
            return self._session_state(session)
        call.api, call.write = session.api + ":chunk", True
        start, end, total = span
        if session.result is not None:
            return self._session_state(session)
        with self._lock:
            self._chunk_puts += 1
            dropping, drop = self._chunk_puts in self._drop_chunks, self._drop_chunks.pop(self._chunk_puts, None)
            fail = self._fail_chunks.pop(self._chunk_puts, None)
        size = end - start + 1
        if dropping:
            data = await self._read(request, size // 2 if drop is None else min(drop, size), session, (start, end))
            # Bytes that arrived before the connection died are kept in whole 256 KiB units.
            self._persist(session, start, data[: len(data) // CHUNK_GRANULARITY * CHUNK_GRANULARITY])
            session.chunks.append((start, end, None))
            _close(request)
            raise _Dropped
        data = await self._read(request, size, session, (start, end))
        if self.chunk_delay:
            await asyncio.sleep(self.chunk_delay)
        if fail is not None:
            session.chunks.append((start, end, fail))
            raise ApiError(fail, "backendError", "Backend Error")
        self._persist(session, start, data)
        if total is None or end + 1 != total:
            session.chunks.append((start, end, 308))
            return self._session_state(session)
        return self._finish_session(session, start, end, total)

    def _content_range(
        self, request: web.Request, session: UploadSession, length: int
    ) -> tuple[int, int, int | None] | None:
        """(first, last, total) of a chunk PUT, checked; None for a status query (``bytes */TOTAL``)."""
        header = request.headers.get("Content-Range")
        if header is None:  # without Content-Range the body is the whole file
            header = f"bytes 0-{length - 1}/{length}" if length else "bytes */0"
        m = _CONTENT_RANGE.fullmatch(header)
        if m is None:
            raise _bad("badContent", f"Failed to parse Content-Range header: {header!r}")
        total = None if m[3] == "*" else int(m[3])
        if total is not None and session.total is not None and total != session.total:
            raise _bad(
                "badContent",
                f"Content-Range total {total} is not the declared X-Upload-Content-Length {session.total}.",
            )
        if m[1] is None:
            if length:
                raise _bad("badContent", "A status query (bytes */TOTAL) carries no body.")
            return None
        start, end = int(m[1]), int(m[2])
        size, final = end - start + 1, total is not None and end + 1 == total
        if end < start or size != length or (total is not None and end >= total):
            raise _bad("badContent", f"Content-Range {header!r} does not fit a body of {length} bytes.")
        if not final and size % CHUNK_GRANULARITY:
            msg = f"Invalid chunk size {size}: all chunks but the last must be multiples of {CHUNK_GRANULARITY} bytes."
            raise _bad("badContent", msg)
        if start > session.offset:
            raise _bad("badContent", f"Chunk starts at byte {start}, but the server holds {session.offset}.")
        return start, end, total

    def _finish_session(self, session: UploadSession, start: int, end: int, total: int) -> web.Response:
        """The last chunk is in: the method runs on the whole upload and its resource is the answer."""
        session.total = total
        op = getattr(self, "_op_" + session.api.replace(".", "_"))
        session.result = op(session.query, session.metadata or {}, (session.content_type, bytes(session.data)))
        status = 201 if session.api.endswith(".insert") else 200  # 201 Created for a new resource
        session.chunks.append((start, end, status))
        return web.json_response(session.result, status=status)

    async def _read(self, request: web.Request, n: int, session: UploadSession, span: tuple[int, int]) -> bytes:
        try:
            data = await asyncio.wait_for(request.content.readexactly(n), self.body_timeout)
        except (asyncio.IncompleteReadError, TimeoutError) as err:
            # A body that stalls or stops short costs the client its connection.
            session.chunks.append((*span, None))
            _close(request)
            raise _Dropped from err
        session.bytes_received += len(data)
        return data

    @staticmethod
    def _persist(session: UploadSession, start: int, data: bytes) -> None:
        # Google takes a chunk that overlaps what it holds and ignores the overlap. Count resent
        # bytes that a Range had acknowledged: a correct client never sends those again.
        overlap = max(min(session.offset - start, len(data)), 0)
        if data[:overlap] != session.data[start : start + overlap]:
            raise _bad("badContent", "Resent bytes differ from the bytes received before.")
        session.resent_acked_bytes += max(min(session.acked - start, len(data)), 0)
        session.data += data[overlap:]

    @staticmethod
    def _session_state(session: UploadSession) -> web.Response:
        if session.result is not None:
            return web.json_response(session.result)
        session.acked = session.offset
        # 308 "Resume Incomplete"; with no Range header at all while the server holds nothing.
        headers = {"Range": f"bytes=0-{session.offset - 1}"} if session.offset else {}
        return web.Response(status=308, reason="Resume Incomplete", headers=headers)

    # -- API methods: (query, body, media, commit) -> resource ---------------------------
    # With commit=False they only validate, for the initiation of a resumable upload.

    def _video(self, video_id: str, domain: str = "youtube.video") -> Json:
        if video_id not in self.videos:
            raise ApiError(404, "videoNotFound", "The video identified by the request cannot be found.", domain)
        return self.videos[video_id]

    def _write_video(self, video: Json, body: Json, parts: set[str]) -> Json:
        # Writing a part replaces all its mutable properties: what the body leaves out is
        # cleared, and an omitted privacyStatus means the channel default, public.
        if "snippet" in parts:
            snippet = body["snippet"]
            new = {k: snippet[k] for k in ("tags", "defaultLanguage", "defaultAudioLanguage") if k in snippet}
            title, desc = snippet["title"], snippet.get("description", "")
            keep = {k: v for k, v in video.get("snippet", {}).items() if k in ("publishedAt", "thumbnails")}
            category = str(snippet.get("categoryId", "22"))
            video["snippet"] = {"publishedAt": _now(), "thumbnails": {}, **keep, **CHANNEL, "title": title,
                                "description": desc, "categoryId": category,
                                "liveBroadcastContent": video.get("snippet", {}).get("liveBroadcastContent", "none"),
                                "localized": {"title": title, "description": desc}, **new}  # fmt: skip
        if "status" in parts:
            s = body.get("status") or {}
            privacy = "private" if self.unverified_project else s.get("privacyStatus", "public")
            extra = {k: s[k] for k in ("publishAt", "selfDeclaredMadeForKids") if k in s}
            flags = {k: s.get(k, True) for k in ("embeddable", "publicStatsViewable")}
            kids = bool(s.get("selfDeclaredMadeForKids", False))
            license_ = s.get("license", "youtube")
            video["status"] = {"uploadStatus": "processed", "privacyStatus": privacy, "license": license_, **flags,
                               "madeForKids": kids, **extra}  # fmt: skip
        for part in parts & {"recordingDetails", "localizations"}:
            video[part] = body.get(part) or {}
        video["etag"] = _etag()
        return video

    def _op_videos_insert(self, q: dict[str, str], body: Json, media: Media | None, commit: bool = True) -> Json:
        # Only the parts named in `part` are read; the rest of the body is silently ignored.
        parts = _parts(q, "videos")
        _check_video_snippet(body.get("snippet") or {} if "snippet" in parts else {}, update=False)
        _check_video_status(body.get("status") or {} if "status" in parts else {})
        if not commit or media is None:
            return {}
        video_id = secrets.token_urlsafe(8)[:11]
        video = {"kind": "youtube#video", "id": video_id, "contentDetails": {"duration": "PT0S", "caption": "false"},
                 "processingDetails": {"processingStatus": "succeeded"}}  # fmt: skip
        # A video always has a status; one the request does not name in `part` gets the defaults.
        status = body.get("status") if "status" in parts else {}
        self.videos[video_id] = self._write_video(video, {**body, "status": status}, parts | {"status"})
        self._media[video_id] = media[1]
        return _view(video, parts)

    def _op_videos_update(self, q: dict[str, str], body: Json, media: Media | None, commit: bool = True) -> Json:
        parts = _parts(q, "videos")
        video = self._video(str(body.get("id", "")))
        if "snippet" in parts:
            _check_video_snippet(body.get("snippet") or {}, update=True)
        if "status" in parts:
            _check_video_status(body.get("status") or {})
        return _view(self._write_video(video, body, parts), parts)

    def _op_videos_list(self, q: dict[str, str], body: Json, media: Media | None, commit: bool = True) -> Json:
        parts = _parts(q, "videos")
        if "id" not in q:
            raise _bad("missingRequiredParameter", "No filter selected. Expected one of: id, myRating, chart")
        # Unknown ids are no error: they are just missing from `items`.
        items = [_view(self.videos[i], parts) for i in q["id"].split(",") if i in self.videos]
        return _page("youtube#videoListResponse", items, q)

    def _op_captions_insert(self, q: dict[str, str], body: Json, media: Media | None, commit: bool = True) -> Json:
        parts, snippet = _parts(q, "captions"), body.get("snippet") or {}
        video_id, name, language = (
            str(snippet.get("videoId", "")),
            str(snippet.get("name", "")),
            snippet.get("language"),
        )
        self._video(video_id, "youtube.caption")
        if not language or len(name) > 150:
            raise _bad("invalidMetadata", "The request contains invalid metadata values.", "youtube.caption")
        track = (video_id, language, name)
        if any((c["snippet"]["videoId"], c["snippet"]["language"], c["snippet"]["name"]) == track
               for c in self.captions.values()):  # fmt: skip
            msg = "The specified video already has a caption track with the given snippet.language and snippet.name."
            raise ApiError(409, "captionExists", msg, "youtube.caption")
        if not commit:
            return {}
        if not media or not media[1]:
            raise _bad("contentRequired", "The request does not contain the caption track contents.", "youtube.caption")
        caption_id = "AUieDa" + secrets.token_urlsafe(30)
        self.captions[caption_id] = {"kind": "youtube#caption", "id": caption_id, "snippet": {
            "videoId": video_id, "language": language, "name": name, "trackKind": "standard",
            "audioTrackType": "unknown", "isCC": False, "isDraft": bool(snippet.get("isDraft"))}}  # fmt: skip
        return self._set_caption(caption_id, media[1], parts)

    def _set_caption(self, caption_id: str, data: bytes, parts: set[str]) -> Json:
        self._media[caption_id] = data
        try:  # YouTube parses the track after the call returns; an unreadable one ends up "failed"
            status = "serving" if "-->" in data.decode("utf-8-sig") else "failed"
        except UnicodeDecodeError:
            status = "failed"
        caption = self.captions[caption_id]
        caption["snippet"].update(lastUpdated=_now(), status=status)
        caption["etag"] = _etag()
        return _view(caption, parts)

    def _op_captions_update(self, q: dict[str, str], body: Json, media: Media | None, commit: bool = True) -> Json:
        parts, caption = _parts(q, "captions"), self.captions.get(str(body.get("id", "")))
        if caption is None:
            raise ApiError(404, "captionNotFound", "The caption track could not be found.", "youtube.caption")
        if commit and "snippet" in parts and "isDraft" in (body.get("snippet") or {}):
            caption["snippet"]["isDraft"] = bool(body["snippet"]["isDraft"])
        return self._set_caption(caption["id"], media[1], parts) if commit and media else _view(caption, parts)

    def _op_captions_list(self, q: dict[str, str], body: Json, media: Media | None, commit: bool = True) -> Json:
        parts, ids = _parts(q, "captions"), set(q["id"].split(",")) if "id" in q else None
        self._video(q["videoId"], "youtube.caption")
        items = [_view(c, parts) for i, c in self.captions.items()
                 if c["snippet"]["videoId"] == q["videoId"] and (ids is None or i in ids)]  # fmt: skip
        return {"kind": "youtube#captionListResponse", "etag": _etag(), "items": items}

    def _op_thumbnails_set(self, q: dict[str, str], body: Json, media: Media | None, commit: bool = True) -> Json:
        video = self._video(q["videoId"], "youtube.thumbnail")
        if not commit or media is None:
            return {}
        if not media[1].startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")):
            raise _bad("invalidImage", "The provided image content is invalid.", "youtube.thumbnail")
        if len(media[1]) > 2 * 2**20:
            raise _bad("mediaBodyTooLarge", "The thumbnail image is larger than 2 MB.", "youtube.thumbnail")
        self._media["thumb:" + video["id"]] = media[1]
        url = f"https://i.ytimg.com/vi/{video['id']}/%s.jpg?v={secrets.token_hex(4)}"
        sizes = {"default": (120, 90), "medium": (320, 180), "high": (480, 360)}
        thumbs = {k: {"url": url % k, "width": w, "height": h} for k, (w, h) in sizes.items()}
        video["snippet"]["thumbnails"] = thumbs
        return {"kind": "youtube#thumbnailSetResponse", "etag": _etag(), "items": [thumbs]}

    def _op_playlists_insert(self, q: dict[str, str], body: Json, media: Media | None, commit: bool = True) -> Json:
        parts, snippet = _parts(q, "playlists"), body.get("snippet") or {}
        title, desc = str(snippet.get("title", "")).strip(), str(snippet.get("description", ""))
        if not title:
            raise _bad("playlistTitleRequired", "The request must specify a playlist title.", "youtube.playlist")
        if len(title) > 150 or "<" in title or ">" in title:
            raise _bad("invalidPlaylistSnippet", "The playlist snippet is invalid.", "youtube.playlist")
        playlist_id = "PL" + secrets.token_urlsafe(24)[:32]
        privacy = (body.get("status") or {}).get("privacyStatus", "public")
        self.playlists[playlist_id] = {"kind": "youtube#playlist", "etag": _etag(), "id": playlist_id, "snippet": {
            "publishedAt": _now(), **CHANNEL, "title": title, "description": desc, "thumbnails": {},
            "localized": {"title": title, "description": desc}}, "status": {"privacyStatus": privacy}}  # fmt: skip
        return self._playlist_view(playlist_id, parts)

    def _playlist_view(self, playlist_id: str, parts: set[str]) -> Json:
        count = sum(i["snippet"]["playlistId"] == playlist_id for i in self.playlist_items.values())
        return _view({**self.playlists[playlist_id], "contentDetails": {"itemCount": count}}, parts)

    def _op_playlists_list(self, q: dict[str, str], body: Json, media: Media | None, commit: bool = True) -> Json:
        parts = _parts(q, "playlists")
        if q.get("mine") == "true":
            ids = list(self.playlists)
        elif "id" in q:
            ids = [i for i in q["id"].split(",") if i in self.playlists]
        else:
            raise _bad("missingRequiredParameter", "No filter selected. Expected one of: channelId, id, mine")
        return _page("youtube#playlistListResponse", [self._playlist_view(i, parts) for i in ids], q)

    def _items_of(self, playlist_id: str) -> list[Json]:
        if playlist_id not in self.playlists:
            msg = "The playlist identified with the request's playlistId parameter cannot be found."
            raise ApiError(404, "playlistNotFound", msg, "youtube.playlistItem")
        items = [i for i in self.playlist_items.values() if i["snippet"]["playlistId"] == playlist_id]
        return sorted(items, key=lambda i: int(i["snippet"]["position"]))

    def _op_playlistItems_insert(self, q: dict[str, str], body: Json, media: Media | None, commit: bool = True) -> Json:
        parts, snippet = _parts(q, "playlistItems"), body.get("snippet") or {}
        if not snippet.get("playlistId"):
            msg = "The request does not specify a value for the required playlistId property."
            raise _bad("playlistIdRequired", msg, "youtube.playlistItem")
        items, resource = self._items_of(snippet["playlistId"]), snippet.get("resourceId") or {}
        if resource.get("kind") != "youtube#video":
            msg = "The type specified for the resource ID is not supported."
            raise _bad("invalidResourceType", msg, "youtube.playlistItem")
        video = self._video(str(resource.get("videoId", "")), "youtube.playlistItem")
        position = snippet.get("position", len(items))
        if not isinstance(position, int) or not 0 <= position <= len(items):
            msg = "The request attempts to set the playlist item's position to an invalid or unsupported value."
            raise _bad("invalidPlaylistItemPosition", msg, "youtube.playlistItem")
        for later in items[position:]:
            later["snippet"]["position"] += 1
        # Like YouTube, a video may go into the same playlist any number of times.
        item_id = "UEx" + secrets.token_urlsafe(36)
        self.playlist_items[item_id] = {"kind": "youtube#playlistItem", "etag": _etag(), "id": item_id, "snippet": {
            "publishedAt": _now(), **CHANNEL, "title": video["snippet"]["title"], "playlistId": snippet["playlistId"],
            "position": position, "resourceId": {"kind": "youtube#video", "videoId": video["id"]}},
            "contentDetails": {"videoId": video["id"]}, "status": {"privacyStatus": video["status"]["privacyStatus"]},
        }  # fmt: skip
        return _view(self.playlist_items[item_id], parts)

    def _op_playlistItems_delete(self, q: dict[str, str], body: Json, media: Media | None, commit: bool = True) -> Json:
        item = self.playlist_items.get(q.get("id", ""))
        if item is None:
            msg = "The playlist item identified with the request's id parameter cannot be found."
            raise ApiError(404, "playlistItemNotFound", msg, "youtube.playlistItem")
        del self.playlist_items[item["id"]]
        for later in self.playlist_items.values():
            same = later["snippet"]["playlistId"] == item["snippet"]["playlistId"]
            if same and later["snippet"]["position"] > item["snippet"]["position"]:
                later["snippet"]["position"] -= 1
        return {}

    def _op_playlistItems_list(self, q: dict[str, str], body: Json, media: Media | None, commit: bool = True) -> Json:
        parts = _parts(q, "playlistItems")
        if "playlistId" in q:
            items = self._items_of(q["playlistId"])
        elif "id" in q:
            items = [self.playlist_items[i] for i in q["id"].split(",") if i in self.playlist_items]
        else:
            raise _bad("missingRequiredParameter", "No filter selected. Expected one of: id, playlistId")
        items = [i for i in items if q.get("videoId", i["contentDetails"]["videoId"]) == i["contentDetails"]["videoId"]]
        return _page("youtube#playlistItemListResponse", [_view(i, parts) for i in items], q)

    # -- Added for talkcast's live broadcasts: liveBroadcasts and liveStreams ----------------
    # A broadcast's life, as YouTube runs it: insert ("created"), bind a stream ("ready"),
    # transition to testing ("testStarting", then "testing": the monitor stream), to live
    # ("liveStarting", then "live": the public stream and its recording) and to complete.
    # The *Starting states last ``transition_settle`` seconds. A transition out of order is
    # 403 invalidTransition, one to the state it is in 403 redundantTransition, and testing
    # or live need the bound stream to be active (403 errorStreamInactive). Nothing leaves
    # "complete". The broadcast's id is also the id of its video, the stream's recording.

    def set_stream_publishing(self, stream_name: str, on: bool = True) -> None:
        """Say an encoder publishes ``stream_name`` (for tests without an RTMP stand-in)."""
        self._publishing[stream_name] = on

    def _live_allowed(self, domain: str) -> None:
        if not self.live_streaming_enabled:
            msg = "The user is not enabled for live streaming."
            raise ApiError(403, "liveStreamingNotEnabled", msg, domain)

    def _stream_active(self, stream: Json) -> bool:
        name = stream["cdn"]["ingestionInfo"]["streamName"]
        probe = self.live_ingest.publishing
        active = bool(self._publishing.get(name) or (probe is not None and probe(name)))
        if active:
            self._ever_active.add(stream["id"])
        return active

    def _stream_view(self, stream: Json, parts: set[str]) -> Json:
        """The stream with its status as of now: active while something publishes to it
        (or, for a stream from ``add_live_stream``, the health a test set)."""
        if "status" in stream:
            return _view(stream, parts)
        active = self._stream_active(stream)
        state = "active" if active else "inactive" if stream["id"] in self._ever_active else "ready"
        health = {"status": "good" if active else "noData", "lastUpdateTimeSeconds": int(time.time()),
                  "configurationIssues": []}  # fmt: skip
        return _view({**stream, "status": {"streamStatus": state, "healthStatus": health}}, parts)

    def _op_liveStreams_insert(self, q: dict[str, str], body: Json, media: Media | None, commit: bool = True) -> Json:
        parts = _parts(q, "liveStreams")
        self._live_allowed("youtube.liveStream")
        snippet, cdn = body.get("snippet") or {}, body.get("cdn") or {}
        title = str(snippet.get("title", "")).strip()
        if "snippet" not in parts or not title:
            raise _bad("titleRequired", "The request must specify a stream title.", "youtube.liveStream")
        if len(title) > 128:
            raise _bad("invalidTitle", "The stream title must be 1 to 128 characters long.", "youtube.liveStream")
        if "cdn" not in parts or not cdn:
            raise _bad("cdnRequired", "The request must specify the cdn settings.", "youtube.liveStream")
        self._check_cdn(cdn)
        stream_id = CHANNEL["channelId"][2:] + secrets.token_urlsafe(12)
        name = "-".join(secrets.token_hex(2) for _ in range(5))
        ingest = self.live_ingest
        info = {"streamName": name, "ingestionAddress": ingest.address, "backupIngestionAddress": ingest.backup_address,
                "rtmpsIngestionAddress": ingest.address.replace("rtmp://", "rtmps://"),
                "rtmpsBackupIngestionAddress": ingest.backup_address.replace("rtmp://", "rtmps://")}  # fmt: skip
        reusable = (body.get("contentDetails") or {}).get("isReusable", True)
        self.live_streams[stream_id] = {
            "kind": "youtube#liveStream", "etag": _etag(), "id": stream_id,
            "snippet": {"publishedAt": _now(), "channelId": CHANNEL["channelId"], "title": title,
                        "description": str(snippet.get("description", "")), "isDefaultStream": False},
            "cdn": {"ingestionType": "rtmp", "ingestionInfo": info, "resolution": cdn["resolution"],
                    "frameRate": cdn["frameRate"]},
            "contentDetails": {"closedCaptionsIngestionUrl": f"http://upload.youtube.com/closedcaption?cid={name}",
                               "isReusable": bool(reusable)},
        }  # fmt: skip
        return self._stream_view(self.live_streams[stream_id], parts)

    @staticmethod
    def _check_cdn(cdn: Json) -> None:
        kind = cdn.get("ingestionType")
        if not kind:
            raise _bad("ingestionTypeRequired", "The cdn settings must specify an ingestionType.", "youtube.liveStream")
        if kind != "rtmp":  # this fake hands out RTMP ingestion only
            raise _bad("invalidIngestionType", f"Unsupported ingestionType '{kind}'.", "youtube.liveStream")
        for name, values in (("resolution", LIVE_RESOLUTIONS), ("frameRate", LIVE_FRAME_RATES)):
            if name not in cdn:
                raise _bad(f"{name}Required", f"The cdn settings must specify a {name}.", "youtube.liveStream")
            if cdn[name] not in values:
                reason = "invalidResolution" if name == "resolution" else "invalidFrameRate"
                raise _bad(reason, f"The cdn.{name} value '{cdn[name]}' is invalid.", "youtube.liveStream")

    def _op_liveStreams_list(self, q: dict[str, str], body: Json, media: Media | None, commit: bool = True) -> Json:
        parts = _parts(q, "liveStreams")
        self._live_allowed("youtube.liveStream")
        if ("id" in q) == (q.get("mine") == "true"):
            raise _bad("incompatibleParameters", "Specify exactly one of the filters: id, mine.")
        ids = q["id"].split(",") if "id" in q else list(self.live_streams)
        items = [self._stream_view(self.live_streams[i], parts) for i in ids if i in self.live_streams]
        return _page("youtube#liveStreamListResponse", items, q)

    def _broadcast(self, broadcast_id: str) -> Json:
        broadcast = self.live_broadcasts.get(broadcast_id)
        if broadcast is None:
            msg = "The broadcast specified by the id parameter does not exist."
            raise ApiError(404, "liveBroadcastNotFound", msg, "youtube.liveBroadcast")
        self._settle(broadcast)
        return broadcast

    def _settle(self, broadcast: Json) -> None:
        """Move a broadcast on as time passed: *Starting settles, auto start and auto stop act."""
        status, details = broadcast["status"], broadcast["contentDetails"]
        pending = self._live_pending.get(broadcast["id"])
        if pending is not None and time.monotonic() >= pending[1]:
            del self._live_pending[broadcast["id"]]
            self._set_life(broadcast, pending[0])
        stream = self.live_streams.get(details.get("boundStreamId", ""))
        active = stream is not None and self._stream_active(stream)
        if details["enableAutoStart"] and status["lifeCycleStatus"] in ("ready", "testing") and active:
            self._set_life(broadcast, "live")
        if details["enableAutoStop"] and status["lifeCycleStatus"] == "live" and not active:
            self._set_life(broadcast, "complete")

    def _set_life(self, broadcast: Json, life: str) -> None:
        broadcast["status"]["lifeCycleStatus"] = life
        broadcast["etag"] = _etag()
        video = self.videos[broadcast["id"]]
        now = _now()
        if life == "live":
            broadcast["snippet"]["actualStartTime"] = video["liveStreamingDetails"]["actualStartTime"] = now
            broadcast["status"]["recordingStatus"] = "recording"
            video["snippet"]["liveBroadcastContent"] = "live"
        elif life == "complete":
            broadcast["snippet"]["actualEndTime"] = video["liveStreamingDetails"]["actualEndTime"] = now
            broadcast["status"]["recordingStatus"] = "recorded"
            video["snippet"]["liveBroadcastContent"] = "none"

    def _check_broadcast_snippet(self, snippet: Json) -> None:
        title = snippet.get("title")
        domain = "youtube.liveBroadcast"
        if not isinstance(title, str) or not title.strip():
            raise _bad("titleRequired", "The request must specify a broadcast title.", domain)
        if len(title) > 100 or "<" in title or ">" in title:
            raise _bad("invalidTitle", "The broadcast title must be 1 to 100 characters long.", domain)
        desc = snippet.get("description", "")
        if not isinstance(desc, str) or len(desc.encode()) > 5000 or "<" in desc or ">" in desc:
            raise _bad("invalidDescription", "The broadcast description is invalid.", domain)
        if not snippet.get("scheduledStartTime"):
            raise _bad("scheduledStartTimeRequired", "The request must specify a scheduled start time.", domain)
        try:
            start = dt.datetime.fromisoformat(str(snippet["scheduledStartTime"]).replace("Z", "+00:00"))
            ok = start.tzinfo is not None and start > dt.datetime.now(dt.UTC)
        except ValueError:
            ok = False
        if not ok:
            msg = "The scheduled start time must be in the future and close enough to the current date."
            raise _bad("invalidScheduledStartTime", msg, domain)

    def _op_liveBroadcasts_insert(
        self, q: dict[str, str], body: Json, media: Media | None, commit: bool = True
    ) -> Json:
        parts = _parts(q, "liveBroadcasts")
        domain = "youtube.liveBroadcast"
        self._live_allowed(domain)
        snippet = body.get("snippet") or {} if "snippet" in parts else {}
        self._check_broadcast_snippet(snippet)
        status = body.get("status") or {} if "status" in parts else {}
        privacy = status.get("privacyStatus")
        if privacy is None:
            raise _bad("privacyStatusRequired", "The request must specify a privacy status.", domain)
        if privacy not in ("private", "public", "unlisted"):
            raise _bad("invalidPrivacyStatus", "The privacy status is invalid.", domain)
        given = body.get("contentDetails") or {} if "contentDetails" in parts else {}
        monitor = {"enableMonitorStream": True, "broadcastStreamDelayMs": 0, **(given.get("monitorStream") or {})}
        details = {"enableEmbed": True, "enableDvr": True, "recordFromStart": True, "enableClosedCaptions": False,
                   "enableContentEncryption": False, "startWithSlate": False, "enableLowLatency": False,
                   "latencyPreference": "normal", "projection": "rectangular", "enableAutoStart": False,
                   "enableAutoStop": False, **given, "monitorStream": monitor}  # fmt: skip
        broadcast_id = secrets.token_urlsafe(8)[:11]
        kids = bool(status.get("selfDeclaredMadeForKids", False))
        title, desc = snippet["title"], str(snippet.get("description", ""))
        self.live_broadcasts[broadcast_id] = {
            "kind": "youtube#liveBroadcast", "etag": _etag(), "id": broadcast_id,
            "snippet": {"publishedAt": _now(), "channelId": CHANNEL["channelId"], "title": title, "description": desc,
                        "scheduledStartTime": snippet["scheduledStartTime"], "thumbnails": {},
                        "liveChatId": "Cg0KC" + secrets.token_urlsafe(12), "isDefaultBroadcast": False},
            "status": {"lifeCycleStatus": "created", "privacyStatus": privacy, "recordingStatus": "notRecording",
                       "madeForKids": kids, "selfDeclaredMadeForKids": kids},
            "contentDetails": details,
        }  # fmt: skip
        # The broadcast is also a video: the stream's recording, under the same id.
        video = {"kind": "youtube#video", "id": broadcast_id, "contentDetails": {"duration": "P0D", "caption": "false"},
                 "liveStreamingDetails": {"scheduledStartTime": snippet["scheduledStartTime"]}}  # fmt: skip
        video_body = {"snippet": {"title": title, "description": desc}, "status": {"privacyStatus": privacy}}
        self.videos[broadcast_id] = self._write_video(video, video_body, {"snippet", "status"})
        video["snippet"]["liveBroadcastContent"] = "upcoming"
        return _view(self.live_broadcasts[broadcast_id], parts)

    def _op_liveBroadcasts_list(self, q: dict[str, str], body: Json, media: Media | None, commit: bool = True) -> Json:
        parts = _parts(q, "liveBroadcasts")
        self._live_allowed("youtube.liveBroadcast")
        filters = [f for f in ("id", "mine", "broadcastStatus") if f in q]
        if len(filters) != 1:
            raise _bad("incompatibleParameters", "Specify exactly one of the filters: id, mine, broadcastStatus.")
        ids = q["id"].split(",") if "id" in q else list(self.live_broadcasts)
        found = [self._broadcast(i) for i in ids if i in self.live_broadcasts]
        wanted = {"active": {"live", "liveStarting"}, "upcoming": {"created", "ready", "testing", "testStarting"},
                  "completed": {"complete"}}.get(q.get("broadcastStatus", "all"))  # fmt: skip
        items = [_view(b, parts) for b in found if wanted is None or b["status"]["lifeCycleStatus"] in wanted]
        return _page("youtube#liveBroadcastListResponse", items, q)

    def _op_liveBroadcasts_update(
        self, q: dict[str, str], body: Json, media: Media | None, commit: bool = True
    ) -> Json:
        parts = _parts(q, "liveBroadcasts")
        self._live_allowed("youtube.liveBroadcast")
        broadcast = self._broadcast(str(body.get("id", "")))
        if "snippet" in parts:
            snippet = body.get("snippet") or {}
            self._check_broadcast_snippet(snippet)  # title and scheduledStartTime are required again
            broadcast["snippet"].update(title=snippet["title"], description=str(snippet.get("description", "")),
                                        scheduledStartTime=snippet["scheduledStartTime"])  # fmt: skip
            video = self.videos[broadcast["id"]]
            video["snippet"].update(title=snippet["title"], description=broadcast["snippet"]["description"])
        if "status" in parts:
            privacy = (body.get("status") or {}).get("privacyStatus")
            if privacy not in ("private", "public", "unlisted"):
                raise _bad("invalidPrivacyStatus", "The privacy status is invalid.", "youtube.liveBroadcast")
            broadcast["status"]["privacyStatus"] = self.videos[broadcast["id"]]["status"]["privacyStatus"] = privacy
        if "contentDetails" in parts:
            broadcast["contentDetails"].update(body.get("contentDetails") or {})
        broadcast["etag"] = _etag()
        return _view(broadcast, parts)

    def _op_liveBroadcasts_bind(self, q: dict[str, str], body: Json, media: Media | None, commit: bool = True) -> Json:
        parts = _parts(q, "liveBroadcasts")
        self._live_allowed("youtube.liveBroadcast")
        broadcast = self._broadcast(q["id"])
        stream_id = q.get("streamId")
        if stream_id is not None and stream_id not in self.live_streams:
            msg = "The stream specified by the streamId parameter does not exist."
            raise ApiError(404, "liveStreamNotFound", msg, "youtube.liveBroadcast")
        if broadcast["status"]["lifeCycleStatus"] not in ("created", "ready"):
            msg = "The current status of the live broadcast does not allow it to be bound to a stream."
            raise ApiError(403, "liveBroadcastBindingNotAllowed", msg, "youtube.liveBroadcast")
        details = broadcast["contentDetails"]
        details.pop("boundStreamId", None)
        if stream_id is not None:
            details.update(boundStreamId=stream_id, boundStreamLastUpdateTimeMs=_now())
        broadcast["status"]["lifeCycleStatus"] = "ready" if stream_id is not None else "created"
        broadcast["etag"] = _etag()
        return _view(broadcast, parts)

    def _op_liveBroadcasts_transition(
        self, q: dict[str, str], body: Json, media: Media | None, commit: bool = True
    ) -> Json:
        parts = _parts(q, "liveBroadcasts")
        domain = "youtube.liveBroadcast"
        self._live_allowed(domain)
        broadcast, target = self._broadcast(q["id"]), q["broadcastStatus"]
        life = broadcast["status"]["lifeCycleStatus"]
        if target not in ("testing", "live", "complete"):
            raise _bad("invalidValue", f"Invalid value '{target}' for broadcastStatus.", domain)
        if life == target or life == {"testing": "testStarting", "live": "liveStarting"}.get(target):
            raise ApiError(403, "redundantTransition", "Redundant transition", domain)
        allowed = {"testing": {"ready"}, "live": {"testing"}, "complete": {"testing", "live"}}[target]
        monitor = broadcast["contentDetails"]["monitorStream"]["enableMonitorStream"]
        if target == "live" and not monitor:
            allowed = {"ready", "testing"}  # without a monitor stream there is no testing to go through
        if (target == "testing" and not monitor) or life not in allowed:
            raise ApiError(403, "invalidTransition", "Invalid transition", domain)
        stream = self.live_streams.get(broadcast["contentDetails"].get("boundStreamId", ""))
        if target != "complete" and (stream is None or not self._stream_active(stream)):
            raise ApiError(403, "errorStreamInactive", "Stream is inactive", domain)
        if target == "complete":
            self._set_life(broadcast, "complete")
        else:
            self._live_pending[broadcast["id"]] = (target, time.monotonic() + self.transition_settle)
            broadcast["status"]["lifeCycleStatus"] = "testStarting" if target == "testing" else "liveStarting"
        self.transitions.append((broadcast["id"], target))
        return _view(broadcast, parts)

    # -- Added for talkcast's publisher tests: chunk throttling and the authorization-code grant --
    # The installed-app flow (google-auth-oauthlib) sends the browser to auth_uri, which here
    # consents at once and redirects to the loopback redirect_uri with a one-time code; the
    # flow then exchanges the code (with its PKCE verifier) at the token endpoint.

    # -- liveStreams: the stream talkcast live feeds, and its health as YouTube sees it ----------

    def add_live_stream(self, stream_name: str, *, title: str = "talkcast", health: str = "noData") -> str:
        """A reusable RTMP liveStream whose key is ``stream_name``; returns its id."""
        stream_id = secrets.token_urlsafe(16)
        ingest = "rtmp://a.rtmp.youtube.com/live2"
        self.live_streams[stream_id] = {
            "kind": "youtube#liveStream", "etag": _etag(), "id": stream_id,
            "snippet": {"publishedAt": _now(), "channelId": CHANNEL["channelId"], "title": title, "description": "",
                        "isDefaultStream": False},
            "cdn": {"ingestionType": "rtmp", "resolution": "variable", "frameRate": "variable",
                    "ingestionInfo": {"streamName": stream_name, "ingestionAddress": ingest,
                                      "backupIngestionAddress": "rtmp://b.rtmp.youtube.com/live2?backup=1"}},
            "contentDetails": {"isReusable": True},
            "status": {"streamStatus": "ready", "healthStatus": {"status": health, "configurationIssues": []}},
        }  # fmt: skip
        self.set_stream_health(stream_id, health)
        return stream_id

    def set_stream_health(
        self, stream_id: str, health: str, *, stream_status: str | None = None, issues: list[Json] | None = None
    ) -> None:
        """What YouTube reports next: ``health`` good/ok/bad/noData/revoked, and configurationIssues."""
        if health not in ("good", "ok", "bad", "noData", "revoked"):
            raise ValueError(f"not a healthStatus.status: {health}")
        status = self.live_streams[stream_id]["status"]
        status["streamStatus"] = stream_status or ("inactive" if health == "noData" else "active")
        status["healthStatus"] = {
            "status": health,
            "lastUpdateTimeSeconds": str(int(time.time())),
            "configurationIssues": list(issues or []),
        }

    def throttle_chunks(self, seconds: float) -> None:
        """Wait ``seconds`` before answering each chunk PUT (to kill a client mid-upload)."""
        self.chunk_delay = seconds

    async def _h_authorize(self, request: web.Request) -> web.StreamResponse:
        """Google's consent page, consenting at once: 302 to ``redirect_uri`` with a code."""
        _CALL.get().api = "oauth.authorize"
        q = dict(request.query)
        redirect = q.get("redirect_uri", "")
        if q.get("client_id") != self.client_id or q.get("response_type") != "code":
            return web.json_response({"error": "invalid_request"}, status=400)
        if not redirect.startswith(("http://localhost", "http://127.0.0.1")):
            return web.json_response({"error": "redirect_uri_mismatch"}, status=400)
        scopes = frozenset(q.get("scope", "").split())
        if not scopes or not scopes <= self.granted_scopes:
            return web.json_response({"error": "invalid_scope"}, status=400)
        code = "4/fake-" + secrets.token_urlsafe(24)
        self._auth_codes[code] = {"redirect_uri": redirect, "scope": " ".join(sorted(scopes)),
                                  "challenge": q.get("code_challenge", ""),
                                  "method": q.get("code_challenge_method", "plain")}  # fmt: skip
        target = URL(redirect).update_query(code=code, scope=" ".join(sorted(scopes)), state=q.get("state", ""))
        raise web.HTTPFound(str(target))

    def _code_grant(self, form: dict[str, str], authorization: str) -> web.Response:
        """The authorization_code grant (RFC 6749 section 4.1.3, with PKCE, RFC 7636).

        The client authenticates in the form or with HTTP Basic (RFC 6749 section 2.3.1), as
        requests-oauthlib does; Google takes both.
        """
        import base64
        import hashlib
        import urllib.parse

        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() == "basic":
            user, _, password = base64.b64decode(encoded).decode().partition(":")
            form = {**form, "client_id": urllib.parse.unquote_plus(user),
                    "client_secret": urllib.parse.unquote_plus(password)}  # fmt: skip

        def fail(status: int, error: str, description: str) -> web.Response:
            return web.json_response({"error": error, "error_description": description}, status=status)

        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return fail(401, "invalid_client", "Unauthorized")
        grant = self._auth_codes.pop(form.get("code", ""), None)  # a code works once
        if grant is None:
            return fail(400, "invalid_grant", "Malformed auth code.")
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return fail(400, "redirect_uri_mismatch", "Bad Request")
        if grant["challenge"]:
            verifier = form.get("code_verifier", "")
            if grant["method"] == "S256":
                digest = hashlib.sha256(verifier.encode()).digest()
                verifier = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if verifier != grant["challenge"]:
                return fail(400, "invalid_grant", "Invalid code verifier.")
        scopes = frozenset(grant["scope"].split())
        token = {"access_token": self.issue_access_token(scopes), "expires_in": self.token_lifetime}
        return web.json_response({**token, "refresh_token": self.refresh_token, "scope": grant["scope"],
                                  "token_type": "Bearer"})  # fmt: skip


def _parts(query: dict[str, str], resource: str) -> set[str]:
    parts = {p.strip() for p in query.get("part", "").split(",") if p.strip()}
    for unknown in parts - PARTS[resource]:
        raise _bad("unknownPart", f"'{unknown}'", "youtube.part", location="part", locationType="parameter")
    return parts


def _page(kind: str, items: list[Json], q: dict[str, str]) -> Json:
    # List calls return 5 items unless maxResults (0 to 50) says otherwise; clients must page.
    size, token = q.get("maxResults", "5"), q.get("pageToken", "p0")
    if not size.isdigit() or int(size) > 50:
        raise _bad("invalidParameter", f"Invalid value '{size}'. Values must be within the range: [0, 50]")
    if not re.fullmatch(r"p\d+", token):
        raise _bad("invalidPageToken", "The request specifies an invalid page token.")
    start, n = int(token[1:]), int(size)
    page = {"kind": kind, "etag": _etag(), "pageInfo": {"totalResults": len(items), "resultsPerPage": n}}
    page |= {"nextPageToken": f"p{start + n}"} if start + n < len(items) else {}
    return {**page, "items": items[start : start + n]}


def _close(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()
