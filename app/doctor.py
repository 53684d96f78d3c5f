"""``talkcast doctor``: is this machine ready for the event? One line per check."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from talkcast.config import Config, load_config, model_path
from talkcast.errors import TalkcastError


@dataclass(frozen=True)
class Check:
    """The outcome of one check."""

    name: str
    ok: bool
    detail: str
    hint: str = ""

    def line(self) -> str:
        """``ok   ffmpeg: 5.1.9`` or ``FAIL ffmpeg: not installed (hint)``."""
        text = f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"
        return text + (f" ({self.hint})" if self.hint and not self.ok else "")


def check_tools() -> list[Check]:
    """ffmpeg and ffprobe are installed, and which version."""
    from talkcast.media import ffmpeg_version

    checks = []
    for name in ("ffmpeg", "ffprobe"):
        path = shutil.which(name)
        if path is None:
            checks.append(Check(name, False, "not installed", "apt-get install ffmpeg, or run `make demo`"))
        else:
            version = ffmpeg_version() if name == "ffmpeg" else "found"
            checks.append(Check(name, True, f"{version} at {path}"))
    return checks


def check_output(cfg: Config, *, min_free_gib: float = 10.0) -> list[Check]:
    """The output folder can be written, and how much disk is free there."""
    out = cfg.output_dir
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".doctor-"):
            pass
        writable = Check("output folder", True, f"{out} is writable")
    except OSError as err:
        return [
            Check("output folder", False, f"{out}: {err.strerror or err}", "check event.output_dir and permissions")
        ]
    free = shutil.disk_usage(out).free / 2**30
    disk = Check(
        "disk space",
        free >= min_free_gib,
        f"{free:.1f} GiB free in {out}",
        f"recordings need room: free at least {min_free_gib:.0f} GiB",
    )
    return [writable, disk]


def check_models(cfg: Config) -> list[Check]:
    """The Whisper models of [transcribe] model load, and which languages they caption.

    ``auto`` is reported as what it gives now: a hub model when the hub has one (not
    downloaded here), else the bundled multilingual base.
    """
    from talkcast.transcribe.engine import load_engine
    from talkcast.transcribe.models import AUTO, AUTO_CANDIDATES, BUNDLED_MULTILINGUAL, DEFAULT, hub_status, model_table

    checks, serves = [], {}
    table = model_table(cfg.transcribe.model, cfg.base_dir)
    for language, configured in sorted(table.items(), key=lambda item: item[0] == DEFAULT):
        name, how = configured, ""
        if configured == AUTO:
            hub = [n for n, _ in AUTO_CANDIDATES if hub_status(n) != "unreachable"]
            if hub:
                serves[language] = f"auto (from the hub: {', '.join(hub)}, chosen by speed)"
                checks.append(Check(f"whisper model.{language}", True, serves[language]))
                continue
            name, how = BUNDLED_MULTILINGUAL, " (auto: the Hugging Face hub is not reachable)"
        try:
            engine = load_engine(cfg.transcribe, name, threads=1)
        except TalkcastError as err:
            checks.append(Check(f"whisper model.{language}", False, str(err), "see transcribe.model in the README"))
            continue
        can = sorted(engine.model.supported_languages)
        if language != DEFAULT and not engine.supports(language):
            checks.append(Check(f"whisper model.{language}", False, f"'{name}' cannot caption '{language}'",
                                "give that language a multilingual model"))  # fmt: skip
            continue
        serves[language] = f"{name}{how}"
        what = language if language != DEFAULT else f"{len(can)} languages ({', '.join(can[:8])}, ...)"
        checks.append(Check(f"whisper model.{language}", True, f"'{name}' loads{how}; captions {what}"))
    if serves:
        own = [f"{lang}: {model}" for lang, model in serves.items() if lang != DEFAULT]
        rest = f"every other language: {serves[DEFAULT]}" if DEFAULT in serves else "no model for other languages"
        checks.append(Check("captions", DEFAULT in serves, "; ".join([*own, rest])))
    return checks


def check_captions(cfg: Config) -> Check:
    """Live captions can run: the relay they read from is configured, and their model loads."""
    from talkcast.whisper import load_whisper

    if not cfg.destinations or not cfg.live.stream:
        return Check("live captions", False, "[captions] live needs the relay", "add [[destinations]] (live.stream on)")
    try:
        load_whisper(model_path(cfg.captions.model, cfg.base_dir), compute_type="int8", threads=1)
    except TalkcastError as err:
        return Check("live captions", False, str(err), "see captions.model in the README")
    return Check(
        "live captions", True, f"'{cfg.captions.model}' loads; other languages use '{cfg.captions.multilingual_model}'"
    )


def check_obs(cfg: Config, timeout: float = 1.0) -> Check:
    """OBS's websocket server answers on the configured address."""
    where = f"{cfg.obs.host}:{cfg.obs.port}"
    try:
        with socket.create_connection((cfg.obs.host, cfg.obs.port), timeout=timeout):
            pass
    except OSError as err:
        return Check("OBS websocket", False, f"nothing answers at {where} ({err.strerror or err})",
                     "start OBS and enable Tools > WebSocket Server Settings")  # fmt: skip
    if cfg.obs.password is None:
        return Check("OBS websocket", False, f"{where} answers, but no password is set",
                     f"set {cfg.obs.password_env} or obs_password in the secrets file")  # fmt: skip
    return Check("OBS websocket", True, f"answers at {where}")


def run_doctor(config_file: Path, print_line: Callable[[str], None] = print) -> int:
    """Run every check; exit code 0 when all pass, 1 otherwise."""
    checks = check_tools()
    try:
        cfg = load_config(config_file)
    except TalkcastError as err:
        checks.append(Check("config", False, str(err), "fix the file, or pass -c path/to/event.toml"))
        cfg = None
    if cfg is not None:
        checks.append(Check("config", True, f"{cfg.file} is valid"))
        checks += check_output(cfg)
        if cfg.transcribe.enabled:
            checks += check_models(cfg)
        live_configured = cfg.obs.password is not None or bool(cfg.destinations)
        if live_configured:
            checks.append(check_obs(cfg))
        if cfg.captions.live:
            checks.append(check_captions(cfg))
        if cfg.destinations and shutil.which("nginx") is None:
            checks.append(
                Check("relay ingest", False, "nginx is not installed", "apt-get install nginx-light libnginx-mod-rtmp")
            )
    checks.append(Check("cores", True, f"{os.cpu_count()} available"))
    for c in checks:
        print_line(c.line())
    return 0 if all(c.ok for c in checks) else 1
