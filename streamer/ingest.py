"""The local ingest OBS streams to: nginx with Debian's libnginx-mod-rtmp.

talkcast starts its own nginx in the foreground (``daemon off``) with a private prefix
(conf, pid, logs and a unix-socket stat endpoint in a temporary folder), listening on
loopback only. OBS publishes ``rtmp://127.0.0.1:PORT/talkcast`` with a random stream key;
every pusher (one ffmpeg per destination) and the safety recording play that stream.

Why nginx-rtmp and not an ffmpeg listener with a local fan-out:

* **A destination never disturbs the ingest or the others.** nginx-rtmp keeps one
  independent player connection per reader, with its own send queue; a reader that dies,
  stalls or reconnects only loses its own connection, and OBS's publish connection is
  never touched. An ffmpeg listener (``-listen 1``) accepts exactly one publisher and
  ends with it, so a fan-out behind it would have to be another process we write and
  supervise, and a stalled reader there can back-pressure the whole chain.
* **Latency.** The live module forwards each RTMP message as it arrives (no segmenting,
  no GOP buffering); the pusher ffmpeg uses ``-c copy`` with ``+nobuffer``. Measured
  added latency is in benchmarks/bench_relay.py.
* **A whole day unattended.** nginx is event-driven and holds no per-stream state that
  grows: a reader that cannot keep up loses frames from its own bounded send queue
  (nginx-rtmp's ``out_queue``), never back-pressuring OBS or the other readers. A
  publisher that goes silent is dropped after 10 s (``drop_idle_publisher``) so OBS's
  reconnect is accepted. The relay restarts nginx if it ever exits.

Fast recovery: nginx-rtmp 1.2 has no GOP cache, so a (re)connecting reader cannot be
handed the current GOP; it waits for OBS's next keyframe, which ``check_ingest``'s 2 s
keyframe warning bounds. Measured here (720p30, 3 Mbps, 2 s GOP, a reader that copies
to FLV, time to its first keyframe): ``wait_key off`` with the relay's 0.5 s probe,
1.7 s; ``wait_key on``, 3.7 s; a 3 s probe, 3.7 s. nginx then holds everything back
until the keyframe and ffmpeg's probe only starts there. ffmpeg's stream copy drops
video until the first keyframe itself (it copies leading non-key frames only with
``-copyinkf``), so the output is decodable from its first video packet.

A short probe can miss a stream whose first packet comes late; the relay therefore
counts only video frames as progress (``streamer.relay``), so an audio-only push is
never shown as live and is restarted by the watchdog. ``idle_streams off`` disconnects
readers when OBS stops publishing, so they notice at once instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import shutil
import signal
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from talkcast.errors import RelayError
from talkcast.media import tool
from talkcast.process import aterminate
from talkcast.secrets import Secret, register_secret

log = logging.getLogger(__name__)

RTMP_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")
APP = "talkcast"
STOP_GRACE = 3.0
STAT_TIMEOUT = 2.0  # the stat page is local; slower means nginx is wedged


@dataclass(frozen=True)
class StreamStat:
    """What nginx-rtmp's stat page says about one stream of the ingest."""

    name: str
    publishing: bool
    readers: int
    bytes_in: int
    width: int = 0
    height: int = 0
    fps: float = 0.0
    video_codec: str = ""
    audio_codec: str = ""


def ingest_conf(prefix: Path, host: str, port: int, stat_socket: Path, module: Path = RTMP_MODULE) -> str:
    """nginx.conf for the ingest: RTMP on ``host:port``, stat on a unix socket."""
    temp = prefix / "tmp"
    return f"""\
daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
load_module {module};
events {{ worker_connections 256; }}
rtmp {{
    server {{
        listen {host}:{port};
        chunk_size 4096;
        application {APP} {{
            live on;
            record off;
            allow publish 127.0.0.1;
            deny publish all;
            allow play 127.0.0.1;
            deny play all;
            wait_key off;
            wait_video off;
            idle_streams off;
            drop_idle_publisher 10s;
        }}
    }}
}}
http {{
    access_log off;
    client_body_temp_path {temp};
    proxy_temp_path {temp};
    fastcgi_temp_path {temp};
    uwsgi_temp_path {temp};
    scgi_temp_path {temp};
    server {{
        listen unix:{stat_socket};
        location /stat {{ rtmp_stat all; }}
    }}
}}
"""


def _int(node: ET.Element | None, path: str) -> int:
    text = node.findtext(path) if node is not None else None
    try:
        return int(float(text)) if text else 0
    except ValueError:
        return 0


def parse_stat(xml_text: str, app: str = APP) -> dict[str, StreamStat]:
    """The streams of application ``app`` in nginx-rtmp's ``rtmp_stat`` XML, by name."""
    root = ET.fromstring(xml_text)  # noqa: S314 - our own nginx on a private unix socket
    found: dict[str, StreamStat] = {}
    for application in root.iter("application"):
        if application.findtext("name") != app:
            continue
        for stream in application.iter("stream"):
            video = stream.find("meta/video")
            audio = stream.find("meta/audio")
            publishing = stream.find("publishing") is not None
            clients = _int(stream, "nclients")
            name = stream.findtext("name") or ""
            found[name] = StreamStat(
                name=name,
                publishing=publishing,
                readers=max(0, clients - (1 if publishing else 0)),
                bytes_in=_int(stream, "bytes_in"),
                width=_int(video, "width"),
                height=_int(video, "height"),
                fps=float(_int(video, "frame_rate")),
                video_codec=(video.findtext("codec") or "") if video is not None else "",
                audio_codec=(audio.findtext("codec") or "") if audio is not None else "",
            )
    return found


