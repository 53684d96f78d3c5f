"""obs-websocket v5, sans I/O: opcodes, the auth hash, and building/parsing messages.

Nothing here touches a socket. ``streamer.obs`` owns the connection and feeds the text
frames it receives to ``parse_message``; everything it sends is built here. Spec:
https://github.com/obsproject/obs-websocket/blob/master/docs/generated/protocol.md
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RPC_VERSION = 1


class Op(enum.IntEnum):
    """WebSocketOpCode."""

    HELLO = 0
    IDENTIFY = 1
    IDENTIFIED = 2
    REIDENTIFY = 3
    EVENT = 5
    REQUEST = 6
    REQUEST_RESPONSE = 7
    REQUEST_BATCH = 8
    REQUEST_BATCH_RESPONSE = 9


class EventSub(enum.IntFlag):
    """EventSubscription bits (the high-volume ones are left out on purpose)."""

    GENERAL = 1 << 0
    CONFIG = 1 << 1
    SCENES = 1 << 2
    INPUTS = 1 << 3
    TRANSITIONS = 1 << 4
    FILTERS = 1 << 5
    OUTPUTS = 1 << 6
    SCENE_ITEMS = 1 << 7
    MEDIA_INPUTS = 1 << 8
    VENDORS = 1 << 9
    UI = 1 << 10
    ALL = (1 << 11) - 1


class CloseCode(enum.IntEnum):
    """WebSocketCloseCode values the server may close with."""

    UNKNOWN_REASON = 4000
    MESSAGE_DECODE_ERROR = 4002
    MISSING_DATA_FIELD = 4003
    INVALID_DATA_FIELD_TYPE = 4004
    INVALID_DATA_FIELD_VALUE = 4005
    UNKNOWN_OP_CODE = 4006
    NOT_IDENTIFIED = 4007
    ALREADY_IDENTIFIED = 4008
    AUTHENTICATION_FAILED = 4009
    UNSUPPORTED_RPC_VERSION = 4010
    SESSION_INVALIDATED = 4011
    UNSUPPORTED_FEATURE = 4012


class Status(enum.IntEnum):
    """The RequestStatus codes talkcast reacts to (the full list is much longer)."""

    SUCCESS = 100
    OUTPUT_RUNNING = 500
    OUTPUT_NOT_RUNNING = 501
    OUTPUT_PAUSED = 502
    OUTPUT_NOT_PAUSED = 503
    RESOURCE_NOT_FOUND = 600
    RESOURCE_ALREADY_EXISTS = 601


class ProtocolError(ValueError):
    """A frame that is not a valid obs-websocket v5 message."""


@dataclass(frozen=True)
class Hello:
    """Op 0: the server greets us; ``challenge``/``salt`` are set when auth is required."""

    obs_websocket_version: str
    rpc_version: int
    challenge: str | None = None
    salt: str | None = None

    @property
    def auth_required(self) -> bool:
        """Whether Identify must carry an authentication string."""
        return self.challenge is not None and self.salt is not None


@dataclass(frozen=True)
class Identified:
    """Op 2: the session is ready."""

    rpc_version: int


@dataclass(frozen=True)
class Event:
    """Op 5: something happened in OBS."""

    type: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Response:
    """Op 7: the reply to one request, matched by ``request_id``."""

    request_type: str
    request_id: str
    ok: bool
    code: int
    comment: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


Message = Hello | Identified | Event | Response


def auth_string(password: str, salt: str, challenge: str) -> str:
    """The Identify ``authentication`` value: b64(sha256(b64(sha256(password + salt)) + challenge))."""
    secret = base64.b64encode(hashlib.sha256((password + salt).encode()).digest())
    return base64.b64encode(hashlib.sha256(secret + challenge.encode()).digest()).decode()


def identify(hello: Hello, password: str | None, *, events: int = EventSub.ALL) -> str:
    """The Identify frame answering ``hello``; ``ValueError`` if a password is needed but missing."""
    d: dict[str, Any] = {"rpcVersion": RPC_VERSION, "eventSubscriptions": int(events)}
    if hello.auth_required:
        if password is None:
            raise ValueError("OBS requires a password and none is configured")
        assert hello.salt is not None and hello.challenge is not None
        d["authentication"] = auth_string(password, hello.salt, hello.challenge)
    return json.dumps({"op": Op.IDENTIFY, "d": d})


def request(request_type: str, request_id: str, data: Mapping[str, Any] | None = None) -> str:
    """A Request frame."""
    d: dict[str, Any] = {"requestType": request_type, "requestId": request_id}
    if data:
        d["requestData"] = dict(data)
    return json.dumps({"op": Op.REQUEST, "d": d})


def parse_message(text: str | bytes) -> Message | None:
    """Parse one frame. Returns None for opcodes talkcast does not use (batch responses).

    Raises ``ProtocolError`` when the frame is not a valid v5 message.
    """
    try:
        obj = json.loads(text)
        op = obj["op"]
        d = obj["d"]
    except (ValueError, TypeError, KeyError) as err:
        raise ProtocolError(f"not an obs-websocket message: {err}") from err
    if not isinstance(d, dict):
        raise ProtocolError("message data 'd' is not an object")
    try:
        if op == Op.HELLO:
            auth = d.get("authentication") or {}
            return Hello(
                obs_websocket_version=str(d.get("obsWebSocketVersion", "")),
                rpc_version=int(d["rpcVersion"]),
                challenge=auth.get("challenge"),
                salt=auth.get("salt"),
            )
        if op == Op.IDENTIFIED:
            return Identified(rpc_version=int(d["negotiatedRpcVersion"]))
        if op == Op.EVENT:
            return Event(type=str(d["eventType"]), data=d.get("eventData") or {})
        if op == Op.REQUEST_RESPONSE:
            status = d["requestStatus"]
            return Response(
                request_type=str(d["requestType"]),
                request_id=str(d["requestId"]),
                ok=bool(status["result"]),
                code=int(status["code"]),
                comment=str(status.get("comment") or ""),
                data=d.get("responseData") or {},
            )
    except (KeyError, TypeError, ValueError) as err:
        raise ProtocolError(f"malformed op {op} message: {err!r}") from err
    return None


def close_reason(code: int | None, reason: str = "") -> str:
    """A human sentence for a websocket close code sent by obs-websocket."""
    if code == CloseCode.AUTHENTICATION_FAILED:
        return "OBS refused the password"
    if code == CloseCode.UNSUPPORTED_RPC_VERSION:
        return "OBS speaks an unsupported obs-websocket RPC version (need v5)"
    if code == CloseCode.SESSION_INVALIDATED:
        return "OBS ended the websocket session"
    if code is None:
        return "the connection to OBS was lost"
    try:
        name = CloseCode(code).name.lower().replace("_", " ")
    except ValueError:
        name = "connection closed"
    return f"OBS closed the connection ({code} {name}{': ' + reason if reason else ''})"


# -- typed views of the responses talkcast reads --------------------------------------------


@dataclass(frozen=True)
class RecordStatus:
    """GetRecordStatus: whether OBS records and how far into the current file it is."""

    active: bool
    paused: bool = False
    duration: float = 0.0  # seconds into the file being written (outputDuration is in ms)
    timecode: str = ""
    bytes: int = 0

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> RecordStatus:
        """Build from responseData."""
        return cls(
            active=bool(d.get("outputActive")),
            paused=bool(d.get("outputPaused")),
            duration=float(d.get("outputDuration") or 0) / 1000.0,
            timecode=str(d.get("outputTimecode") or ""),
            bytes=int(d.get("outputBytes") or 0),
        )


@dataclass(frozen=True)
class StreamStatus:
    """GetStreamStatus: whether OBS streams, and whether it is reconnecting."""

    active: bool
    reconnecting: bool = False
    duration: float = 0.0
    congestion: float = 0.0
    skipped_frames: int = 0
    total_frames: int = 0
    bytes: int = 0

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> StreamStatus:
        """Build from responseData."""
        return cls(
            active=bool(d.get("outputActive")),
            reconnecting=bool(d.get("outputReconnecting")),
            duration=float(d.get("outputDuration") or 0) / 1000.0,
            congestion=float(d.get("outputCongestion") or 0.0),
            skipped_frames=int(d.get("outputSkippedFrames") or 0),
            total_frames=int(d.get("outputTotalFrames") or 0),
            bytes=int(d.get("outputBytes") or 0),
        )


@dataclass(frozen=True)
class Stats:
    """GetStats: the health figures shown on the status screen and journaled."""

    fps: float
    cpu: float  # percent of one core
    memory_mb: float
    disk_free_mb: float
    render_skipped: int
    render_total: int
    output_skipped: int
    output_total: int
    frame_ms: float

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> Stats:
        """Build from responseData."""
        return cls(
            fps=float(d.get("activeFps") or 0.0),
            cpu=float(d.get("cpuUsage") or 0.0),
            memory_mb=float(d.get("memoryUsage") or 0.0),
            disk_free_mb=float(d.get("availableDiskSpace") or 0.0),
            render_skipped=int(d.get("renderSkippedFrames") or 0),
            render_total=int(d.get("renderTotalFrames") or 0),
            output_skipped=int(d.get("outputSkippedFrames") or 0),
            output_total=int(d.get("outputTotalFrames") or 0),
            frame_ms=float(d.get("averageFrameRenderTime") or 0.0),
        )

    def as_dict(self) -> dict[str, float | int]:
        """Rounded figures for the journal and the API."""
        return {
            "fps": round(self.fps, 2),
            "cpu": round(self.cpu, 1),
            "memory_mb": round(self.memory_mb, 1),
            "disk_free_mb": round(self.disk_free_mb, 1),
            "render_skipped": self.render_skipped,
            "render_total": self.render_total,
            "output_skipped": self.output_skipped,
            "output_total": self.output_total,
            "frame_ms": round(self.frame_ms, 2),
        }


def health_warnings(
    now: Stats, before: Stats | None, *, expected_fps: float | None = None, min_disk_mb: float = 2048.0
) -> list[str]:
    """Human warnings from two consecutive GetStats samples (frames skipped since ``before``)."""
    warnings: list[str] = []
    if before is not None:
        rendered = now.render_total - before.render_total
        skipped = now.render_skipped - before.render_skipped
        if rendered > 0 and skipped / rendered > 0.05:
            warnings.append(f"OBS skipped {skipped} of {rendered} frames while rendering (GPU/CPU overloaded)")
        encoded = now.output_total - before.output_total
        dropped = now.output_skipped - before.output_skipped
        if encoded > 0 and dropped / encoded > 0.05:
            warnings.append(f"OBS skipped {dropped} of {encoded} frames while encoding (encoder overloaded)")
    if expected_fps and now.fps < expected_fps * 0.9:
        warnings.append(f"OBS renders {now.fps:.1f} fps instead of {expected_fps:.0f}")
    if 0 < now.disk_free_mb < min_disk_mb:
        warnings.append(f"only {now.disk_free_mb / 1024:.1f} GiB of disk left for recordings")
    return warnings
