"""Secrets that never print, and the redaction every log line goes through.

A ``Secret`` hides its value from ``str()``/``repr()``; code that really needs the value
calls ``reveal()``. Every secret loaded is registered, and ``redact()`` (used by the
logging filter, the media runner and error messages) replaces any registered value,
and the key part of any RTMP URL, with ``****``. ``read_secrets_file`` reads secrets.toml.

``<output_dir>/live-secrets.toml`` (mode 0600) is the store talkcast writes itself:
``talkcast broadcast create`` puts each YouTube destination's ingestion addresses and
stream name there (``write_stream_secrets``), and the config reads them back
(``read_stream_secrets``), so no stream key is ever copied by hand.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from talkcast.errors import ConfigError
from talkcast.fsutil import atomic_write_text
from talkcast.tomlmap import did_you_mean, printable

log = logging.getLogger(__name__)

MASK = "****"
_lock = threading.Lock()
_known: set[str] = set()

# rtmp://host/app/KEY or rtmps://host:443/app/KEY?backup=1 -> the last path segment is the key.
_RTMP_KEY = re.compile(r"(rtmps?://[^/\s]+/[^/\s?]+/)([^\s?/'\"]+)")
# Bearer tokens and OAuth fields that may show up in a dumped request.
_TOKENS = re.compile(r"((?:Bearer |access_token[\"']?[:=]\s*[\"']?|refresh_token[\"']?[:=]\s*[\"']?))([\w.\-/+=]{8,})")


class Secret:
    """A secret string. ``str()`` and ``repr()`` show ``****``; ``reveal()`` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself: pass it on, never print it."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def register_secret(secret: Secret) -> Secret:
    """Remember ``secret`` so that ``redact`` removes it from any text."""
    value = secret.reveal()
    if len(value) >= 4:  # a shorter "secret" would mask ordinary text everywhere
        with _lock:
            _known.add(value)
    return secret


def register_value(value: str) -> None:
    """Remember a raw secret value (an OAuth token, say) for redaction."""
    register_secret(Secret(value))


def warn_if_readable(path: Path) -> None:
    """Warn when a file of secrets (secrets.toml, an OAuth token) can be read by other users."""
    if path.stat().st_mode & 0o077:
        log.warning("%s can be read by other users of this machine; run: chmod 600 %s", path.name, path)


def redact(text: str) -> str:
    """Return ``text`` with every known secret, RTMP key and bearer token masked."""
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        text = text.replace(value, MASK)
    text = _RTMP_KEY.sub(lambda m: m.group(1) + MASK, text)
    return _TOKENS.sub(lambda m: m.group(1) + MASK, text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message by its redacted form; never drops a record."""
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def read_secrets_file(path: Path, allowed: Sequence[str]) -> dict[str, str]:
    """secrets.toml flattened into dotted keys (``obs_password``, ``keys.<destination>``).

    Missing file: no secrets. A key not in ``allowed`` is a ``ConfigError`` with a "did you
    mean" hint, as in event.toml: a misspelt key would otherwise leave a secret unset. The
    file's content is never echoed in an error.
    """
    if not path.is_file():
        return {}
    warn_if_readable(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError, RecursionError) as err:
        raise ConfigError(path, None, f"cannot be read as TOML ({type(err).__name__})") from err
    flat: dict[str, str] = {}

    def walk(prefix: str, node: Mapping[str, Any]) -> None:
        for k, v in node.items():
            name = f"{prefix}{k}"
            if isinstance(v, Mapping):
                walk(name + ".", v)
                continue
            if name not in allowed:
                raise ConfigError(path, printable(name), "unknown key" + did_you_mean(name, list(allowed)))
            if not isinstance(v, str):
                raise ConfigError(path, printable(name), "expected a string")
            flat[name] = v

    walk("", data)
    return flat


# ---------------------------------------------------------------- the store talkcast writes

LIVE_SECRETS_FILE = "live-secrets.toml"  # in the output folder, mode 0600
_STREAM_FIELDS = ("ingestion_address", "backup_address", "stream_name")
_STORE_HEADER = (
    "# Written by `talkcast broadcast create`: where each YouTube destination streams to.\n"
    "# stream_name is the stream key. Keep this file private (mode 600); never edit it by hand.\n"
)


@dataclass(frozen=True)
class StreamSecrets:
    """A YouTube destination's stream as the API gave it: ingestion addresses and the key."""

    ingestion_address: str
    backup_address: str
    stream_name: Secret


def _toml_string(value: str) -> str:
    # A JSON string without \uXXXX escapes of non-ASCII text is a valid TOML basic string.
    return json.dumps(value, ensure_ascii=False)


def _read_store(path: Path) -> dict[str, dict[str, str]]:
    """Destination name -> its fields, as stored; a missing file is an empty store."""
    if not path.is_file():
        return {}
    warn_if_readable(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as err:
        raise ConfigError(
            path, None, f"cannot be read as TOML ({type(err).__name__}); delete it and run `talkcast broadcast create`"
        ) from err
    streams = data.get("youtube") if isinstance(data, dict) else None
    if not isinstance(streams, dict):
        return {}
    return {
        str(name): {f: str(fields[f]) for f in _STREAM_FIELDS if isinstance(fields.get(f), str)}
        for name, fields in streams.items()
        if isinstance(fields, dict)
    }


def read_stream_secrets(path: Path, destinations: Sequence[str]) -> dict[str, StreamSecrets]:
    """The stored streams of ``destinations`` (complete entries only), every key registered for redaction.

    Entries of destinations no longer configured are ignored, not errors: the file is
    talkcast's own, and a renamed destination simply gets a new entry.
    """
    found: dict[str, StreamSecrets] = {}
    for name, fields in _read_store(path).items():
        if name in destinations and all(fields.get(f) for f in _STREAM_FIELDS):
            key = register_secret(Secret(fields["stream_name"]))
            found[name] = StreamSecrets(fields["ingestion_address"], fields["backup_address"], key)
    return found


def write_stream_secrets(path: Path, destination: str, stream: StreamSecrets) -> None:
    """Store ``destination``'s stream (atomically, mode 0600), keeping the other destinations'."""
    register_secret(stream.stream_name)
    entries = _read_store(path)
    entries[destination] = {
        "ingestion_address": stream.ingestion_address,
        "backup_address": stream.backup_address,
        "stream_name": stream.stream_name.reveal(),
    }
    lines = [_STORE_HEADER]
    for name in sorted(entries):
        lines.append(f"\n[youtube.{_toml_string(name)}]\n")
        lines += [f"{f} = {_toml_string(entries[name][f])}\n" for f in _STREAM_FIELDS if f in entries[name]]
    atomic_write_text(path, "".join(lines), mode=0o600)
