"""The hub's CORS policy: the API's rules, answered from the ``Origin`` header alone."""

from __future__ import annotations

from rill.hub.cors import CorsPolicy, request_origin

APP = b"http://app.example"


def test_off_without_origins() -> None:
    policy = CorsPolicy([])
    assert not policy.enabled
    assert policy.headers(APP) == ()
    assert policy.headers_for({"headers": [(b"origin", APP)]}) == ()


def test_listed_origins_get_credentials_and_vary() -> None:
    policy = CorsPolicy(["http://app.example"])
    answer = dict(policy.headers(APP))
    assert answer[b"access-control-allow-origin"] == APP
    assert answer[b"access-control-allow-credentials"] == b"true"
    assert answer[b"vary"] == b"Origin"
    assert policy.headers(b"http://evil.example") == ((b"vary", b"Origin"),)
    assert policy.headers(None) == ()  # not a CORS request: untouched


def test_any_origin_never_with_credentials() -> None:
    policy = CorsPolicy(["*", "http://app.example"])
    for origin in (APP, b"http://evil.example"):
        answer = dict(policy.headers(origin))
        assert answer[b"access-control-allow-origin"] == b"*"
        assert b"access-control-allow-credentials" not in answer
    status, _, headers = policy.preflight(APP, b"POST", b"authorization")
    assert status == 200
    assert b"access-control-allow-credentials" not in dict(headers)


def test_preflight_checks_origin_method_and_headers() -> None:
    policy = CorsPolicy(["http://app.example"])
    status, body, headers = policy.preflight(APP, b"GET", b"Last-Event-ID, cache-control")
    assert (status, body) == (200, b"OK")
    assert dict(headers)[b"access-control-allow-origin"] == APP
    status, body, headers = policy.preflight(b"http://evil.example", b"PUT", b"x-other")
    assert (status, body) == (400, b"Disallowed CORS origin, method, headers")
    assert not any(name.startswith(b"access-control-") for name, _ in headers)


def test_request_origin_reads_the_first_origin_header() -> None:
    scope = {"headers": [(b"host", b"x"), (b"Origin", APP), (b"origin", b"http://b")]}
    assert request_origin(scope) == APP
    assert request_origin({"headers": []}) is None
