"""Secrets never print: Secret objects, the redactor, and the logging filter."""

from __future__ import annotations

import logging

import pytest

from talkcast.secrets import RedactingFilter, Secret, redact, register_secret, register_value


def test_secret_hides_its_value() -> None:
    s = Secret("obs-password-xyz")
    assert str(s) == "****" and repr(s) == "Secret(****)" and f"{s}" == "****"
    assert s.reveal() == "obs-password-xyz"


def test_redact_masks_registered_values_rtmp_keys_and_tokens() -> None:
    register_value("ya29.super-secret-access")
    text = (
        "token ya29.super-secret-access; push rtmp://a.rtmp.youtube.com/live2/abcd-1234-efgh?backup=1 "
        "and rtmps://live.example.com:443/app/sk_live_999; Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.x"
    )
    clean = redact(text)
    assert "super-secret" not in clean and "abcd-1234-efgh" not in clean and "sk_live_999" not in clean
    assert "eyJhbGciOiJSUzI1NiJ9" not in clean
    assert "rtmp://a.rtmp.youtube.com/live2/****?backup=1" in clean


def test_logging_filter_redacts_formatted_messages(caplog: pytest.LogCaptureFixture) -> None:
    key = register_secret(Secret("stream-key-424242"))
    logger = logging.getLogger("talkcast.test")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="talkcast.test"):
        logger.info("starting %s with key %s", "relay", key.reveal())
    assert "stream-key-424242" not in caplog.text
    assert "starting relay with key ****" in caplog.text
