"""Who may use the control room: one-time codes, sessions, CSRF and Origin, as plain values."""

from __future__ import annotations

import hmac

import pytest

from talkcast import webauth as auth
from talkcast.webauth import LoginCodes, Sessions, cookie_name, csrf_ok, origin_ok


def test_a_login_code_works_once():
    codes = LoginCodes()
    code = codes.issue(now=100.0)
    assert codes.consume(code, now=101.0)
    assert not codes.consume(code, now=102.0)  # spent
    assert len(codes) == 0


def test_a_login_code_expires():
    codes = LoginCodes(ttl=600)
    code = codes.issue(now=0.0)
    assert not codes.consume(code, now=600.0)
    assert len(codes) == 0  # the expired code is gone too
    fresh = codes.issue(now=600.0)
    assert codes.consume(fresh, now=1199.9)


def test_codes_are_random_and_each_works_for_itself():
    codes = LoginCodes()
    a, b = codes.issue(0.0), codes.issue(0.0)
    assert a != b and len(a) >= 24  # 18 random bytes
    assert not codes.consume(a.upper() if a != a.upper() else a.lower(), 1.0)
    assert codes.consume(b, 1.0) and codes.consume(a, 1.0)


@pytest.mark.parametrize("guess", ["", "x", "\udcff\udcfe", "é" * 24, "a" * 10_000])
def test_any_guess_is_just_wrong(guess):
    codes = LoginCodes()
    codes.issue(0.0)
    assert not codes.consume(guess, 1.0)
    assert len(codes) == 1  # a wrong guess spends nothing


def test_every_outstanding_code_is_compared_in_constant_time(monkeypatch):
    """No early exit and no ``==``: each guess costs one compare_digest per outstanding code."""
    codes = LoginCodes()
    issued = [codes.issue(0.0) for _ in range(5)]
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    assert codes.consume(issued[0], 1.0)  # a match on the first code still compares the rest
    assert len(calls) == 5
    calls.clear()
    assert not codes.consume("wrong", 1.0)
    assert len(calls) == 4


def test_only_the_newest_codes_are_kept():
    codes = LoginCodes(limit=3)
    issued = [codes.issue(0.0) for _ in range(4)]
    assert len(codes) == 3
    assert not codes.consume(issued[0], 1.0)
    assert all(codes.consume(c, 1.0) for c in issued[1:])


def test_a_session_is_found_by_its_cookie_until_it_expires():
    sessions = Sessions(ttl=3600)
    session = sessions.create(now=0.0)
    assert session.id != session.csrf
    assert sessions.get(session.id, now=10.0) == session
    assert sessions.get(session.id, now=3600.0) is None
    assert sessions.get(None, now=0.0) is None and sessions.get("", now=0.0) is None
    assert sessions.get(session.id + "x", now=0.0) is None


def test_a_session_can_log_out_and_old_ones_make_room():
    sessions = Sessions(limit=2)
    first, second = sessions.create(0.0), sessions.create(0.0)
    sessions.end(second.id)
    assert sessions.get(second.id, 1.0) is None and sessions.get(first.id, 1.0) == first
    third, fourth = sessions.create(1.0), sessions.create(1.0)
    assert sessions.get(first.id, 2.0) is None  # the oldest went
    assert sessions.get(third.id, 2.0) and sessions.get(fourth.id, 2.0)


def test_csrf_token_must_match_the_session():
    sessions = Sessions()
    mine, other = sessions.create(0.0), sessions.create(0.0)
    assert csrf_ok(mine, mine.csrf)
    assert not csrf_ok(mine, other.csrf)
    assert not csrf_ok(mine, None) and not csrf_ok(mine, "")
    assert not csrf_ok(mine, "\udcff")  # a header that is not text is simply wrong


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),  # not a browser: the cookie and the CSRF token still apply
        ("http://127.0.0.1:8787", True),
        ("HTTP://127.0.0.1:8787", True),
        ("http://127.0.0.1:8788", False),  # another room on the same machine
        ("http://evil.example", False),
        ("null", False),
        ("https://127.0.0.1:8787", False),
    ],
)
def test_origin_must_name_this_server_when_present(origin, allowed):
    assert origin_ok(origin, "http", "127.0.0.1:8787") is allowed


def test_each_port_has_its_own_cookie():
    assert cookie_name("127.0.0.1:8787") == "talkcast_room_8787"
    assert cookie_name("[::1]:8788") == "talkcast_room_8788"
    assert cookie_name("room.local") == "talkcast_room_80"
    assert cookie_name("[::1]") == "talkcast_room_80"
