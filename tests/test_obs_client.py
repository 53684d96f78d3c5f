"""ObsClient against a real OBS 29 under Xvfb: auth, requests, events, losing OBS."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from talkcast.errors import ObsAuthError
from talkcast.secrets import Secret
from talkcast.streamer.obs import ObsClient, ObsConnectionLost, ObsRequestFailed, ObsUnavailable
from tests.support.net import free_port
from tests.support.obs import obs_config

pytestmark = pytest.mark.obs


def test_client_auth_requests_events_and_a_killed_obs(obs_factory):
    obs = obs_factory()
    obs.create_scenes("Talk")
    cfg = obs_config(obs)

    async def scenario():
        t0 = time.monotonic()
        with pytest.raises(ObsAuthError, match=r"refused the password \(from the environment variable TALKCAST_OBS"):
            async with ObsClient.connect(dataclasses.replace(cfg, password=Secret("wrong-password"))):
                pass
        assert time.monotonic() - t0 < 1.0  # immediate, not retried
        with pytest.raises(ObsAuthError, match="requires a password: set the environment variable"):
            async with ObsClient.connect(dataclasses.replace(cfg, password=None)):
                pass
        with pytest.raises(ObsUnavailable, match=r"is not reachable .*is OBS running\?"):
            async with ObsClient.connect(dataclasses.replace(cfg, port=free_port())):
                pass

        async with ObsClient.connect(cfg) as client:
            assert "Talk" in await client.scene_names()
            with pytest.raises(ObsRequestFailed) as failed:
                await client.set_program_scene("No Such Scene")
            assert failed.value.code == 600 and failed.value.request_type == "SetCurrentProgramScene"
            with client.subscribe() as events:
                await client.set_program_scene("Talk")
                changed = await events.wait_for("CurrentProgramSceneChanged", time_limit=3)
            assert changed.data["sceneName"] == "Talk" and await client.program_scene() == "Talk"
            path = await client.start_record()
            assert path.endswith(".mkv") and (await client.record_status()).active
            stats = await client.stats()
            assert stats.disk_free_mb > 0

            with client.subscribe() as events:
                killed = time.monotonic()
                obs.kill()
                with pytest.raises(ObsConnectionLost):
                    async for _ in events:
                        pass
                assert time.monotonic() - killed < 2.0
            with pytest.raises(ObsConnectionLost):
                await client.stats()
            assert not client.connected

    asyncio.run(scenario())
