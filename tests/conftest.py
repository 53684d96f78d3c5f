"""Fixtures shared by several test modules."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from talkcast.config import ObsConfig
from talkcast.secrets import Secret, register_secret
from tests.fakes.obs_server import FakeObs


@pytest_asyncio.fixture
async def fake_obs(tmp_path: Path) -> AsyncIterator[FakeObs]:
    """A fake obs-websocket v5 server with the scenes Scene, Intro, Talk, Break and Outro.

    ``fake_obs_config(fake_obs)`` is the talkcast ``ObsConfig`` that reaches it.
    """
    async with FakeObs(record_dir=tmp_path / "recordings") as obs:
        yield obs


def fake_obs_config(obs: FakeObs, **overrides: object) -> ObsConfig:
    """An ``ObsConfig`` for ``obs`` with its password and short, test-sized timeouts."""
    password = register_secret(Secret(obs.password)) if obs.password is not None else None
    cfg = ObsConfig(host="127.0.0.1", port=obs.port, password=password, request_timeout=1.0, health_interval=0.1)
    return dataclasses.replace(cfg, **overrides)  # type: ignore[arg-type]
