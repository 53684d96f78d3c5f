"""ObsClient against the fake obs-websocket server: auth, timeouts, drops, and the fake's own strictness.

Each test runs in milliseconds; the real-OBS versions are in test_obs_client.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from talkcast.errors import ObsAuthError
from talkcast.secrets import Secret
from talkcast.streamer import obs_protocol as proto
from talkcast.streamer.obs import ObsClient, ObsConnectionLost, ObsRequestFailed, ObsTimeout
from tests.conftest import fake_obs_config
from tests.fakes.obs_server import FakeObs, auth_string

pytestmark = pytest.mark.asyncio


async def test_wrong_password_is_an_immediate_clear_error(fake_obs: FakeObs):
    cfg = fake_obs_config(fake_obs)
    t0 = time.monotonic()
    with pytest.raises(ObsAuthError, match=r"refused the password \(from the environment variable TALKCAST_OBS"):
        async with ObsClient.connect(dataclasses.replace(cfg, password=Secret("wrong"))):
            pass
    with pytest.raises(ObsAuthError, match="requires a password: set the environment variable"):
        async with ObsClient.connect(dataclasses.replace(cfg, password=None)):
            pass
    fake_obs.reject_auth = True  # even the right password
    with pytest.raises(ObsAuthError, match="refused the password"):
        async with ObsClient.connect(cfg):
            pass
    assert time.monotonic() - t0 < 0.5  # immediate, not retried
    assert fake_obs.identifications == 0


async def test_requests_events_and_failures(fake_obs: FakeObs):
    async with ObsClient.connect(fake_obs_config(fake_obs)) as client:
        assert await client.scene_names() == ["Scene", "Intro", "Talk", "Break", "Outro"]
        with pytest.raises(ObsRequestFailed) as failed:
            await client.set_program_scene("No Such Scene")
        assert failed.value.code == proto.Status.RESOURCE_NOT_FOUND
        with client.subscribe() as events:
            await client.set_program_scene("Talk")
            changed = await events.wait_for("CurrentProgramSceneChanged", time_limit=1)
        assert changed.data["sceneName"] == "Talk" and await client.program_scene() == "Talk"
        path = await client.start_record()
        assert path.endswith("fake-1.mkv")
        await client.call("PauseRecord")
        assert (await client.record_status()).paused
        with pytest.raises(ObsRequestFailed) as again:
            await client.call("PauseRecord")
        assert again.value.code == 502  # OutputPaused
        await client.call("ResumeRecord")
        assert not (await client.record_status()).paused
        assert await client.stop_record() == path
        with pytest.raises(ObsRequestFailed) as unknown:
            await client.call("NoSuchRequest")
        assert unknown.value.code == 204
    assert [name for name, _ in fake_obs.requests][:2] == ["GetSceneList", "SetCurrentProgramScene"]


async def test_a_delayed_reply_times_out_and_drops_the_session(fake_obs: FakeObs):
    fake_obs.delays["GetStats"] = 1.0
    async with ObsClient.connect(fake_obs_config(fake_obs, request_timeout=0.1)) as client:
        t0 = time.monotonic()
        with pytest.raises(ObsTimeout, match=r"did not answer GetStats within 0\.1 s"):
            await client.stats()
        assert time.monotonic() - t0 < 0.5
        assert not client.connected  # half-open: treated as lost
        with pytest.raises(ObsConnectionLost):
            await client.program_scene()


async def test_a_dropped_connection_ends_subscriptions_and_requests(fake_obs: FakeObs):
    async with ObsClient.connect(fake_obs_config(fake_obs)) as client:
        with client.subscribe() as events:
            t0 = time.monotonic()
            await fake_obs.drop()
            with pytest.raises(ObsConnectionLost, match="the connection to OBS was lost"):
                async for _ in events:
                    pass
            assert time.monotonic() - t0 < 0.5
        with pytest.raises(ObsConnectionLost):
            await client.stats()


async def test_exit_started_fails_fast(fake_obs: FakeObs):
    async with ObsClient.connect(fake_obs_config(fake_obs)) as client:
        fake_obs.emit("ExitStarted")
        await asyncio.wait_for(client.closed.wait(), 1)
        with pytest.raises(ObsConnectionLost, match="OBS is shutting down"):
            await client.stats()


async def _raw_close(port: int, *frames: dict) -> int | None:
    """Send raw frames after Hello; the close code the server answers with."""
    async with connect(f"ws://127.0.0.1:{port}", proxy=None) as ws:
        json.loads(await ws.recv())
        for frame in frames:
            await ws.send(json.dumps(frame))
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 1)
        except ConnectionClosed as err:
            return err.rcvd.code if err.rcvd else None


async def test_the_fake_is_strict_about_the_protocol(fake_obs: FakeObs):
    request = {"op": 6, "d": {"requestType": "GetVersion", "requestId": "1"}}
    assert await _raw_close(fake_obs.port, request) == proto.CloseCode.NOT_IDENTIFIED
    assert await _raw_close(fake_obs.port, {"op": 1, "d": {"rpcVersion": 2}}) == 4010
    assert await _raw_close(fake_obs.port, {"op": 1, "d": {"rpcVersion": 1}}) == 4009  # no authentication
    async with connect(f"ws://127.0.0.1:{fake_obs.port}", proxy=None) as ws:
        hello = json.loads(await ws.recv())["d"]
        auth = auth_string(
            fake_obs.password or "", hello["authentication"]["salt"], hello["authentication"]["challenge"]
        )
        # The fake computes the hash on its own; talkcast's must agree with it.
        assert auth == proto.auth_string(
            fake_obs.password or "", hello["authentication"]["salt"], hello["authentication"]["challenge"]
        )
        await ws.send(json.dumps({"op": 1, "d": {"rpcVersion": 1, "authentication": auth}}))
        assert json.loads(await ws.recv()) == {"op": 2, "d": {"negotiatedRpcVersion": 1}}
        await ws.send(json.dumps(request))
        reply = json.loads(await ws.recv())
        assert reply["op"] == 7 and reply["d"]["requestId"] == "1" and reply["d"]["requestStatus"]["code"] == 100
