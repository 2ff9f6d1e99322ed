"""The dashboard's guard: methods, the password, and the token and Origin of state changes."""

from __future__ import annotations

import base64

import pytest

from filters.dashboard.security import Guard, Refusal, new_token

TOKEN = "tok-123"


def headers(**named):
    return {name.replace("_", "-").lower(): [value] for name, value in named.items()}


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def refusal(guard, method, found) -> int | None:
    try:
        guard.check(method, found)
    except Refusal as e:
        return e.status
    return None


def test_a_token_is_new_each_time_and_long():
    assert new_token() != new_token()
    assert len(new_token()) >= 40


def test_reading_needs_nothing_without_a_password():
    guard = Guard("dejunk.home.arpa", TOKEN)
    assert refusal(guard, "GET", {}) is None
    assert refusal(guard, "HEAD", headers(origin="http://evil.test")) is None


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_a_state_change_needs_the_token_and_the_dashboards_origin(method):
    guard = Guard("dejunk.home.arpa", TOKEN)
    assert refusal(guard, method, {}) == 403
    assert refusal(guard, method, headers(x_dejunk_token="wrong")) == 403
    assert refusal(guard, method, headers(x_dejunk_token=TOKEN)) is None  # no Origin: not a browser's cross-site request
    assert refusal(guard, method, headers(x_dejunk_token=TOKEN, origin="http://dejunk.home.arpa")) is None
    assert refusal(guard, method, headers(x_dejunk_token=TOKEN, origin="https://dejunk.home.arpa")) is None
    for origin in ("http://evil.test", "null", "http://dejunk.home.arpa.evil.test", "http://dejunk.home.arpa:8080"):
        assert refusal(guard, method, headers(x_dejunk_token=TOKEN, origin=origin)) == 403
    assert refusal(guard, method, {"x-dejunk-token": [TOKEN, TOKEN]}) == 403


def test_other_methods_are_not_allowed():
    guard = Guard("dejunk.home.arpa", TOKEN)
    for method in ("OPTIONS", "PATCH", "TRACE", "CONNECT"):
        assert refusal(guard, method, headers(x_dejunk_token=TOKEN)) == 405


def test_a_password_is_asked_for_on_every_request():
    guard = Guard("dejunk.home.arpa", TOKEN, "s3cret:ä")
    assert refusal(guard, "GET", {}) == 401
    assert refusal(guard, "GET", headers(authorization=basic("anyone", "wrong"))) == 401
    assert refusal(guard, "GET", headers(authorization="Basic !!notbase64")) == 401
    assert refusal(guard, "GET", headers(authorization="Bearer s3cret")) == 401
    assert refusal(guard, "GET", headers(authorization=basic("anyone", "s3cret:ä"))) is None
    assert refusal(guard, "GET", headers(authorization=basic("", "s3cret:ä"))) is None
    # The password does not stand in for the token.
    assert refusal(guard, "POST", headers(authorization=basic("u", "s3cret:ä"))) == 403
    with pytest.raises(Refusal) as asked:
        guard.check("GET", {})
    assert asked.value.headers["WWW-Authenticate"].startswith("Basic ")
