"""The programme preview: a small JPEG of the scene on air, for the control room page.

OBS renders it (``GetSourceScreenshot`` of the programme scene, scaled to ``WIDTH``
pixels wide) through the controller's one OBS connection; nothing else talks to OBS.
At most one screenshot is taken per ``MIN_INTERVAL`` seconds however many pages
watch: a request in between gets the last image. Nothing is taken unless a page asks,
and the page only asks while it is visible, so OBS renders previews only while
someone is watching.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections.abc import Callable
from typing import Any

from talkcast.errors import ObsError
from talkcast.streamer.controller import Controller
from talkcast.streamer.obs import ObsRequestFailed

WIDTH = 320  # pixels; OBS keeps the aspect ratio
MIN_INTERVAL = 1.0  # seconds between screenshots: at most 1 fps
QUALITY = 70  # JPEG quality OBS encodes with (0-100)
TIME_LIMIT = 2.0  # a screenshot of a big canvas may take a while; a missed answer drops the connection


class NoPreview(Exception):
    """No image now (OBS not connected, or it refused); the message is for the page."""


def screenshot_request(scene: str, *, width: int = WIDTH, quality: int = QUALITY) -> dict[str, Any]:
    """The ``GetSourceScreenshot`` request data for a JPEG of ``scene``, ``width`` pixels wide."""
    return {"sourceName": scene, "imageFormat": "jpg", "imageWidth": width, "imageCompressionQuality": quality}


def decode_image(data_uri: str) -> bytes:
    """The image bytes of OBS's ``imageData`` (``data:image/jpg;base64,...``); ValueError if malformed."""
    head, comma, payload = data_uri.partition(",")
    if not comma or not head.startswith("data:image/") or not head.endswith(";base64"):
        raise ValueError(f"not a base64 image data URI: {data_uri[:40]!r}")
    try:
        return base64.b64decode(payload, validate=True)
    except binascii.Error as err:
        raise ValueError(f"bad base64 in the screenshot: {err}") from None


class Preview:
    """The last screenshot of the programme and when it was taken."""

    def __init__(
        self, controller: Controller, *, min_interval: float = MIN_INTERVAL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.controller = controller
        self.min_interval = min_interval
        self.clock = clock
        self.taken = 0  # screenshots taken (benchmarks and tests read it)
        self._image: bytes | None = None
        self._at = 0.0
        self._lock = asyncio.Lock()

    async def image(self) -> bytes:
        """A JPEG of the programme no older than ``min_interval``; ``NoPreview`` when there is none."""
        async with self._lock:  # concurrent pages share one screenshot
            obs = self.controller.obs
            if obs is None or not obs.connected:
                raise NoPreview("OBS is not connected")
            if self._image is not None and self.clock() - self._at < self.min_interval:
                return self._image
            try:
                scene = self.controller.applied_scene or await obs.program_scene()
                limit = max(self.controller.cfg.obs.request_timeout, TIME_LIMIT)
                data = await obs.call("GetSourceScreenshot", screenshot_request(scene), time_limit=limit)
                image = decode_image(str(data.get("imageData") or ""))
            except ObsRequestFailed as err:
                raise NoPreview(f"OBS could not show the programme: {err.comment}") from err
            except (ObsError, ValueError) as err:
                raise NoPreview(str(err)) from err
            self._image, self._at = image, self.clock()
            self.taken += 1
            return image
