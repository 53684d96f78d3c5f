"""A real, throwaway Prometheus (Debian's ``prometheus`` package) on a free port, for integration tests.

Usage in a test module (the fixture lives in ``tests/conftest.py``)::

    def test_something(prometheus_factory):
        prom = prometheus_factory(scrape=["127.0.0.1:8787"], labels={"room": "Main hall"}, rules=[path])
        prom.query('talkcast_obs_connected')     # [(labels, value), ...]
        prom.alerts()                            # what /api/v1/alerts says

Each server has its own config, TSDB folder and port, runs in its own process group, and
is stopped (terminate, wait, kill) after the test.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.support.net import free_port

PROMETHEUS_BIN = "prometheus"


def prometheus_conf(targets: Sequence[str], labels: Mapping[str, str], rules: Sequence[Path], interval: float) -> str:
    """prometheus.yml: one ``talkcast`` job scraping ``targets`` every ``interval`` seconds."""
    return json.dumps(  # JSON is YAML: no YAML writer needed
        {
            "global": {"scrape_interval": f"{interval:g}s", "evaluation_interval": f"{interval:g}s"},
            "rule_files": [str(r) for r in rules],
            "scrape_configs": [
                {
                    "job_name": "talkcast",
                    "scrape_timeout": f"{interval:g}s",
                    "static_configs": [{"targets": list(targets), "labels": dict(labels)}],
                }
            ],
        },
        indent=2,
    )


class PrometheusServer:
    """One Prometheus on 127.0.0.1:``port`` scraping the given targets."""

    def __init__(
        self,
        root: Path,
        *,
        scrape: Sequence[str],
        labels: Mapping[str, str] | None = None,
        rules: Sequence[Path] = (),
        interval: float = 1.0,
    ) -> None:
        self.root = root
        self.port = free_port()
        self.conf = root / "prometheus.yml"
        self.scrape, self.labels, self.rules, self.interval = list(scrape), dict(labels or {}), list(rules), interval
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> PrometheusServer:
        """Start it and wait until /-/ready answers."""
        if shutil.which(PROMETHEUS_BIN) is None:
            pytest.skip("prometheus is not installed (apt-get install prometheus)")
        self.root.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(prometheus_conf(self.scrape, self.labels, self.rules, self.interval), encoding="utf-8")
        log = (self.root / "prometheus.log").open("ab")
        try:
            self.proc = subprocess.Popen(
                [PROMETHEUS_BIN, f"--config.file={self.conf}", f"--storage.tsdb.path={self.root / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while not self._ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited at start:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"prometheus was not ready within {timeout:g} s:\n{self.log_tail()}")
            time.sleep(0.05)
        return self

    def _ready(self) -> bool:
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as r:
            return r.status == 200
        return False

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/``path``; the ``data`` of a successful answer."""
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=5) as r:
            answer = json.load(r)
        assert answer["status"] == "success", answer
        return answer["data"]

    def query(self, expr: str) -> list[tuple[dict[str, str], float]]:
        """An instant query: (labels, value) of each series."""
        data = self.api("query", query=expr)
        return [(item["metric"], float(item["value"][1])) for item in data["result"]]

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts Prometheus holds now (pending and firing)."""
        return list(self.api("alerts")["alerts"])

    def stop(self, grace: float = 5.0) -> None:
        """Terminate, wait, kill its process group."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

    def log_tail(self, lines: int = 20) -> str:
        """The end of its log."""
        try:
            text = (self.root / "prometheus.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])
