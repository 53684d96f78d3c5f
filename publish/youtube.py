"""The one owner of the YouTube connection: sends built requests, converts their errors.

``YouTube`` sends the requests ``talkcast.publish.build`` makes, retrying 5xx and dropped
connections, converting third-party errors into ``PublishError``/``QuotaExceeded`` at
this boundary (with the API's ``reason`` and the HTTP ``status`` as fields), charging the
quota ledger and persisting refreshed tokens.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.parse
from collections.abc import Callable
from typing import Any

from google.auth.exceptions import GoogleAuthError
from googleapiclient.errors import HttpError

from talkcast.errors import PublishError, QuotaExceeded
from talkcast.publish.build import Built, Requests
from talkcast.publish.client import TokenKeeper
from talkcast.publish.quota import Budget, Ledger, describe_reset, next_reset, pacific_day
from talkcast.publish.upload import TRANSPORT_ERRORS, Session, SessionGone, Uploader
from talkcast.secrets import redact, register_value
from talkcast.state import StateStore

log = logging.getLogger(__name__)

EVENT_KEY = "_youtube"  # state.db talk id for event-wide facts (playlist id, quota ledger)
QUOTA_REASONS = frozenset({"quotaExceeded", "uploadLimitExceeded", "dailyLimitExceeded"})


class AuthFailed(PublishError):
    """The token cannot be used or refreshed: nothing more can be published this run."""


# ---------------------------------------------------------------- sending


def error_reason(err: HttpError) -> str:
    """The ``reason`` of a Google API error (``quotaExceeded``, ``invalidTitle``, ...), or ""."""
    try:
        errors = json.loads(err.content)["error"].get("errors") or [{}]
        return str(errors[0].get("reason", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return ""


def error_text(err: HttpError) -> str:
    """``HTTP 400 invalidTitle: The request metadata ...``: one line."""
    try:
        message = str(json.loads(err.content)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = err.reason if hasattr(err, "reason") else ""
    reason = error_reason(err)
    line = f"HTTP {err.resp.status}" + (f" {reason}" if reason else "") + (f": {message}" if message else "")
    return redact(" ".join(line.split()))


class YouTube:
    """Sends requests for the publisher; the only code that touches the connection."""

    def __init__(
        self,
        service: Any,
        http: Any,
        keeper: TokenKeeper | None,
        budget: Budget,
        store: StateStore,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        retries: int = 5,
    ) -> None:
        self.service = service
        self.http = http
        self.keeper = keeper
        self.budget = budget
        self.store = store
        self.clock = clock
        self.retries = retries
        self.calls = 0

    # -- quota ledger --------------------------------------------------------------

    def ledger(self) -> Ledger:
        """What talkcast spent today (Pacific day), from state.db."""
        return Ledger.from_json(self.store.get(EVENT_KEY, "youtube.quota"), pacific_day(self.clock()))

    def charge(self, api: str) -> None:
        """Record a successful call in today's ledger."""
        self.calls += 1
        self.store.put(EVENT_KEY, "youtube.quota", self.ledger().spend(api, self.budget).to_json())

    # -- calls ---------------------------------------------------------------------

    def execute(self, api: str, built: Built, *, talk: str | None, what: str = "") -> dict[str, Any]:
        """Send one ordinary request (5xx and dropped connections retried with backoff)."""
        label = f"{api} ({what})" if what else api
        try:
            result = built.request.execute(num_retries=self.retries)
        except Exception as err:
            raise self.convert(err, talk=talk, request=label) from err
        finally:
            self._keep_token()
        self.charge(api)
        return dict(result or {})

    def upload(
        self, uploader: Uploader, built: Built | None, session: Session | None, sha256: str, *, talk: str
    ) -> dict[str, Any]:
        """A resumable videos.insert: a new session (``built``) or an existing one resumed."""
        try:
            if session is None:
                assert built is not None
                session = uploader.start(built.request, sha256)
                register_value(_upload_id(session.uri))
                self.charge("videos.insert")
                return uploader.run(session, resume=False)
            register_value(_upload_id(session.uri))
            return uploader.run(session, resume=True)
        except SessionGone:
            raise
        except Exception as err:
            raise self.convert(err, talk=talk, request="videos.insert") from err
        finally:
            self._keep_token()

    def _keep_token(self) -> None:
        if self.keeper is not None:
            self.keeper.check()

    def convert(self, err: BaseException, *, talk: str | None, request: str) -> PublishError:
        """A third-party failure as one of ours, naming the talk and the request."""
        if isinstance(err, PublishError):
            return err
        if isinstance(err, HttpError):
            return self._http_error(err, talk=talk, request=request)
        if isinstance(err, GoogleAuthError):
            detail = redact(str(err).splitlines()[0] if str(err) else type(err).__name__)
            return AuthFailed(
                f"the token was refused ({detail}); run `talkcast auth youtube`", talk=talk, request=request
            )
        if isinstance(err, TRANSPORT_ERRORS | TimeoutError):
            return PublishError(f"network error: {redact(str(err)) or type(err).__name__}", talk=talk, request=request)
        return PublishError(f"{type(err).__name__}: {redact(str(err))}", talk=talk, request=request)

    def _http_error(self, err: HttpError, *, talk: str | None, request: str) -> PublishError:
        reason, status = error_reason(err), int(err.resp.status)
        if reason in QUOTA_REASONS:
            now = self.clock()
            message = (
                f"YouTube's {'upload limit' if reason == 'uploadLimitExceeded' else 'daily quota'} is used up "
                f"({reason}); it resets at midnight Pacific time, {describe_reset(now)}. "
                "Progress is saved: run the same command again then and it resumes"
            )
            resets_at = next_reset(now).isoformat()
            return QuotaExceeded(message, resets_at=resets_at, talk=talk, request=request, reason=reason, status=status)
        if status == 401:
            message = f"{error_text(err)}; run `talkcast auth youtube`"
            return AuthFailed(message, talk=talk, request=request, reason=reason, status=status)
        return PublishError(error_text(err), talk=talk, request=request, reason=reason, status=status)


def _upload_id(uri: str) -> str:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query)
    return query.get("upload_id", [uri])[0]


def ensure_playlist(yt: YouTube, requests: Requests, title: str) -> str:
    """The id of the channel's playlist called ``title``: remembered, found, or created once."""
    known = yt.store.get(EVENT_KEY, "youtube.playlist") or {}
    if known.get("title") == title and known.get("id"):
        return str(known["id"])
    token: str | None = None
    playlist_id = None
    while playlist_id is None:
        page = yt.execute("playlists.list", requests.playlist_list(token), talk=None, what="find by name")
        playlist_id = next((p["id"] for p in page.get("items", []) if p["snippet"]["title"] == title), None)
        token = page.get("nextPageToken")
        if not token:
            break
    if playlist_id is None:
        playlist_id = yt.execute("playlists.insert", requests.playlist_insert(title), talk=None)["id"]
    yt.store.put(EVENT_KEY, "youtube.playlist", {"title": title, "id": playlist_id})
    return str(playlist_id)
