"""The resumable upload protocol, with its state kept across crashes.

1. ``POST`` the metadata with ``uploadType=resumable``; the session URI comes back in
   ``Location``. It is saved *before* any byte is sent, so a crash at any point later
   costs no second videos.insert (1,600 units).
2. ``PUT`` chunks (multiples of 256 KiB, the last one may be shorter) with
   ``Content-Range: bytes FIRST-LAST/TOTAL``. ``308 Resume Incomplete`` carries
   ``Range: bytes=0-N``: the server holds N+1 bytes, and the next chunk starts there.
3. After a crash, a 5xx or a dropped connection, ``PUT`` with ``Content-Range:
   bytes */TOTAL`` and no body asks what the server holds; sending resumes from there,
   so acknowledged bytes are never sent again.
4. ``200``/``201`` carries the finished video resource.

Chunks are read from the file and sent as ``bytes``: httplib2 silently resends a
request once when a TLS connection closes, and google-auth retries after a 401 refresh;
both need a body they can send again, which a consumed file stream is not.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httplib2
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaUpload

from talkcast.retry import Backoff

log = logging.getLogger(__name__)

CHUNK_GRANULARITY = 256 * 1024
RETRY_STATUSES = frozenset({500, 502, 503, 504})
# What a dropped connection, a timeout or a reset looks like through httplib2.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (OSError, httplib2.HttpLib2Error, http.client.HTTPException)
_RANGE = re.compile(r"bytes=0-(\d+)")


class _Retry(Exception):
    """A retryable answer (5xx) to a chunk."""


_RETRYABLE: tuple[type[BaseException], ...] = (_Retry, *TRANSPORT_ERRORS)


class FileMedia(MediaUpload):
    """A file described for the discovery-built request (size, type); bytes read on demand."""

    def __init__(self, path: Path, mimetype: str, chunksize: int) -> None:
        self._path = path
        self._mimetype = mimetype
        self._size = path.stat().st_size
        self._chunksize = chunksize

    def chunksize(self) -> int:
        """Bytes per chunk."""
        return self._chunksize

    def mimetype(self) -> str:
        """The media type sent as ``X-Upload-Content-Type``."""
        return self._mimetype

    def size(self) -> int:
        """The file's size in bytes."""
        return self._size

    def resumable(self) -> bool:
        """Always resumable."""
        return True

    def has_stream(self) -> bool:
        """No stream: chunks are handed out as bytes (see the module docstring)."""
        return False

    def getbytes(self, begin: int, length: int) -> bytes:
        """``length`` bytes of the file from ``begin``."""
        with self._path.open("rb") as fh:
            fh.seek(begin)
            return fh.read(length)


def chunk_bytes(chunk_mib: int) -> int:
    """The chunk size in bytes: whole MiB are always a multiple of 256 KiB."""
    return max(chunk_mib, 1) * 1024 * 1024


def held_bytes(range_header: str | None) -> int:
    """How many bytes a ``308`` says the server holds (no ``Range`` header: none)."""
    if not range_header:
        return 0
    m = _RANGE.fullmatch(range_header.strip())
    if m is None:
        raise ValueError(f"unexpected Range header {range_header!r}")
    return int(m.group(1)) + 1


def next_span(offset: int, total: int, chunk: int) -> tuple[int, int]:
    """(first, last) byte of the chunk that starts at ``offset``."""
    return offset, min(offset + chunk, total) - 1


def content_range(first: int | None, last: int, total: int) -> str:
    """``bytes FIRST-LAST/TOTAL``, or the status query ``bytes */TOTAL`` when ``first`` is None."""
    return f"bytes */{total}" if first is None else f"bytes {first}-{last}/{total}"


# YouTube asks clients to retry 5xx and dropped connections with exponential backoff and
# jitter. Full jitter (a wait drawn from 0 up to 1, 2, 4 ... 32 s) spreads retries of
# many clients best and never waits longer than the plain curve would.
UPLOAD_BACKOFF = Backoff(initial=1.0, cap=32.0, jitter=1.0)


@dataclass(frozen=True)
class Session:
    """A resumable session as kept in state.db (the URI, and what the file was)."""

    uri: str
    size: int
    sha256: str
    acked: int = 0

    def to_json(self) -> dict[str, Any]:
        """For the state store."""
        return {"uri": self.uri, "size": self.size, "sha256": self.sha256, "acked": self.acked}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Session:
        """From the state store."""
        return cls(str(data["uri"]), int(data["size"]), str(data["sha256"]), int(data.get("acked", 0)))


