"""Generated programmes for the signal checks: a picture that moves and sound, with faults on cue.

``make_programme_file`` writes a short file for OBS's media source; ``LavfiProgramme``
pushes a generated programme straight into an ingest in real time, standing in for OBS.
Both keep a 1 s GOP so that the analyser sees a keyframe every second.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

from talkcast.secrets import Secret
from tests.support.obs import ObsInstance

TONE = "sine=frequency=440:sample_rate=48000"  # -18 LUFS: inside speech's range


def _mute(windows: tuple[tuple[float, float], ...]) -> str:
    return "".join(f",volume=enable='between(t,{a:g},{b:g})':volume=0" for a, b in windows)


def make_programme_file(
    path: Path,
    *,
    seconds: float,
    silent: tuple[tuple[float, float], ...] = (),
    frozen: tuple[float, float] | None = None,
    size: str = "320x180",
    fps: int = 30,
) -> Path:
    """An MKV of moving test pattern and a tone; silent and still where asked (seconds into it)."""
    video = f"testsrc2=s={size}:r={fps}:d={seconds:g}"
    if frozen is not None:
        a, b = frozen
        # Hold frame a*fps for (b-a) seconds, then carry on from where the pattern would be at b.
        still = int((b - a) * fps)
        video = (
            f"{video},split=3[s0][s1][s2];[s0]trim=0:{a:g}[v0];"
            f"[s1]trim=start_frame={int(a * fps)}:end_frame={int(a * fps) + 1},loop=loop={still - 1}:size=1:start=0,"
            f"setpts=N/{fps}/TB[v1];[s2]trim={b:g}:{seconds:g},setpts=PTS-STARTPTS[v2];"
            "[v0][v1][v2]concat=n=3:v=1:a=0"
        )
    audio = f"{TONE}:d={seconds:g}{_mute(silent)},pan=stereo|c0=c0|c1=c0"
    args = [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-filter_complex", f"{video}[v];{audio}[a]", "-map", "[v]", "-map", "[a]",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", str(fps), "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "96k", str(path),
    ]  # fmt: skip
    subprocess.run(args, check=True, timeout=120)
    return path


def talk_scene(obs: ObsInstance, media: Path) -> None:
    """Scenes for the evening; the talk scene plays ``media``; OBS sends a keyframe every 2 s."""
    with obs.session() as call:
        call("CreateScene", {"sceneName": "Talk"})
        settings = {"local_file": str(media), "looping": False, "restart_on_activate": True}
        call("CreateInput", {"sceneName": "Talk", "inputName": "programme", "inputKind": "ffmpeg_source",
                             "inputSettings": settings})  # fmt: skip
        for name, value_ in (("UseAdvanced", "true"), ("x264Settings", "keyint=60 min-keyint=60 scenecut=0")):
            call("SetProfileParameter",
                 {"parameterCategory": "SimpleOutput", "parameterName": name, "parameterValue": value_})  # fmt: skip
    obs.create_scenes("Intro", "Break", "Outro")


class LavfiProgramme:
    """ffmpeg standing in for OBS: a generated picture and sound pushed to the ingest in real time."""

    def __init__(self, *, audio: str = TONE, video: str = "testsrc2=size=320x180:rate=30") -> None:
        self.audio = audio
        self.video = video
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, server: str, key: Secret) -> None:
        """Start pushing to ``server``/``key``."""
        self.proc = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
             "-f", "lavfi", "-i", self.video, "-f", "lavfi", "-i", self.audio,
             "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-b:v", "300k",
             "-c:a", "aac", "-b:a", "96k", "-ac", "2", "-f", "flv", f"{server}/{key.reveal()}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    def stop(self) -> None:
        """Kill it (and reap it)."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None
