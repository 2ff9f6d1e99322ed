"""Routing and answers of the dashboard: pages, API, errors, headers on every answer, escaping."""

from __future__ import annotations

import json

from filters.dashboard.server import MAX_BODY_BYTES, Dashboard, to_json

from .conftest import TOKEN, call, pages

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
       "frame-ancestors 'none'; form-action 'self'")
JSON = "application/json"


def assert_guarded(reply):
    assert reply.headers["Content-Security-Policy"] == CSP
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Referrer-Policy"] == "no-referrer"
    assert reply.headers["Cache-Control"] == "no-store"
    assert not [name for name in reply.headers if name.lower().startswith("access-control")]


def test_index_has_the_token_and_files_their_types(world):
    dashboard = Dashboard(world.api, pages(world.tmp_path), token='t"<&>')
    reply = call(dashboard, "GET", "/")
    assert reply.status == 200 and reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert reply.body == b'<meta name="dejunk-token" content="t&quot;&lt;&amp;&gt;">'
    assert_guarded(reply)
    script = call(dashboard, "GET", "/app.js")
    assert script.status == 200 and script.headers["Content-Type"].startswith("text/javascript")
    head = call(dashboard, "HEAD", "/app.js")
    assert head.status == 200 and head.body == b""


def test_unknown_things_are_json_errors_with_the_same_headers(world):
    dashboard = Dashboard(world.api, pages(world.tmp_path), token=TOKEN)
    for method, target, status in (("GET", "/nothing.js", 404), ("GET", "/ui/index.html", 404),
                                   ("GET", "/../conftest.py", 404), ("GET", "/api/nothing", 404),
                                   ("POST", "/api/stats", 405), ("OPTIONS", "/api/stats", 405),
                                   ("POST", "/", 405)):
        reply = call(dashboard, method, target, x_dejunk_token=TOKEN)
        assert reply.status == status, (method, target)
        assert reply.headers["Content-Type"].startswith(JSON) and "error" in json.loads(reply.body)
        assert_guarded(reply)


def test_state_changes_without_the_token_or_from_another_origin_change_nothing(world):
    body = json.dumps({"site": "example.test"}).encode()
    for headers in ({}, {"x_dejunk_token": "nope"}, {"x_dejunk_token": TOKEN, "origin": "http://evil.test"}):
        reply = call(world.dashboard, "POST", "/api/sites/allow", body, content_type=JSON, **headers)
        assert reply.status == 403, headers
        assert_guarded(reply)
    assert world.store.allowed() == [] and world.changes == []
    ok = call(world.dashboard, "POST", "/api/sites/allow", body, content_type=JSON, x_dejunk_token=TOKEN,
              origin="http://dejunk.home.arpa")
    assert ok.status == 200 and world.store.allowed() == ["example.test"]


def test_a_password_guards_pages_and_api(world):
    world.dashboard.configure("dejunk.home.arpa", "pw")
    assert call(world.dashboard, "GET", "/api/status").status == 401
    assert call(world.dashboard, "GET", "/").status == 401
    assert call(world.dashboard, "GET", "/api/status", authorization="Basic dTpwdw==").status == 200  # u:pw


def test_bodies_must_be_small_json_objects(world):
    def post(body, content_type=JSON):
        return call(world.dashboard, "POST", "/api/sites/allow", body, content_type=content_type, x_dejunk_token=TOKEN)

    assert post(b'{"site": "a.test"', JSON).status == 400
    assert post(b'["a.test"]').status == 400
    assert post(b'{"site": "a.test"}', "text/plain").status == 415
    assert post(b'{"site": "' + b"a" * MAX_BODY_BYTES + b'"}').status == 413
    assert post(b'{"site": 5}').status == 400
    assert post(b'{"site": "bad site!"}').status == 400
    assert world.store.allowed() == []


def test_json_answers_never_hold_markup_characters():
    text = to_json({"url": "http://x.test/<script>alert(1)</script>&"})
    assert b"<" not in text and b">" not in text and b"&" not in text
    assert json.loads(text) == {"url": "http://x.test/<script>alert(1)</script>&"}


def test_a_failing_endpoint_is_a_500_json_error_not_a_crash(world):
    world.engines.refresher = None
    world.engines.plan = object()  # no `subscriptions`: the lists endpoint fails
    reply = call(world.dashboard, "GET", "/api/lists")
    assert reply.status == 500 and json.loads(reply.body)["error"].startswith("internal error")
    assert_guarded(reply)