class SessionGone(Exception):
    """The server no longer knows the session (expired after about a week): start a new one."""


@dataclass
class Uploader:
    """Drives one resumable upload over an (authorised) ``httplib2``-like object.

    ``save`` is called with the session after initiation and after every acknowledged
    chunk; ``progress`` with (bytes held, total, seconds elapsed).
    """

    http: Any
    path: Path
    chunk: int
    save: Callable[[Session], None]
    progress: Callable[[int, int, float], None] = lambda held, total, seconds: None
    max_attempts: int = 8  # consecutive failures without progress before giving up
    sleep: Callable[[float], None] = time.sleep
    backoff: Backoff = UPLOAD_BACKOFF
    sent_bytes: int = 0  # body bytes this process sent, retries included

    def start(self, request: Any, sha256: str) -> Session:
        """POST the initiation built by the discovery client; returns the new session."""
        size = self.path.stat().st_size
        headers = {**request.headers, "X-Upload-Content-Type": "video/mp4", "X-Upload-Content-Length": str(size)}
        for attempt in range(1, self.max_attempts + 1):
            try:
                resp, content = self.http.request(
                    request.uri, method=request.method, body=request.body, headers=headers
                )
            except TRANSPORT_ERRORS as err:
                log.info("upload initiation failed (%s); retrying", type(err).__name__)
                self.sleep(self.backoff.delay(attempt))
                continue
            if resp.status in RETRY_STATUSES:
                self.sleep(self.backoff.delay(attempt))
                continue
            if resp.status != 200 or "location" not in resp:
                raise HttpError(resp, content, uri=request.uri)
            session = Session(resp["location"], size, sha256)
            self.save(session)
            return session
        raise TimeoutError(f"upload initiation failed {self.max_attempts} times in a row")

    def query(self, session: Session) -> tuple[int, dict[str, Any] | None]:
        """Ask the server what it holds: (bytes, None) or (total, the finished resource)."""
        headers = {"Content-Range": content_range(None, 0, session.size), "Content-Length": "0"}
        resp, content = self.http.request(session.uri, method="PUT", body=b"", headers=headers)
        return self._answer(session, resp, content)

    def _answer(self, session: Session, resp: Any, content: bytes) -> tuple[int, dict[str, Any] | None]:
        if resp.status in (200, 201):
            return session.size, json.loads(content)
        if resp.status == 308:
            return held_bytes(resp.get("range")), None
        if resp.status in (404, 410):
            raise SessionGone(session.uri)
        raise HttpError(resp, content, uri=session.uri)

    def run(self, session: Session, *, resume: bool) -> dict[str, Any]:
        """Send the file from where the server is, through 5xx and dropped connections."""
        started, failures = time.monotonic(), 0
        need_query = resume
        held = session.acked
        with self.path.open("rb") as fh:
            while True:
                try:
                    if need_query:
                        held, done = self.query(session)
                        need_query = False
                        if done is not None:
                            return done
                        self._acked(session, held, started)
                    first, last = next_span(held, session.size, self.chunk)
                    fh.seek(first)
                    body = fh.read(last - first + 1)
                    headers = {"Content-Range": content_range(first, last, session.size)}
                    self.sent_bytes += len(body)
                    resp, content = self.http.request(session.uri, method="PUT", body=body, headers=headers)
                    if resp.status in RETRY_STATUSES:
                        raise _Retry(f"HTTP {resp.status}")
                    new_held, done = self._answer(session, resp, content)
                except _RETRYABLE as err:
                    failures += 1
                    if failures >= self.max_attempts:
                        raise TimeoutError(f"upload made no progress after {failures} attempts ({err})") from err
                    delay = self.backoff.delay(failures)
                    log.info("upload chunk failed (%s); asking the server what it holds in %.1f s", err, delay)
                    self.sleep(delay)
                    need_query = True
                    continue
                if done is not None:
                    self.progress(session.size, session.size, time.monotonic() - started)
                    return done
                if new_held > held:
                    failures = 0
                held = new_held
                self._acked(session, held, started)

    def _acked(self, session: Session, held: int, started: float) -> None:
        self.save(Session(session.uri, session.size, session.sha256, held))
        self.progress(held, session.size, time.monotonic() - started)
