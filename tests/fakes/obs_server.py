"""A small obs-websocket v5 server for unit tests: strict about the protocol, fast, scriptable.

It speaks the handshake as OBS does (Hello with an authentication challenge and salt,
Identify checked against base64(sha256(base64(sha256(password + salt)) + challenge)),
rpcVersion 1) and closes with OBS's codes when a client gets it wrong: 4009 for a bad
password, 4007 for a request before Identify, 4010 for another rpcVersion, 4002 for a
frame that is not JSON. Requests are answered with ``requestId`` echoed, and the state
they touch (scenes, recording, stream) changes and emits the events OBS would.

Scripting for tests: ``reject_auth`` (refuse every Identify), ``pause_ignored`` (PauseRecord
succeeds without pausing, as OBS 29 does when recording shares the stream's encoder), ``delays`` (seconds before
answering a request type), ``drop()`` (cut every connection without a close frame, as a
crash does), ``restart()`` (drop, forget the recording and the scene like a restarted
OBS, and listen again on the same port), ``emit()`` (send any event), and ``requests``
(every request seen, in order).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

RPC_VERSION = 1
GENERAL, SCENES, OUTPUTS = 1 << 0, 1 << 2, 1 << 6
DEFAULT_SUBSCRIPTIONS = (1 << 11) - 1
EVENT_INTENT = {
    "ExitStarted": GENERAL,
    "CurrentProgramSceneChanged": SCENES,
    "RecordStateChanged": OUTPUTS,
    "StreamStateChanged": OUTPUTS,
}

# RequestStatus codes (obs-websocket 5.x).
SUCCESS, UNKNOWN_REQUEST_TYPE = 100, 204
MISSING_REQUEST_FIELD, INVALID_REQUEST_FIELD_TYPE = 300, 400
OUTPUT_RUNNING, OUTPUT_NOT_RUNNING, OUTPUT_PAUSED, OUTPUT_NOT_PAUSED = 500, 501, 502, 503
RESOURCE_NOT_FOUND, RESOURCE_ALREADY_EXISTS = 600, 601


class RequestFailed(Exception):
    """A request status other than success."""

    def __init__(self, code: int, comment: str) -> None:
        super().__init__(comment)
        self.code = code
        self.comment = comment


def auth_string(password: str, salt: str, challenge: str) -> str:
    """What a client must send in Identify (computed here independently of talkcast's code)."""
    secret = base64.b64encode(hashlib.sha256(password.encode() + salt.encode()).digest())
    return base64.b64encode(hashlib.sha256(secret + challenge.encode()).digest()).decode()


class _Session:
    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.identified = False
        self.subscriptions = 0
        self.tasks: set[asyncio.Task[None]] = set()


class FakeObs:
    """One fake OBS on 127.0.0.1; ``async with FakeObs() as obs: obs.port``."""

    def __init__(
        self,
        *,
        password: str | None = "fake-obs-password",  # noqa: S107 - a throwaway test password
        scenes: Iterable[str] = ("Scene", "Intro", "Talk", "Break", "Outro"),
        record_dir: Path | None = None,
        transition_ms: int = 0,
    ) -> None:
        self.password = password
        self.scenes = list(scenes)
        self.program = self.scenes[0]
        self.record_dir = record_dir
        self.transition_ms = transition_ms
        self.reject_auth = False
        # OBS 29 answers PauseRecord with success and goes on recording when the recording
        # shares the stream's encoder; True reproduces that.
        self.pause_ignored = False
        self.delays: dict[str, float] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.identifications = 0
        self.port = 0
        self.recording = False
        self.paused = False
        self.record_path: str | None = None
        self.streaming = False
        self.stream_service: dict[str, Any] = {}
        self._files = 0
        self._rec_started = 0.0
        self._paused_at = 0.0
        self._paused_total = 0.0
        self._sessions: set[_Session] = set()
        self._server: Server | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> FakeObs:
        """Listen (on a free port the first time, on the same port after ``restart``)."""
        self._server = await serve(self._handle, "127.0.0.1", self.port, compression=None, ping_interval=None)
        self.port = int(next(iter(self._server.sockets)).getsockname()[1])
        return self

    async def stop(self) -> None:
        """Stop listening and cut every connection."""
        await self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def drop(self) -> None:
        """Cut every connection without a close frame, as a crash or a pulled cable does."""
        for session in list(self._sessions):
            for task in session.tasks:
                task.cancel()
            session.ws.transport.abort()
        await asyncio.sleep(0)

    async def restart(self, *, down_for: float = 0.0) -> None:
        """A killed and restarted OBS: connections cut, recording gone, its first scene on air."""
        await self.stop()
        self.recording = self.paused = self.streaming = False
        self.record_path = None
        self.program = self.scenes[0]
        if down_for:
            await asyncio.sleep(down_for)
        await self.start()

    async def __aenter__(self) -> FakeObs:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def seen(self, request_type: str) -> list[dict[str, Any]]:
        """The requestData of every request of this type, in order."""
        return [data for name, data in self.requests if name == request_type]

    # -- events -----------------------------------------------------------------------------

    def emit(self, event_type: str, data: Mapping[str, Any] | None = None) -> None:
        """Send an event to every identified session subscribed to its category."""
        intent = EVENT_INTENT.get(event_type, GENERAL)
        frame = json.dumps({"op": 5, "d": {"eventType": event_type, "eventIntent": intent, "eventData": data or {}}})
        for session in list(self._sessions):
            if session.identified and session.subscriptions & intent:
                task = asyncio.ensure_future(self._send(session, frame))
                session.tasks.add(task)
                task.add_done_callback(session.tasks.discard)

    @staticmethod
    async def _send(session: _Session, frame: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            await session.ws.send(frame)

    # -- the protocol -----------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        session = _Session(ws)
        self._sessions.add(session)
        challenge, salt = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        hello: dict[str, Any] = {"obsWebSocketVersion": "5.1.0", "rpcVersion": RPC_VERSION}
        if self.password is not None:
            hello["authentication"] = {"challenge": challenge, "salt": salt}
        try:
            await ws.send(json.dumps({"op": 0, "d": hello}))
            async for frame in ws:
                close = await self._frame(session, frame, challenge, salt)
                if close is not None:
                    await ws.close(*close)
                    return
        except ConnectionClosed:
            pass
        finally:
            self._sessions.discard(session)

    async def _frame(self, session: _Session, frame: str | bytes, challenge: str, salt: str) -> tuple[int, str] | None:
        """Handle one frame; the (code, reason) to close with, or None to go on."""
        try:
            message = json.loads(frame)
        except ValueError:
            return 4002, "Unable to decode the message"
        if not isinstance(message, dict) or "op" not in message or not isinstance(message.get("d"), dict):
            return 4003, "Your request is missing an `op` or `d`"
        op, d = message["op"], message["d"]
        if op == 1:
            return await self._identify(session, d, challenge, salt)
        if not session.identified:
            return 4007, "You attempted to send a non-Identify message while not identified"
        if op == 6:
            if not isinstance(d.get("requestType"), str) or not isinstance(d.get("requestId"), str):
                return 4003, "Your request is missing a `requestType` or `requestId`"
            task = asyncio.ensure_future(self._request(session, d))
            session.tasks.add(task)
            task.add_done_callback(session.tasks.discard)
            return None
        if op == 3:
            session.subscriptions = int(d.get("eventSubscriptions", session.subscriptions))
            return None
        return 4006, f"Unknown op code {op}"

    async def _identify(
        self, session: _Session, d: Mapping[str, Any], challenge: str, salt: str
    ) -> tuple[int, str] | None:
        if session.identified:
            return 4008, "You are already identified"
        if not isinstance(d.get("rpcVersion"), int):
            return 4003, "Your payload's data is missing an `rpcVersion`"
        if d["rpcVersion"] != RPC_VERSION:
            return 4010, f"Your requested RPC version ({d['rpcVersion']}) is not supported"
        if self.password is not None:
            given = d.get("authentication")
            if self.reject_auth or given != auth_string(self.password, salt, challenge):
                return 4009, "Authentication failed."
        session.identified = True
        session.subscriptions = int(d.get("eventSubscriptions", DEFAULT_SUBSCRIPTIONS))
        self.identifications += 1
        await self._send(session, json.dumps({"op": 2, "d": {"negotiatedRpcVersion": RPC_VERSION}}))
        return None

    async def _request(self, session: _Session, d: Mapping[str, Any]) -> None:
        request_type, request_id = d["requestType"], d["requestId"]
        data = d.get("requestData") or {}
        self.requests.append((request_type, dict(data)))
        delay = self.delays.get(request_type, 0.0)
        if delay:
            await asyncio.sleep(delay)
        status: dict[str, Any] = {"result": True, "code": SUCCESS}
        reply: dict[str, Any] = {"requestType": request_type, "requestId": request_id, "requestStatus": status}
        after: Callable[[], None] | None = None
        try:
            handler = self._handlers().get(request_type)
            if handler is None:
                raise RequestFailed(UNKNOWN_REQUEST_TYPE, f"Your request type `{request_type}` is not valid.")
            result = handler(data)
            response, after = result if isinstance(result, tuple) else (result, None)
            if response:
                reply["responseData"] = response
        except RequestFailed as err:
            reply["requestStatus"] = {"result": False, "code": err.code, "comment": err.comment}
        await self._send(session, json.dumps({"op": 7, "d": reply}))
        if after is not None:
            after()  # events follow the response, as OBS sends them

    # -- requests ---------------------------------------------------------------------------

    def _handlers(self) -> dict[str, Callable[[Mapping[str, Any]], Any]]:
        return {
            "GetVersion": lambda _: {
                "obsVersion": "29.1.3",
                "obsWebSocketVersion": "5.1.0",
                "rpcVersion": RPC_VERSION,
                "availableRequests": sorted(self._handlers()),
                "platform": "linux",
                "platformDescription": "fake",
            },
            "GetSceneList": lambda _: {
                "currentProgramSceneName": self.program,
                "currentPreviewSceneName": None,
                # OBS lists scenes bottom-up: index 0 is the last in its list.
                "scenes": [{"sceneIndex": i, "sceneName": n} for i, n in enumerate(reversed(self.scenes))],
            },
            "GetCurrentProgramScene": lambda _: {"currentProgramSceneName": self.program, "sceneName": self.program},
            "SetCurrentProgramScene": self._set_scene,
            "CreateScene": self._create_scene,
            "GetCurrentSceneTransition": lambda _: {
                "transitionName": "Fade" if self.transition_ms else "Cut",
                "transitionFixed": not self.transition_ms,
                "transitionDuration": self.transition_ms or None,
            },
            "GetRecordStatus": lambda _: self._record_status(),
            "GetRecordDirectory": lambda _: {"recordDirectory": str(self.record_dir or "")},
            "StartRecord": self._start_record,
            "StopRecord": self._stop_record,
            "PauseRecord": self._pause_record,
            "ResumeRecord": self._resume_record,
            "GetStreamStatus": lambda _: {
                "outputActive": self.streaming,
                "outputReconnecting": False,
                "outputDuration": 0,
                "outputBytes": 0,
            },
            "SetStreamServiceSettings": self._set_stream_service,
            "StartStream": lambda _: self._stream(True),
            "StopStream": lambda _: self._stream(False),
            "GetStats": lambda _: {
                "cpuUsage": 1.5,
                "memoryUsage": 200.0,
                "availableDiskSpace": 100_000.0,
                "activeFps": 30.0,
                "averageFrameRenderTime": 1.0,
                "renderSkippedFrames": 0,
                "renderTotalFrames": 1000,
                "outputSkippedFrames": 0,
                "outputTotalFrames": 1000,
            },
        }

    @staticmethod
    def _field(data: Mapping[str, Any], name: str) -> str:
        if name not in data:
            raise RequestFailed(MISSING_REQUEST_FIELD, f"Your request is missing the `{name}` field.")
        if not isinstance(data[name], str):
            raise RequestFailed(INVALID_REQUEST_FIELD_TYPE, f"The field value of `{name}` must be a string.")
        return str(data[name])

    def _set_scene(self, data: Mapping[str, Any]) -> tuple[dict[str, Any], Callable[[], None]]:
        name = self._field(data, "sceneName")
        if name not in self.scenes:
            raise RequestFailed(RESOURCE_NOT_FOUND, f"No source was found by the name of `{name}`.")

        def announce() -> None:
            # Announced once the transition has finished, like OBS.
            self.program = name
            self.emit("CurrentProgramSceneChanged", {"sceneName": name})

        def after_transition() -> None:
            asyncio.get_running_loop().call_later(self.transition_ms / 1000, announce)

        return {}, after_transition if self.transition_ms else announce

    def _create_scene(self, data: Mapping[str, Any]) -> dict[str, Any]:
        name = self._field(data, "sceneName")
        if name in self.scenes:
            raise RequestFailed(RESOURCE_ALREADY_EXISTS, "A source already exists by that scene name.")
        self.scenes.append(name)
        return {}

    def _duration_ms(self) -> int:
        if not self.recording:
            return 0
        paused = self._paused_total + (time.monotonic() - self._paused_at if self.paused else 0.0)
        return int((time.monotonic() - self._rec_started - paused) * 1000)

    def _record_status(self) -> dict[str, Any]:
        ms = self._duration_ms()
        timecode = time.strftime("%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}"
        return {
            "outputActive": self.recording,
            "outputPaused": self.paused,
            "outputDuration": ms,
            "outputTimecode": timecode,
            "outputBytes": ms * 100,
        }

    def _record_event(self, state: str, path: str | None = None) -> Callable[[], None]:
        return lambda: self.emit(
            "RecordStateChanged", {"outputActive": self.recording, "outputState": state, "outputPath": path}
        )

    def _start_record(self, _: Mapping[str, Any]) -> tuple[dict[str, Any], Callable[[], None]]:
        if self.recording:
            raise RequestFailed(OUTPUT_RUNNING, "The record output is already running.")
        self._files += 1
        folder = self.record_dir or Path(".")
        path = folder / f"fake-{self._files}.mkv"
        if self.record_dir is not None:
            self.record_dir.mkdir(parents=True, exist_ok=True)
            path.touch()
        self.recording, self.paused, self.record_path = True, False, str(path)
        self._rec_started, self._paused_total = time.monotonic(), 0.0
        starting = self._record_event("OBS_WEBSOCKET_OUTPUT_STARTING")
        started = self._record_event("OBS_WEBSOCKET_OUTPUT_STARTED", str(path))

        def announce() -> None:
            starting()
            started()

        return {}, announce

    def _stop_record(self, _: Mapping[str, Any]) -> tuple[dict[str, Any], Callable[[], None]]:
        if not self.recording:
            raise RequestFailed(OUTPUT_NOT_RUNNING, "The record output is not running.")
        path = self.record_path
        self.recording = self.paused = False
        self.record_path = None
        return {"outputPath": path}, self._record_event("OBS_WEBSOCKET_OUTPUT_STOPPED", path)

    def _pause_record(self, _: Mapping[str, Any]) -> tuple[dict[str, Any], Callable[[], None]]:
        if not self.recording:
            raise RequestFailed(OUTPUT_NOT_RUNNING, "The record output is not running.")
        if self.paused:
            raise RequestFailed(OUTPUT_PAUSED, "The record output is paused.")
        if self.pause_ignored:
            return {}, lambda: None
        self.paused, self._paused_at = True, time.monotonic()
        return {}, self._record_event("OBS_WEBSOCKET_OUTPUT_PAUSED", self.record_path)

    def _resume_record(self, _: Mapping[str, Any]) -> tuple[dict[str, Any], Callable[[], None]]:
        if not self.recording:
            raise RequestFailed(OUTPUT_NOT_RUNNING, "The record output is not running.")
        if not self.paused:
            raise RequestFailed(OUTPUT_NOT_PAUSED, "The record output is not paused.")
        self._paused_total += time.monotonic() - self._paused_at
        self.paused = False
        return {}, self._record_event("OBS_WEBSOCKET_OUTPUT_RESUMED", self.record_path)

    def _set_stream_service(self, data: Mapping[str, Any]) -> dict[str, Any]:
        self._field(data, "streamServiceType")
        if not isinstance(data.get("streamServiceSettings"), dict):
            raise RequestFailed(MISSING_REQUEST_FIELD, "Your request is missing the `streamServiceSettings` field.")
        self.stream_service = dict(data)
        return {}

    def _stream(self, start: bool) -> tuple[dict[str, Any], Callable[[], None]]:
        if start and self.streaming:
            raise RequestFailed(OUTPUT_RUNNING, "The stream output is already running.")
        if not start and not self.streaming:
            raise RequestFailed(OUTPUT_NOT_RUNNING, "The stream output is not running.")
        self.streaming = start
        state = "OBS_WEBSOCKET_OUTPUT_STARTED" if start else "OBS_WEBSOCKET_OUTPUT_STOPPED"
        return {}, lambda: self.emit("StreamStateChanged", {"outputActive": start, "outputState": state})
