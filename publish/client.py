"""The YouTube client: credentials from the token file, an authorised HTTP, the API object.

The API object is built from the discovery document google-api-python-client ships
(no discovery fetch at run time). Three quirks of the client libraries are handled
here, once:

- ``Credentials.from_authorized_user_info`` ignores the file's ``token_uri`` and puts
  Google's back; ``with_token_uri`` restores it (tests point it at a local server).
- A hand-made ``httplib2.Http`` treats 308 as a redirect, but in the resumable upload
  protocol 308 means "Resume Incomplete": it is removed from ``redirect_codes``.
- httplib2 reads ``HTTPLIB2_CA_CERTS`` once, at import; it is read again here, per client.

Every token is registered for redaction the moment it is known, and a refreshed token
is written back to the token file (mode 0600) at once.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import google_auth_httplib2
import httplib2
from google.auth.exceptions import GoogleAuthError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build

from talkcast.config import YouTubeConfig
from talkcast.errors import ConfigError, PublishError
from talkcast.fsutil import atomic_write_text
from talkcast.secrets import register_value, warn_if_readable

log = logging.getLogger(__name__)

SCOPES = (
    "https://www.googleapis.com/auth/youtube.upload",
    "https://www.googleapis.com/auth/youtube.force-ssl",  # captions and playlists need it
)
TOKEN_FILE_MODE = 0o600


def register_credentials(creds: Credentials) -> None:
    """Make sure no token, refresh token or client secret of ``creds`` can reach a log line."""
    for value in (creds.token, creds.refresh_token, creds.client_secret):
        if value:
            register_value(str(value))


def load_credentials(token_file: Path) -> Credentials:
    """The authorized-user credentials in ``token_file``, honouring its ``token_uri``."""
    try:
        info = json.loads(token_file.read_text(encoding="utf-8"))
        warn_if_readable(token_file)
    except FileNotFoundError as err:
        raise PublishError(f"{token_file}: no YouTube token yet; run `talkcast auth youtube` first") from err
    except (OSError, ValueError) as err:
        # Never echo the content: it holds the refresh token.
        raise PublishError(f"{token_file}: cannot read the YouTube token ({type(err).__name__})") from err
    for name in ("token", "refresh_token", "client_secret"):
        if isinstance(info, dict) and info.get(name):
            register_value(str(info[name]))
    try:
        creds = Credentials.from_authorized_user_info(info)
    except (ValueError, GoogleAuthError) as err:
        raise PublishError(f"{token_file}: not an authorized-user token file; run `talkcast auth youtube`") from err
    if info.get("token_uri"):
        creds = creds.with_token_uri(info["token_uri"])
    return creds


def save_credentials(creds: Credentials, token_file: Path) -> None:
    """Write ``creds`` as google-auth's ``to_json()`` does, atomically, with mode 0600."""
    register_credentials(creds)
    atomic_write_text(token_file, creds.to_json(), mode=TOKEN_FILE_MODE)
    token_file.chmod(TOKEN_FILE_MODE)  # in case an older file had wider permissions


class TokenKeeper:
    """Writes the token file again whenever the access token changes (after a refresh)."""

    def __init__(self, creds: Credentials, token_file: Path) -> None:
        self.creds = creds
        self.token_file = token_file
        self._saved = creds.token

    def check(self) -> None:
        """Persist a refreshed token; cheap when nothing changed."""
        if self.creds.token != self._saved:
            register_credentials(self.creds)
            try:
                save_credentials(self.creds, self.token_file)
            except OSError as err:
                # Called from `finally` blocks: never let this hide the request's own error.
                # The old token still refreshes next time; only this access token is not kept.
                log.warning("could not save the refreshed YouTube token to %s: %s", self.token_file, err.strerror)
                return
            self._saved = self.creds.token
            log.debug("refreshed the YouTube access token; wrote %s", self.token_file)


def make_http(timeout: float) -> httplib2.Http:
    """A plain ``httplib2.Http`` for the API: 308 is not a redirect, CA bundle from the environment."""
    http = httplib2.Http(timeout=timeout, ca_certs=os.environ.get("HTTPLIB2_CA_CERTS") or None)
    http.redirect_codes = http.redirect_codes - {308}
    return http


def build_service(settings: YouTubeConfig, http: Any) -> Any:
    """The youtube v3 API object from the static discovery document, sending to ``api_endpoint``."""
    return build(
        "youtube",
        "v3",
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": settings.api_endpoint},
        http=http,
    )


def connect(settings: YouTubeConfig, config_file: Path) -> tuple[Any, Any, TokenKeeper]:
    """(API object, authorised http, token keeper) from the ``[publish.youtube]`` settings."""
    if settings.token_file is None:
        raise ConfigError(
            config_file, "publish.youtube.token_file", "not set; run `talkcast auth youtube` after setting it"
        )
    creds = load_credentials(settings.token_file)
    authed = google_auth_httplib2.AuthorizedHttp(creds, http=make_http(settings.http_timeout))
    return build_service(settings, authed), authed, TokenKeeper(creds, settings.token_file)
