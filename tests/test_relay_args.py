"""The relay's pure parts: push URLs, ffmpeg argument lists, backoff, ingest checks, stat."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from talkcast.config import DestinationConfig, RelayConfig, TranscodeConfig
from talkcast.secrets import Secret, redact
from talkcast.streamer.ingest import ingest_conf, parse_stat
from talkcast.streamer.relay_args import (
    YOUTUBE_BACKUP,
    YOUTUBE_PRIMARY,
    check_ingest,
    measure_ingest,
    push_args,
    push_url,
    safety_args,
    targets,
    transcode_args,
)
from talkcast.streamer.supervisor import Health, State, restart_backoff

KEY = Secret("abcd-efgh-ijkl-mnop")


def test_push_url_puts_the_key_before_the_query():
    assert push_url("rtmp://a.rtmp.youtube.com/live2", KEY).reveal() == (
        "rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl-mnop"
    )
    assert push_url(YOUTUBE_BACKUP, KEY).reveal() == "rtmp://b.rtmp.youtube.com/live2/abcd-efgh-ijkl-mnop?backup=1"
    assert push_url("rtmps://live.example/app/", KEY).reveal() == "rtmps://live.example/app/abcd-efgh-ijkl-mnop"
    assert push_url("rtmp://host/app/fullpath", None).reveal() == "rtmp://host/app/fullpath"


def test_youtube_destination_is_primary_and_backup_fed_separately():
    dest = DestinationConfig(name="yt", kind="youtube", key=KEY)
    found = targets(dest)
    assert [t.name for t in found] == ["yt", "yt/backup"]
    assert found[0].url.reveal() == f"{YOUTUBE_PRIMARY}/{KEY.reveal()}"
    assert found[1].url.reveal() == f"rtmp://b.rtmp.youtube.com/live2/{KEY.reveal()}?backup=1"
    # What anyone sees: the key masked.
    assert found[0].display_url == "rtmp://a.rtmp.youtube.com/live2/****"
    assert found[1].display_url == "rtmp://b.rtmp.youtube.com/live2/****?backup=1"
    assert KEY.reveal() not in repr(found)


def test_youtube_urls_can_be_overridden_and_backup_disabled():
    dest = DestinationConfig(
        name="yt", kind="youtube", key=KEY, url="rtmp://127.0.0.1:1/live2", backup_url="rtmp://127.0.0.1:2/live2"
    )
    assert [t.url.reveal() for t in targets(dest)] == [
        f"rtmp://127.0.0.1:1/live2/{KEY.reveal()}",
        f"rtmp://127.0.0.1:2/live2/{KEY.reveal()}",
    ]
    no_backup = DestinationConfig(name="yt", kind="youtube", key=KEY, backup=False)
    assert [t.name for t in targets(no_backup)] == ["yt"]
    assert targets(DestinationConfig(name="yt", kind="youtube", key=KEY, enabled=False)) == []


def test_generic_rtmp_destination():
    dest = DestinationConfig(name="peertube", url="rtmps://tube.example:443/live", key=KEY)
    (target,) = targets(dest)
    assert target.url.reveal() == f"rtmps://tube.example:443/live/{KEY.reveal()}"
    assert target.destination == "peertube"


def test_push_args_copy_with_a_short_probe():
    (target,) = targets(DestinationConfig(name="x", url="rtmp://h/app", key=KEY))
    args = push_args("rtmp://127.0.0.1:1935/talkcast/in", target)
    assert args[: args.index("-i") + 2] == [
        "-fflags", "+nobuffer", "-analyzeduration", "500000", "-probesize", "500000",
        "-rw_timeout", "5000000", "-i", "rtmp://127.0.0.1:1935/talkcast/in",
    ]  # fmt: skip
    assert args[args.index("-i") + 2 :] == [
        "-map", "0:v:0?", "-map", "0:a:0?", "-c", "copy",
        "-flvflags", "no_duration_filesize", "-f", "flv", f"rtmp://h/app/{KEY.reveal()}",
    ]  # fmt: skip


def test_transcode_args_for_a_lighter_stream():
    assert transcode_args(None) == ["-c", "copy"]
    assert transcode_args(TranscodeConfig()) == ["-c", "copy"]
    args = transcode_args(TranscodeConfig(scale="1280:720", video_bitrate="2500k"))
    assert args == [
        "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
        "-vf", "scale=1280:720", "-b:v", "2500k", "-maxrate", "2500k", "-bufsize", "5000k",
        "-force_key_frames", "expr:gte(t,n_forced*2)", "-c:a", "copy",
    ]  # fmt: skip


def test_safety_args_write_matroska(tmp_path: Path):
    out = tmp_path / "safety.mkv"
    args = safety_args("rtmp://127.0.0.1:1/talkcast/k", out)
    assert args[-5:] == ["-flush_packets", "1", "-f", "matroska", str(out)]
    assert args[args.index("-c") : args.index("-c") + 2] == ["-c", "copy"]


def test_relay_backoff_restarts_at_once_then_doubles_to_the_cap():
    backoff = restart_backoff(RelayConfig(backoff_initial=0.5, backoff_max=4.0))
    assert [backoff.delay(n) for n in range(0, 8)] == [0.0, 0.0, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.delay(10_000) == 4.0  # no overflow however long a destination stays down


@pytest.mark.parametrize(
    ("kbps", "warned"),
    [
        (2971, False),  # 3000 kbps CBR as the ingest check measures it
        (2850, False),  # the edge: 5 % short of YouTube's 3000
        (2849, True),
        (2500, True),
    ],
)
def test_bitrate_warning_allows_the_measurements_shortfall(kbps, warned):
    warnings = check_ingest(1280, 720, 30, 2, kbps)
    assert bool(warnings) is warned
    if warned:
        assert warnings == [f"video bitrate {kbps:g} kbps is below YouTube's 3000-8000 kbps for 720p30"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((1280, 720, 30, 2, 4000), []),
        ((1920, 1080, 60, 2, 6000), []),
        ((1280, 720, 30, 0, 4000), ["keyframe interval is 'auto'"]),
        ((1280, 720, 30, 5, 4000), ["keyframe interval is 5 s; set it to 2 s (YouTube rejects more than 4 s)"]),
        ((1280, 720, 30, 3, 4000), ["keyframe interval is 3 s; set it to 2 s (YouTube recommends 2 s)"]),
        ((1280, 720, 30, 2, 2500), ["video bitrate 2500 kbps is below YouTube's 3000-8000 kbps for 720p30"]),
        ((1920, 1080, 60, 2, 12000), ["video bitrate 12000 kbps is above YouTube's 4000-10000 kbps for 1080p60"]),
        ((3840, 2160, 30, 2, 9000), []),
    ],
)
def test_check_ingest(args, expected):
    warnings = check_ingest(*args)
    assert len(warnings) == len(expected)
    for got, want in zip(warnings, expected, strict=True):
        assert got.startswith(want)


def test_ingest_conf_is_loopback_and_private(tmp_path: Path):
    conf = ingest_conf(tmp_path, "127.0.0.1", 19350, tmp_path / "stat.sock")
    assert "listen 127.0.0.1:19350;" in conf
    assert "daemon off;" in conf
    assert f"pid {tmp_path}/nginx.pid;" in conf
    assert "deny publish all;" in conf
    assert "idle_streams off;" in conf
    assert f"listen unix:{tmp_path}/stat.sock;" in conf


STAT_XML = """<?xml version="1.0" encoding="utf-8" ?>
<rtmp><server><application><name>talkcast</name><live>
<stream><name>abc</name><time>1755</time><bw_in>0</bw_in><bytes_in>402389</bytes_in>
<client><id>1</id><address>127.0.0.1</address><publishing/><active/></client>
<client><id>2</id><address>127.0.0.1</address><active/></client>
<meta><video><width>640</width><height>360</height><frame_rate>30</frame_rate><codec>H264</codec></video>
<audio><codec>AAC</codec><channels>1</channels><sample_rate>44100</sample_rate></audio></meta>
<nclients>2</nclients><publishing/><active/></stream>
<stream><name>idle</name><nclients>1</nclients></stream>
<nclients>3</nclients></live></application>
<application><name>other</name><live><stream><name>abc</name><publishing/></stream></live></application>
</server></rtmp>"""


def test_parse_stat_reads_the_published_stream():
    streams = parse_stat(STAT_XML)
    assert set(streams) == {"abc", "idle"}
    abc = streams["abc"]
    assert (abc.publishing, abc.readers, abc.bytes_in) == (True, 1, 402389)
    assert (abc.width, abc.height, abc.fps, abc.video_codec, abc.audio_codec) == (640, 360, 30.0, "H264", "AAC")
    assert not streams["idle"].publishing


def test_status_is_redacted():
    secret = "zzzz-9999-status-key"
    target = targets(DestinationConfig(name="x", url="rtmp://h/app", key=Secret(secret)))[0]
    health = Health(name="x", kind="destination", target=target.display_url, state=State.RETRYING)
    health.last_error = f"exited with code 1: {target.url.reveal()}: Connection refused"
    health.detail = f"reconnecting to {target.url.reveal()}"
    text = json.dumps(health.as_dict())
    assert secret not in text
    assert "rtmp://h/app/****" in text
    assert redact(target.url.reveal()) == "rtmp://h/app/****"


def test_measure_ingest_finds_the_keyframe_interval_and_bitrate() -> None:
    # 30 fps for 10 s, a keyframe every 5 s, 2500 bytes a frame = 600 kbps.
    lines = [f"{i / 30:.6f},2500,{'K_' if i % 150 == 0 else '__'}" for i in range(301)]
    assert measure_ingest(["N/A,12,K_", *lines]) == (5.0, 600)
    assert measure_ingest(lines[:100]) == (0.0, 600)  # one keyframe seen: unknown, treated as "auto"
    assert measure_ingest([]) == (0.0, 0.0)
