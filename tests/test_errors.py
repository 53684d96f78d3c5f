"""Errors cross process boundaries (worker pools, Dask) with their message and fields."""

from __future__ import annotations

import pickle

from talkcast.errors import ConfigError, MediaError, PublishError, QuotaExceeded, TalkError


def test_errors_survive_pickling() -> None:
    for error in (
        TalkError("kafka", "cut outside its recording", stage="cut"),
        ConfigError("event.toml", "transcribe.model", "unknown model"),
        MediaError("ffmpeg failed", command="ffmpeg -i x", exit_code=1, stderr_tail="boom"),
        PublishError("503", talk="kafka", request="videos.insert"),
        QuotaExceeded("quota used up", resets_at="2026-08-28T07:00:00Z"),
    ):
        copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes, as a worker pool sends them
        assert type(copy) is type(error)
        assert str(copy) == str(error)
        assert copy.__dict__ == error.__dict__
    assert str(TalkError("kafka", "no audio", stage="cut")) == "talk 'kafka' (cut): no audio"
