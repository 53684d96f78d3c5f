"""nginx-rtmp standing in for an RTMP platform (YouTube's primary or backup ingest).

Usage in a test module (the fixture lives in ``tests/conftest.py``)::

    @pytest.mark.rtmp
    def test_something(rtmp_factory):
        yt = rtmp_factory()                  # started, port open; stopped after the test
        url = yt.url                         # rtmp://127.0.0.1:PORT/live2
        yt.stop(); yt.start()                # same port and record folder
        files = yt.recordings()              # one FLV per publish session, oldest first
        yt.publishing("KEY")                 # whether something publishes KEY right now (stat page)

Each server runs nginx in the foreground (``daemon off``) with a private prefix and
conf, in its own process group, and ``record all`` writes every publish session to its
own FLV file (``record_unique``) so tests can ffprobe what arrived and see reconnects as
new files. ``stop()`` terminates, waits, then SIGKILLs the group: nothing is left behind.
nginx-rtmp's stat page (on its own loopback port) tells who publishes what, which is how
the YouTube fake sees a liveStream become ``active``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from talkcast.streamer.ingest import parse_stat
from tests.support.net import free_port, port_open

NGINX_BIN = "/usr/sbin/nginx"
RTMP_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")


def standin_conf(prefix: Path, port: int, app: str, record_dir: Path, stat_port: int | None = None) -> str:
    """nginx.conf for a recording RTMP server on 127.0.0.1:``port`` (stat page on ``stat_port``)."""
    temp = prefix / "tmp"
    stat = (
        f"http {{\n    access_log off;\n    client_body_temp_path {temp};\n    proxy_temp_path {temp};\n"
        f"    fastcgi_temp_path {temp};\n    uwsgi_temp_path {temp};\n    scgi_temp_path {temp};\n"
        f"    server {{ listen 127.0.0.1:{stat_port}; location /stat {{ rtmp_stat all; }} }}\n}}\n"
        if stat_port
        else ""
    )
    # As root, nginx would run its worker as 'nobody', which cannot write the recordings.
    user = "user root root;\n" if os.geteuid() == 0 else ""
    return f"""\
{user}daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
load_module {RTMP_MODULE};
events {{ worker_connections 64; }}
rtmp {{
    server {{
        listen 127.0.0.1:{port};
        application {app} {{
            live on;
            record all;
            record_path {record_dir};
            record_unique on;
        }}
    }}
}}
{stat}"""


class RtmpServer:
    """One recording nginx-rtmp on 127.0.0.1:``port`` with application ``app``."""

    def __init__(self, root: Path, *, app: str = "live2", port: int | None = None) -> None:
        self.root = root
        self.app = app
        self.port = port or free_port()
        self.prefix = root / "nginx"
        self.record_dir = root / "recordings"
        self.stat_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server URL a pusher appends its stream key to."""
        return f"rtmp://127.0.0.1:{self.port}/{self.app}"

    def start(self, timeout: float = 10.0) -> RtmpServer:
        """Start nginx and wait until the port accepts connections."""
        if not Path(NGINX_BIN).exists() or not RTMP_MODULE.exists():
            pytest.skip("nginx with libnginx-mod-rtmp is not installed")
        if self.running:
            raise RuntimeError("the stand-in is already running")
        self.prefix.mkdir(parents=True, exist_ok=True)
        self.record_dir.mkdir(parents=True, exist_ok=True)
        conf = self.prefix / "nginx.conf"
        conf.write_text(
            standin_conf(self.prefix, self.port, self.app, self.record_dir, self.stat_port), encoding="utf-8"
        )
        log = (self.prefix / "stderr.log").open("ab")
        try:
            self.proc = subprocess.Popen(
                [NGINX_BIN, "-p", str(self.prefix), "-c", str(conf), "-e", str(self.prefix / "error.log")],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited during start-up:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"nginx did not open port {self.port} within {timeout} s")
            time.sleep(0.01)
        return self

    def stop(self, grace: float = 3.0) -> None:
        """Terminate nginx (fast shutdown), wait, then SIGKILL its process group."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
        # Workers may outlive a killed master; the group takes them all.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

    def restart(self) -> RtmpServer:
        """Stop and start again on the same port and record folder."""
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        """Whether the nginx master is alive."""
        return self.proc is not None and self.proc.poll() is None

    def recordings(self) -> list[Path]:
        """The FLV files written so far, one per publish session, oldest first."""
        return sorted(self.record_dir.glob("*.flv"), key=lambda p: (p.stat().st_mtime_ns, p.name))

    def publishing(self, name: str) -> bool:
        """Whether something publishes the stream ``name`` to this server right now (its stat page)."""
        if not self.running:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.stat_port}/stat", timeout=2) as answer:
                stats = parse_stat(answer.read().decode("utf-8", errors="replace"), self.app)
        except OSError:
            return False
        stat = stats.get(name)
        return stat is not None and stat.publishing

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of nginx's error log."""
        try:
            text = (self.prefix / "error.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> RtmpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
