"""A real, throwaway OBS Studio under Xvfb, for integration tests.

Usage in a test module (the fixture lives in ``tests/conftest.py``)::

    @pytest.mark.obs
    def test_something(obs_factory):
        obs = obs_factory()              # started and ready; stopped after the test
        obs.request("SetStreamServiceSettings", {...})
        obs.kill(); obs.restart()

Each instance has its own HOME (with global.ini and a low-resolution profile, see
``write_config``), its own Xvfb display (chosen by Xvfb through
``-displayfd``, so parallel tests never collide), a free websocket port and a
password. Xvfb and OBS each run in their own process group and are SIGKILLed on
``stop()``; nothing is left behind.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from talkcast.streamer import obs_protocol as proto
from tests.support.net import free_port

OBS_BIN = "obs"
XVFB_BIN = "Xvfb"


def _kill_group(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGKILL) -> None:
    if proc is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


class ObsInstance:
    """One OBS Studio 29 with its websocket server on 127.0.0.1:``port``.

    ``record_dir`` is where OBS writes recordings (the profile's SimpleOutput FilePath);
    the video canvas is ``size`` at ``fps`` to keep CPU low on 2 cores.
    """

    def __init__(
        self,
        root: Path,
        *,
        password: str | None = None,
        port: int | None = None,
        record_dir: Path | None = None,
        size: tuple[int, int] = (320, 180),
        fps: int = 30,
        auth: bool = True,
    ) -> None:
        self.root = root
        self.home = root / "home"
        self.password = password if password is not None else "pw-" + secrets.token_hex(8)
        self.port = port or free_port()
        self.record_dir = record_dir or root / "recordings"
        self.size = size
        self.fps = fps
        self.auth = auth
        self.display: int | None = None
        self.xvfb: subprocess.Popen[bytes] | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = root / "obs.log"
        self.starts = 0

    # -- files ---------------------------------------------------------------------------

    def write_config(self) -> None:
        """global.ini (websocket on, no wizard) and an 'Untitled' profile with small video."""
        cfg = self.home / ".config" / "obs-studio"
        profile = cfg / "basic" / "profiles" / "Untitled"
        profile.mkdir(parents=True, exist_ok=True)
        (cfg / "basic" / "scenes").mkdir(parents=True, exist_ok=True)
        self.record_dir.mkdir(parents=True, exist_ok=True)
        (cfg / "global.ini").write_text(
            "[General]\nFirstRun=true\n"
            "[Basic]\nProfile=Untitled\nProfileDir=Untitled\nSceneCollection=Untitled\nSceneCollectionFile=Untitled\n"
            "[OBSWebSocket]\nFirstLoad=false\nServerEnabled=true\n"
            f"ServerPort={self.port}\nAlertsEnabled=false\n"
            f"AuthRequired={'true' if self.auth else 'false'}\nServerPassword={self.password}\n",
            encoding="utf-8",
        )
        w, h = self.size
        (profile / "basic.ini").write_text(
            "[General]\nName=Untitled\n"
            f"[Video]\nBaseCX={w}\nBaseCY={h}\nOutputCX={w}\nOutputCY={h}\nFPSType=1\nFPSInt={self.fps}\n"
            "[Output]\nMode=Simple\n"
            f"[SimpleOutput]\nFilePath={self.record_dir}\nRecFormat=mkv\nRecQuality=Stream\n"
            "VBitrate=500\nABitrate=96\nPreset=ultrafast\nStreamEncoder=x264\nRecEncoder=x264\n"
            "[Audio]\nSampleRate=48000\nChannelSetup=Stereo\n",
            encoding="utf-8",
        )

    # -- processes -----------------------------------------------------------------------

    def _start_xvfb(self) -> None:
        if self.xvfb is not None and self.xvfb.poll() is None:
            return
        read_fd, write_fd = os.pipe()
        try:
            self.xvfb = subprocess.Popen(
                [XVFB_BIN, "-displayfd", str(write_fd), "-screen", "0", "640x360x24", "-nolisten", "tcp"],
                pass_fds=(write_fd,),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            os.close(write_fd)
            write_fd = -1
            # Xvfb picks a free display itself and writes its number once it accepts clients.
            buf = b""
            deadline = time.monotonic() + 15
            while not buf.endswith(b"\n"):
                left = deadline - time.monotonic()
                ready, _, _ = select.select([read_fd], [], [], max(left, 0))
                if not ready:
                    raise RuntimeError("Xvfb did not report a display within 15 s")
                chunk = os.read(read_fd, 64)
                if not chunk:
                    raise RuntimeError(f"Xvfb exited early (code {self.xvfb.poll()})")
                buf += chunk
            self.display = int(buf.strip())
        except BaseException:
            _kill_group(self.xvfb)
            self.xvfb = None
            raise
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)

    def start(self) -> ObsInstance:
        """Start Xvfb (once) and OBS; returns without waiting for the port (see ``wait_ready``)."""
        if shutil.which(OBS_BIN) is None or shutil.which(XVFB_BIN) is None:
            pytest.skip("OBS Studio or Xvfb is not installed")
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("OBS is already running")
        if self.starts == 0:
            self.write_config()
        self._start_xvfb()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "DISPLAY": f":{self.display}",
            "LIBGL_ALWAYS_SOFTWARE": "1",
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_RUNTIME_DIR": str(self.root),
            "LANG": "C.UTF-8",
        }
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                [OBS_BIN, "--minimize-to-tray", "--disable-updater", "--disable-shutdown-check", "--multi"],
                env=env,
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        self.starts += 1
        return self

    def wait_ready(self, timeout: float = 20.0) -> float:
        """Poll the websocket port until it accepts; returns the seconds waited."""
        t0 = time.monotonic()
        while True:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"OBS exited during start-up; log tail:\n{self.log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"OBS did not open port {self.port} within {timeout} s; log:\n{self.log_tail()}")
            time.sleep(0.02)

    def kill(self) -> None:
        """``kill -9`` OBS (its whole process group), as a crash would; Xvfb stays up."""
        _kill_group(self.proc)
        self.proc = None

    def crash(self, grace: float = 5.0) -> None:
        """``kill -9`` the OBS process alone, as a crash would: its muxer sees the pipe close
        and finishes the file (as it does on a real crash); then the rest of the group goes."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        self.kill()

    def restart(self, *, wait: bool = True, crash: bool = False) -> ObsInstance:
        """Kill OBS if it runs (``crash``: the process alone, see ``crash``), start it again."""
        if crash:
            self.crash()
        self.kill()
        self.start()
        if wait:
            self.wait_ready()
        return self

    def stop(self) -> None:
        """Kill OBS and Xvfb; safe to call twice."""
        self.kill()
        _kill_group(self.xvfb)
        self.xvfb = None

    @property
    def running(self) -> bool:
        """Whether the OBS process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        """The last lines OBS printed."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> ObsInstance:
        self.start()
        self.wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- a tiny synchronous client, for test set-up and assertions ------------------------

    def request(self, request_type: str, data: Mapping[str, Any] | None = None, *, timeout: float = 10.0) -> dict:
        """Send one request on a fresh connection and return its responseData.

        Raises ``RuntimeError`` naming the request when OBS reports a failure.
        """
        with self.session(timeout=timeout) as call:
            return call(request_type, data)

    @contextlib.contextmanager
    def session(self, *, timeout: float = 10.0, events: int = 0) -> Iterator[Callable[..., dict]]:
        """A connection for several requests: ``with obs.session() as call: call("GetVersion")``."""
        from websockets.sync.client import connect

        with connect(f"ws://127.0.0.1:{self.port}", open_timeout=timeout, max_size=None, proxy=None) as ws:
            hello = proto.parse_message(ws.recv(timeout=timeout))
            assert isinstance(hello, proto.Hello)
            ws.send(proto.identify(hello, self.password, events=events))
            assert isinstance(proto.parse_message(ws.recv(timeout=timeout)), proto.Identified)
            ids = itertools.count(1)

            def call(request_type: str, data: Mapping[str, Any] | None = None) -> dict:
                rid = str(next(ids))
                ws.send(proto.request(request_type, rid, data))
                while True:
                    msg = proto.parse_message(ws.recv(timeout=timeout))
                    if isinstance(msg, proto.Response) and msg.request_id == rid:
                        if not msg.ok:
                            raise RuntimeError(f"OBS {request_type} failed: {msg.code} {msg.comment}")
                        return dict(msg.data)

            yield call

    def create_scenes(self, *names: str) -> None:
        """Create these scenes (skipping ones that exist), each with a coloured source."""
        with self.session() as call:
            have = {s["sceneName"] for s in call("GetSceneList")["scenes"]}
            for i, name in enumerate(names):
                if name in have:
                    continue
                call("CreateScene", {"sceneName": name})
                colour = [0xFF0000FF, 0xFF00FF00, 0xFFFF0000, 0xFF00FFFF, 0xFFFF00FF][i % 5]
                call(
                    "CreateInput",
                    {
                        "sceneName": name,
                        "inputName": f"{name} colour",
                        "inputKind": "color_source_v3",
                        "inputSettings": {"color": colour, "width": self.size[0], "height": self.size[1]},
                    },
                )


def obs_config(inst: ObsInstance, **overrides: Any) -> Any:
    """A talkcast ``ObsConfig`` pointing at ``inst`` with its password."""
    from talkcast.config import ObsConfig
    from talkcast.secrets import Secret, register_secret

    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": inst.port,
        "password": register_secret(Secret(inst.password)),
        "request_timeout": 3.0,
        "health_interval": 0.5,
    }
    values.update(overrides)
    return ObsConfig(**values)
