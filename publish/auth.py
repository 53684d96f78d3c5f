"""``talkcast auth youtube``: the installed-app OAuth flow with a loopback redirect.

Google removed the out-of-band ("paste this code") flow; a local web server on
127.0.0.1 receives the redirect instead. With ``open_browser=False`` (headless
machines) the URL is printed to open anywhere that can reach this machine's loopback,
for example through ``ssh -L``. Only the scopes talkcast uses are requested.
"""

from __future__ import annotations

import json
import logging

from google.auth.exceptions import GoogleAuthError
from google_auth_oauthlib.flow import InstalledAppFlow
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from talkcast.config import Config
from talkcast.errors import ConfigError, PublishError
from talkcast.publish.client import SCOPES, register_credentials, save_credentials
from talkcast.secrets import redact, register_value

log = logging.getLogger(__name__)

PROMPT = "Open this URL in a browser on this machine to authorise talkcast:\n{url}\n"


def authorize(cfg: Config, *, open_browser: bool, port: int = 0) -> None:
    """Run the consent flow and write ``publish.youtube.token_file`` (mode 0600).

    ``port`` 0 picks a free loopback port (Google accepts any port for installed apps).
    """
    settings = cfg.publish.youtube
    if settings.client_secrets is None:
        raise ConfigError(
            cfg.file, "publish.youtube.client_secrets", "not set (the OAuth client JSON from the Cloud console)"
        )
    if settings.token_file is None:
        raise ConfigError(cfg.file, "publish.youtube.token_file", "not set (where the token is to be written)")
    try:
        client = json.loads(settings.client_secrets.read_text(encoding="utf-8"))
        secret = (client.get("installed") or client.get("web") or {}).get("client_secret")
        if secret:
            register_value(str(secret))
        flow = InstalledAppFlow.from_client_config(client, scopes=list(SCOPES))
    except (OSError, ValueError) as err:
        raise ConfigError(
            cfg.file, "publish.youtube.client_secrets", f"{settings.client_secrets}: {type(err).__name__}: {err}"
        ) from err
    try:
        creds = flow.run_local_server(
            host="localhost",
            bind_addr="127.0.0.1",
            port=port,
            open_browser=open_browser,
            authorization_prompt_message=PROMPT
            if not open_browser
            else "Your browser should open; if not, visit:\n{url}\n",
            success_message="talkcast is authorised. You can close this tab.",
        )
    except (OAuth2Error, GoogleAuthError, ValueError, OSError) as err:
        raise PublishError(f"authorisation failed: {redact(str(err))}", request="oauth") from err
    register_credentials(creds)
    save_credentials(creds, settings.token_file)
    print(f"wrote {settings.token_file} (mode 0600)")