_HTTP_STATUS = re.compile(rb"^HTTP/1\.[01] (\d{3})")


class Ingest:
    """Owns the nginx-rtmp process OBS publishes to.

    ``async with Ingest(port=1935) as ingest:`` starts nginx and waits for the port;
    leaving terminates nginx (then kills its process group). ``ingest.url`` and
    ``ingest.key`` are OBS's stream server and key; ``ingest.source`` is what readers play.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 1935, key: Secret | None = None) -> None:
        self.host = host
        self.port = port
        self.key = register_secret(key or Secret("tc-" + secrets.token_urlsafe(18)))
        self.prefix: Path | None = None
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        """OBS's stream server URL (the key goes in OBS's separate key field)."""
        return f"rtmp://{self.host}:{self.port}/{APP}"

    @property
    def source(self) -> str:
        """The full URL readers play, key included: pass it on, never print it."""
        return f"{self.url}/{self.key.reveal()}"

    @property
    def running(self) -> bool:
        """Whether nginx is alive."""
        return self._proc is not None and self._proc.returncode is None

    @property
    def pid(self) -> int | None:
        """The nginx master's pid, while it runs."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def stat_socket(self) -> Path:
        """The unix socket of nginx-rtmp's stat page."""
        assert self.prefix is not None
        return self.prefix / "stat.sock"

    async def start(self, start_timeout: float = 10.0) -> None:
        """Start nginx in a fresh private prefix and wait until it accepts RTMP."""
        nginx = tool("nginx")
        if not RTMP_MODULE.exists():  # noqa: ASYNC240 - one stat() at start-up
            raise RelayError(f"{RTMP_MODULE} is missing (apt-get install libnginx-mod-rtmp)")
        if self.prefix is None:
            self.prefix = Path(tempfile.mkdtemp(prefix="talkcast-ingest-"))
            (self.prefix / "tmp").mkdir()
        conf = self.prefix / "nginx.conf"
        self.stat_socket.unlink(missing_ok=True)
        conf.write_text(ingest_conf(self.prefix, self.host, self.port, self.stat_socket), encoding="utf-8")
        # Its own process group, so that stop() takes the workers too.
        self._proc = await asyncio.create_subprocess_exec(
            nginx, "-p", str(self.prefix), "-c", str(conf), "-e", str(self.prefix / "error.log"),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            async with asyncio.timeout(start_timeout):
                while not await self._accepts():
                    if self._proc.returncode is not None:
                        raise RelayError(f"ingest nginx exited at start: {self.error_tail()}")
                    await asyncio.sleep(0.02)
        except TimeoutError as err:
            await self.stop()
            raise RelayError(f"ingest nginx did not open {self.host}:{self.port} within {start_timeout:g} s") from err
        except BaseException:
            # Cancelled (a second Ctrl-C) or failed: nginx runs in its own session, so no
            # terminal signal reaches it; stop it here or it keeps the port.
            await asyncio.shield(self.stop())
            raise
        log.info("ingest listening on %s", self.url)

    async def _accepts(self) -> bool:
        try:
            _, writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return self.stat_socket.exists()

    async def wait(self) -> int:
        """Wait for nginx to exit; its exit code."""
        assert self._proc is not None
        return await self._proc.wait()

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Terminate nginx (fast shutdown), wait ``grace`` seconds, then kill its group."""
        proc = self._proc
        if proc is None:
            return
        was_running = proc.returncode is None
        # aterminate signals the whole group: workers can outlive a master that was killed.
        await aterminate(proc, grace)
        if was_running and proc.returncode == -signal.SIGKILL:
            log.warning("ingest nginx ignored SIGTERM for %g s; killed it", grace)

    def cleanup(self) -> None:
        """Remove the private prefix (after ``stop``)."""
        if self.prefix is not None:
            shutil.rmtree(self.prefix, ignore_errors=True)
            self.prefix = None

    def error_tail(self, lines: int = 5) -> str:
        """The last lines of nginx's error log."""
        if self.prefix is None:
            return ""
        try:
            text = (self.prefix / "error.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return " | ".join(text.strip().splitlines()[-lines:])

    async def stat(self) -> StreamStat | None:
        """The programme stream's stat (None while nobody publishes it)."""
        try:
            async with asyncio.timeout(STAT_TIMEOUT):
                reader, writer = await asyncio.open_unix_connection(str(self.stat_socket))
                try:
                    writer.write(b"GET /stat HTTP/1.0\r\nHost: ingest\r\n\r\n")
                    await writer.drain()
                    raw = await reader.read()
                finally:
                    writer.close()
        except (OSError, TimeoutError) as err:
            raise RelayError(f"ingest stat page unreadable: {err}") from err
        head, _, body = raw.partition(b"\r\n\r\n")
        match = _HTTP_STATUS.match(head)
        if match is None or match.group(1) != b"200":
            raise RelayError(f"ingest stat page answered {head[:40]!r}")
        try:
            streams = parse_stat(body.decode("utf-8", errors="replace"))
        except ET.ParseError as err:
            raise RelayError(f"ingest stat page is not XML: {err}") from err
        stat = streams.get(self.key.reveal())
        return stat if stat is not None and stat.publishing else None

    async def __aenter__(self) -> Ingest:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.stop()
        finally:
            self.cleanup()
