"""obs-websocket v5 sans-I/O: frames built and parsed as plain values."""

from __future__ import annotations

import json

import pytest

from talkcast.streamer import obs_protocol as proto


def test_auth_string_matches_the_protocol_documentation_example():
    # The worked example in obs-websocket's protocol.md ("Creating an authentication string").
    assert (
        proto.auth_string(
            "supersecretpassword",
            "lM1GncleQOaCu9lT1yeUZhFYnqhsLLP1G5lAGo3ixaI=",
            "+IxH4CnCiqpX1rM9scsNynZzbOe4KhDeYcTNS3PDaeY=",
        )
        == "1Ct943GAT+6YQUUX47Ia/ncufilbe6+oD6lY+5kaCu4="
    )


def test_identify_carries_auth_only_when_asked_and_needs_a_password():
    hello = proto.parse_message(
        '{"op":0,"d":{"obsWebSocketVersion":"5.1.0","rpcVersion":1,"authentication":{"challenge":"c","salt":"s"}}}'
    )
    assert isinstance(hello, proto.Hello) and hello.auth_required
    frame = json.loads(proto.identify(hello, "pw", events=proto.EventSub.SCENES | proto.EventSub.OUTPUTS))
    assert frame == {
        "op": 1,
        "d": {"rpcVersion": 1, "eventSubscriptions": 4 | 64, "authentication": proto.auth_string("pw", "s", "c")},
    }
    with pytest.raises(ValueError, match="requires a password"):
        proto.identify(hello, None)
    open_hello = proto.Hello("5.1.0", 1)
    assert "authentication" not in json.loads(proto.identify(open_hello, None))["d"]


def test_requests_responses_and_events_round_trip():
    assert json.loads(proto.request("SetCurrentProgramScene", "7", {"sceneName": "Talk"})) == {
        "op": 6,
        "d": {"requestType": "SetCurrentProgramScene", "requestId": "7", "requestData": {"sceneName": "Talk"}},
    }
    assert "requestData" not in json.loads(proto.request("GetStats", "8"))["d"]
    bad = proto.parse_message(
        '{"op":7,"d":{"requestType":"SetCurrentProgramScene","requestId":"7",'
        '"requestStatus":{"result":false,"code":600,"comment":"No source was found by the name of `X`."}}}'
    )
    assert bad == proto.Response("SetCurrentProgramScene", "7", False, 600, "No source was found by the name of `X`.")
    event = proto.parse_message(
        '{"op":5,"d":{"eventType":"CurrentProgramSceneChanged","eventIntent":4,"eventData":{"sceneName":"Talk"}}}'
    )
    assert event == proto.Event("CurrentProgramSceneChanged", {"sceneName": "Talk"})
    assert proto.parse_message('{"op":2,"d":{"negotiatedRpcVersion":1}}') == proto.Identified(1)
    assert proto.parse_message('{"op":9,"d":{"requestId":"x","results":[]}}') is None


@pytest.mark.parametrize("frame", ["not json", "[]", '{"op":7}', '{"op":7,"d":[]}', '{"op":7,"d":{"requestId":"1"}}'])
def test_malformed_frames_raise_protocol_error(frame):
    with pytest.raises(proto.ProtocolError):
        proto.parse_message(frame)


def test_typed_views_convert_units_and_close_codes_read_as_sentences():
    status = proto.RecordStatus.from_data({"outputActive": True, "outputDuration": 62500, "outputTimecode": "x"})
    assert status.active and status.duration == 62.5
    assert proto.close_reason(4009) == "OBS refused the password"
    assert proto.close_reason(None) == "the connection to OBS was lost"
    assert proto.close_reason(4011, "kicked") == "OBS ended the websocket session"
    assert proto.close_reason(4007) == "OBS closed the connection (4007 not identified)"


def test_health_warnings_compare_two_samples():
    base = dict(
        activeFps=30,
        cpuUsage=20,
        memoryUsage=200,
        availableDiskSpace=50_000,
        renderSkippedFrames=0,
        renderTotalFrames=1000,
        outputSkippedFrames=0,
        outputTotalFrames=1000,
        averageFrameRenderTime=3,
    )
    before = proto.Stats.from_data(base)
    fine = proto.Stats.from_data({**base, "renderTotalFrames": 1060, "outputTotalFrames": 1060})
    assert proto.health_warnings(fine, before, expected_fps=30) == []
    bad = proto.Stats.from_data(
        {
            **base,
            "activeFps": 20,
            "renderTotalFrames": 1060,
            "renderSkippedFrames": 10,
            "outputTotalFrames": 1060,
            "outputSkippedFrames": 30,
            "availableDiskSpace": 1024,
        }
    )
    assert proto.health_warnings(bad, before, expected_fps=30) == [
        "OBS skipped 10 of 60 frames while rendering (GPU/CPU overloaded)",
        "OBS skipped 30 of 60 frames while encoding (encoder overloaded)",
        "OBS renders 20.0 fps instead of 30",
        "only 1.0 GiB of disk left for recordings",
    ]
