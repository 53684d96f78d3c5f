"""Fixtures shared by several test modules: real OBS, nginx-rtmp stand-ins, a fake obs-websocket.

The classes behind them live in ``tests/support/`` (real components) and ``tests/fakes/``
(strict fakes of what cannot run here); test modules ask for the fixtures by name.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from talkcast.config import ObsConfig
from talkcast.secrets import Secret, register_secret
from tests.fakes.obs_server import FakeObs
from tests.support.event import generate_once
from tests.support.obs import ObsInstance
from tests.support.prometheus import PrometheusServer
from tests.support.rtmp import RtmpServer


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


@pytest.fixture(scope="session")
def demo_event(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo evening, generated once per test session; copy it before changing it (``copy_event``)."""
    return generate_once(tmp_path_factory.mktemp("demo-original"))


@pytest.fixture
def obs_factory(tmp_path: Path) -> Iterator[Callable[..., ObsInstance]]:
    """A factory of started, ready OBS instances; every one is stopped after the test.

    ``obs_factory(start=False)`` returns a configured but not started instance (for
    "OBS not running yet" tests); other keywords go to ``ObsInstance``.
    """
    made: list[ObsInstance] = []
    counter = itertools.count()

    def make(*, start: bool = True, **kwargs: Any) -> ObsInstance:
        inst = ObsInstance(tmp_path / f"obs{next(counter)}", **kwargs)
        made.append(inst)
        if start:
            inst.start()
            inst.wait_ready()
        return inst

    try:
        yield make
    finally:
        for inst in made:
            inst.stop()


@pytest.fixture
def obs_instance(obs_factory: Callable[..., ObsInstance]) -> ObsInstance:
    """One started OBS for the test."""
    return obs_factory()


@pytest.fixture
def rtmp_factory(tmp_path: Path) -> Iterator[Callable[..., RtmpServer]]:
    """A factory of started stand-in servers; every one is stopped after the test."""
    made: list[RtmpServer] = []
    counter = itertools.count()

    def make(*, start: bool = True, **kwargs: Any) -> RtmpServer:
        server = RtmpServer(tmp_path / f"rtmp{next(counter)}", **kwargs)
        made.append(server)
        if start:
            server.start()
        return server

    try:
        yield make
    finally:
        for server in made:
            server.stop()


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[Callable[..., PrometheusServer]]:
    """A factory of started Prometheus servers (``PrometheusServer``'s keywords); all stopped after the test."""
    made: list[PrometheusServer] = []
    counter = itertools.count()

    def make(**kwargs: Any) -> PrometheusServer:
        server = PrometheusServer(tmp_path / f"prometheus{next(counter)}", **kwargs)
        made.append(server)
        return server.start()

    try:
        yield make
    finally:
        for server in made:
            server.stop()
