"""The one async owner of the obs-websocket connection.

::

    async with ObsClient.connect(cfg.obs) as obs:
        with obs.subscribe() as events:
            await obs.set_program_scene("Talk")
            event = await events.wait_for("CurrentProgramSceneChanged")

The client owns its reader task, matches replies to requests by id, gives every request
a timeout, and hands out typed events (``obs_protocol.Event``) to subscribers. When the
connection drops, every pending and later request and every subscription raises
``ObsConnectionLost``; reconnecting is the caller's job (``streamer.session``), so
this layer stays small and has one behaviour.

Why the ``websockets`` asyncio client rather than obs-websocket-py: obs-websocket-py is
synchronous, with its own reader thread and callbacks, no per-request timeout and no
reconnect (see Elektordi/obs-websocket-py#61, #75). Wrapping it would put a thread and
a second event loop between OBS and the controller. The v5 protocol is small enough to
keep sans-I/O in ``obs_protocol``, and the ``websockets`` client gives us timeouts,
cancellation and close codes (4009 = wrong password) directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from talkcast.config import ObsConfig
from talkcast.errors import ObsAuthError, ObsError
from talkcast.secrets import Secret
from talkcast.streamer import obs_protocol as proto

log = logging.getLogger(__name__)


class ObsUnavailable(ObsError):
    """OBS is not running, or its websocket server is off: worth retrying."""


class ObsConnectionLost(ObsError):
    """The connection to OBS dropped (OBS quit, crashed, or stopped answering)."""


class ObsTimeout(ObsConnectionLost):
    """OBS did not answer a request in time: the connection is treated as lost (half-open)."""


class ObsRequestFailed(ObsError):
    """OBS answered a request with a failure status."""

    def __init__(self, request_type: str, code: int, comment: str) -> None:
        self.request_type = request_type
        self.code = code
        self.comment = comment
        super().__init__(f"OBS request {request_type} failed: {comment or 'status'} ({code})")


def where(cfg: ObsConfig) -> str:
    """``OBS at 127.0.0.1:4455`` for messages."""
    return f"OBS at {cfg.host}:{cfg.port}"


def _password_source(cfg: ObsConfig) -> str:
    return f"the environment variable {cfg.password_env} or 'obs_password' in secrets.toml"


class Subscription:
    """A queue of the events OBS sends from the moment of subscribing.

    Iterate it (``async for event in sub``) or ``await sub.wait_for(type)``. Both raise
    ``ObsConnectionLost`` once the connection is gone.
    """

    def __init__(self, client: ObsClient) -> None:
        self._client = client
        self._queue: asyncio.Queue[proto.Event | None] = asyncio.Queue()
        client._queues.add(self._queue)

    def close(self) -> None:
        """Stop receiving events."""
        self._client._queues.discard(self._queue)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> proto.Event:
        event = await self._queue.get()
        if event is None:
            self._queue.put_nowait(None)  # keep the sentinel for any later reader
            raise self._client.lost_error()
        return event

    async def wait_for(
        self, event_type: str, predicate: Callable[[Mapping[str, Any]], bool] | None = None, *, time_limit: float
    ) -> proto.Event:
        """The next event of this type (matching ``predicate``); ``TimeoutError`` after ``time_limit`` s."""
        async with asyncio.timeout(time_limit):
            async for event in self:
                if event.type == event_type and (predicate is None or predicate(event.data)):
                    return event
        raise AssertionError("unreachable")  # pragma: no cover - the iterator never ends


class ObsClient:
    """An identified obs-websocket v5 session; create it with ``ObsClient.connect``."""

    def __init__(self, ws: ClientConnection, cfg: ObsConfig, hello: proto.Hello) -> None:
        self._ws = ws
        self.cfg = cfg
        self.hello = hello
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[proto.Response]] = {}
        self._queues: set[asyncio.Queue[proto.Event | None]] = set()
        self._lost_reason: str | None = None
        self.closed = asyncio.Event()

    # -- lifecycle --------------------------------------------------------------------------

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, cfg: ObsConfig, *, events: int = proto.EventSub.ALL) -> AsyncIterator[ObsClient]:
        """Connect, authenticate and identify; close the connection on exit.

        Raises ``ObsUnavailable`` when nothing listens (retry later), ``ObsAuthError``
        when the password is wrong or missing (do not retry), ``ObsError`` otherwise.
        """
        ws = await cls._open(cfg)
        try:
            hello = await cls._identify(ws, cfg, events)
            client = cls(ws, cfg, hello)
            # The reader is owned here and always awaited on the way out (no fire-and-forget).
            # It is not put in a TaskGroup around the ``yield`` because a TaskGroup would wrap
            # the caller's own exceptions (ObsConnectionLost, KeyboardInterrupt) in groups.
            reader = asyncio.create_task(client._read_loop(), name="obs-reader")
            try:
                yield client
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
        finally:
            await ws.close()

    @staticmethod
    async def _open(cfg: ObsConfig) -> ClientConnection:
        uri = f"ws://{cfg.host}:{cfg.port}"
        try:
            return await ws_connect(
                uri,
                proxy=None,  # OBS is on the LAN or loopback; never go through an HTTP proxy
                compression=None,  # obs-websocket does not negotiate permessage-deflate usefully
                ping_interval=None,  # liveness is checked by the controller's GetStats instead
                max_size=None,  # GetSceneList of a big show can be large
                open_timeout=cfg.request_timeout,
                close_timeout=1.0,
            )
        except (OSError, TimeoutError) as err:
            if isinstance(err, OSError) and err.errno:
                reason = os.strerror(err.errno).lower()
            else:
                reason = "timed out" if isinstance(err, TimeoutError) else str(err)
            raise ObsUnavailable(f"{where(cfg)} is not reachable ({reason}): is OBS running?") from err
        except (InvalidHandshake, InvalidURI) as err:
            raise ObsError(f"{where(cfg)}: not an obs-websocket server ({err})") from err

    @staticmethod
    async def _identify(ws: ClientConnection, cfg: ObsConfig, events: int) -> proto.Hello:
        password = cfg.password.reveal() if cfg.password is not None else None
        try:
            async with asyncio.timeout(cfg.request_timeout):
                hello = proto.parse_message(await ws.recv())
                if not isinstance(hello, proto.Hello):
                    raise ObsError(f"{where(cfg)}: expected Hello, got {type(hello).__name__}")
                if hello.auth_required and password is None:
                    raise ObsAuthError(f"{where(cfg)} requires a password: set {_password_source(cfg)}")
                await ws.send(proto.identify(hello, password, events=events))
                identified = proto.parse_message(await ws.recv())
        except ConnectionClosed as err:
            code = err.rcvd.code if err.rcvd else None
            if code == proto.CloseCode.AUTHENTICATION_FAILED:
                raise ObsAuthError(
                    f"{where(cfg)} refused the password (from {_password_source(cfg)}); "
                    "it must match Tools > WebSocket Server Settings in OBS"
                ) from err
            raise ObsUnavailable(f"{where(cfg)}: {proto.close_reason(code)} while connecting") from err
        except TimeoutError as err:
            raise ObsUnavailable(f"{where(cfg)} did not complete the handshake in {cfg.request_timeout} s") from err
        except proto.ProtocolError as err:
            raise ObsError(f"{where(cfg)}: {err}") from err
        if not isinstance(identified, proto.Identified):
            raise ObsError(f"{where(cfg)}: expected Identified, got {type(identified).__name__}")
        return hello

    async def _read_loop(self) -> None:
        code: int | None = None
        reason = ""
        try:
            async for frame in self._ws:
                try:
                    msg = proto.parse_message(frame)
                except proto.ProtocolError as err:
                    log.warning("%s sent something unreadable, ignored: %s", where(self.cfg), err)
                    continue
                if isinstance(msg, proto.Response):
                    future = self._pending.get(msg.request_id)
                    if future is not None and not future.done():
                        future.set_result(msg)
                elif isinstance(msg, proto.Event):
                    if msg.type == "ExitStarted":
                        # OBS is quitting: fail fast instead of waiting for TCP to notice.
                        self._mark_lost("OBS is shutting down")
                    for queue in self._queues:
                        queue.put_nowait(msg)
            code, reason = self._ws.close_code, self._ws.close_reason or ""
        except ConnectionClosed as err:
            code, reason = (err.rcvd.code, err.rcvd.reason) if err.rcvd else (None, "")
        finally:
            self._mark_lost(proto.close_reason(code, reason))

    def _mark_lost(self, reason: str) -> None:
        if self._lost_reason is None:
            self._lost_reason = reason
        for future in self._pending.values():
            if not future.done():
                future.set_exception(self.lost_error())
        for queue in self._queues:
            queue.put_nowait(None)
        self.closed.set()

    def lost_error(self) -> ObsConnectionLost:
        """A fresh ``ObsConnectionLost`` saying why the connection went away."""
        return ObsConnectionLost(f"{where(self.cfg)}: {self._lost_reason or 'the connection was lost'}")

    @property
    def connected(self) -> bool:
        """False once the connection is known to be gone."""
        return self._lost_reason is None

    async def abort(self, reason: str) -> None:
        """Drop the connection (a request timed out: treat it as half-open)."""
        self._mark_lost(reason)
        await self._ws.close()

    def subscribe(self) -> Subscription:
        """Start queueing events now (before sending the request whose event you want)."""
        return Subscription(self)

    # -- requests ---------------------------------------------------------------------------

    async def call(
        self, request_type: str, data: Mapping[str, Any] | None = None, *, time_limit: float | None = None
    ) -> dict[str, Any]:
        """Send one request and return its responseData.

        ``ObsRequestFailed`` if OBS reports a failure; ``ObsTimeout`` (and the connection
        is dropped) if it does not answer within ``time_limit`` s (default: cfg.request_timeout).
        """
        if not self.connected:
            raise self.lost_error()
        request_id = str(next(self._ids))
        future: asyncio.Future[proto.Response] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        limit = self.cfg.request_timeout if time_limit is None else time_limit
        try:
            await self._ws.send(proto.request(request_type, request_id, data))
            async with asyncio.timeout(limit):
                response = await future
        except TimeoutError:
            await self.abort(f"no answer to {request_type} within {limit:g} s")
            raise ObsTimeout(f"{where(self.cfg)} did not answer {request_type} within {limit:g} s") from None
        except ConnectionClosed as err:
            self._mark_lost(proto.close_reason(err.rcvd.code if err.rcvd else None))
            raise self.lost_error() from err
        finally:
            self._pending.pop(request_id, None)
            if future.done() and not future.cancelled():
                future.exception()  # retrieved: the caller was cancelled while OBS went away
        if not response.ok:
            raise ObsRequestFailed(request_type, response.code, response.comment)
        return dict(response.data)

    async def scene_names(self) -> list[str]:
        """The names of every scene, in OBS's order."""
        data = await self.call("GetSceneList")
        return [str(s["sceneName"]) for s in reversed(data.get("scenes", []))]

    async def program_scene(self) -> str:
        """The scene on air."""
        data = await self.call("GetCurrentProgramScene")
        return str(data.get("currentProgramSceneName") or data.get("sceneName") or "")

    async def set_program_scene(self, name: str) -> None:
        """Put ``name`` on air (with OBS's current transition)."""
        await self.call("SetCurrentProgramScene", {"sceneName": name})

    async def create_scene(self, name: str) -> None:
        """Create an empty scene."""
        await self.call("CreateScene", {"sceneName": name})

    async def record_status(self) -> proto.RecordStatus:
        """GetRecordStatus."""
        return proto.RecordStatus.from_data(await self.call("GetRecordStatus"))

    async def record_directory(self) -> str:
        """Where OBS writes recordings."""
        return str((await self.call("GetRecordDirectory")).get("recordDirectory", ""))

    async def start_record(self) -> str:
        """Start recording and return the path of the new file (from RecordStateChanged)."""
        with self.subscribe() as events:
            await self.call("StartRecord")
            event = await events.wait_for(
                "RecordStateChanged",
                lambda d: d.get("outputState") == "OBS_WEBSOCKET_OUTPUT_STARTED",
                time_limit=self.cfg.request_timeout,
            )
        return str(event.data.get("outputPath") or "")

    async def stop_record(self) -> str:
        """Stop recording; returns the finished file's path once OBS says the file is complete.

        StopRecord answers before OBS's muxer has written the file's last seconds; the
        RecordStateChanged "stopped" event comes when it has.
        """
        limit = max(self.cfg.request_timeout, 15.0)
        with self.subscribe() as events:
            data = await self.call("StopRecord", time_limit=limit)
            with contextlib.suppress(TimeoutError):
                await events.wait_for(
                    "RecordStateChanged",
                    lambda d: d.get("outputState") == "OBS_WEBSOCKET_OUTPUT_STOPPED",
                    time_limit=limit,
                )
        return str(data.get("outputPath") or "")

    async def stats(self, *, time_limit: float | None = None) -> proto.Stats:
        """GetStats: fps, CPU, memory, disk space, skipped frames."""
        return proto.Stats.from_data(await self.call("GetStats", time_limit=time_limit))

    async def stream_status(self) -> proto.StreamStatus:
        """GetStreamStatus."""
        return proto.StreamStatus.from_data(await self.call("GetStreamStatus"))

    async def set_stream_service(self, server: str, key: Secret) -> None:
        """Point OBS's stream output at an RTMP server (``rtmp_custom``)."""
        await self.call(
            "SetStreamServiceSettings",
            {"streamServiceType": "rtmp_custom", "streamServiceSettings": {"server": server, "key": key.reveal()}},
        )

    async def start_stream(self) -> None:
        """StartStream; already streaming is not an error."""
        try:
            await self.call("StartStream")
        except ObsRequestFailed as err:
            if err.code != proto.Status.OUTPUT_RUNNING:
                raise

    async def send_stream_caption(self, text: str) -> None:
        """SendStreamCaption: ``text`` replaces the caption in the stream ("" clears it).

        OBS embeds it as CEA-608 (pop-on, CC1) in the next video frame that leaves the
        encoder; ``ObsRequestFailed`` with ``Status.OUTPUT_NOT_RUNNING`` while not streaming.
        """
        await self.call("SendStreamCaption", {"captionText": text})

    async def stop_stream(self) -> None:
        """StopStream; not streaming is not an error."""
        try:
            await self.call("StopStream")
        except ObsRequestFailed as err:
            if err.code != proto.Status.OUTPUT_NOT_RUNNING:
                raise
