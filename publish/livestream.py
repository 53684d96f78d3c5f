"""The live side's one YouTube request: ``liveStreams.list`` for the stream's health.

``stream_lister`` builds the ``Fetch`` that ``talkcast.streamer.youtube_health`` polls
(the live side may not import this package; ``talkcast live`` hands it over). It uses
the publisher's credentials and client (``publish.client``) and converts failures at
this boundary: ``QuotaExceeded`` with when the quota resets, ``PublishError`` with the
API's reason and HTTP status otherwise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from google.auth.exceptions import GoogleAuthError
from googleapiclient.errors import HttpError

from talkcast.config import YouTubeConfig
from talkcast.errors import PublishError, QuotaExceeded
from talkcast.publish.client import connect
from talkcast.publish.quota import describe_reset, next_reset
from talkcast.publish.upload import TRANSPORT_ERRORS
from talkcast.publish.youtube import QUOTA_REASONS, error_reason, error_text
from talkcast.secrets import redact

REQUEST = "liveStreams.list"
_FAILURES: tuple[type[BaseException], ...] = (GoogleAuthError, TimeoutError, *TRANSPORT_ERRORS)


def stream_lister(settings: YouTubeConfig, config_file: Path) -> Callable[[str | None], list[Mapping[str, Any]]]:
    """``fetch(stream_id)``: that stream (``part=id,status``), or with None the channel's streams
    with their keys (``mine=true``, ``part=id,status,cdn``, the first 50). Blocking: run it in a thread.

    ``PublishError`` at once when there is no usable token file.
    """
    service, _, keeper = connect(settings, config_file)

    def fetch(stream_id: str | None) -> list[Mapping[str, Any]]:
        if stream_id:
            request = service.liveStreams().list(part="id,status", id=stream_id)
        else:
            request = service.liveStreams().list(part="id,status,cdn", mine=True, maxResults=50)
        try:
            answer = request.execute(num_retries=2)
        except HttpError as err:
            raise _converted(err) from err
        except _FAILURES as err:
            raise PublishError(f"{type(err).__name__}: {redact(str(err))}", request=REQUEST) from err
        finally:
            keeper.check()
        return list(answer.get("items") or [])

    return fetch


def _converted(err: HttpError) -> PublishError:
    reason, status = error_reason(err), int(err.resp.status)
    if reason in QUOTA_REASONS:
        now = dt.datetime.now(dt.UTC)
        message = f"YouTube's daily quota is used up ({reason}); it resets {describe_reset(now)}"
        return QuotaExceeded(message, resets_at=next_reset(now).isoformat(), request=REQUEST, status=status)
    return PublishError(error_text(err), request=REQUEST, reason=reason, status=status)
