"""Spec § Authorization: access tokens, authorization details, and RFC 6750 errors."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.conformance.conftest import (
    PUBLISHER_KEY,
    SUBSCRIBER_KEY,
    Hub,
    detail,
    pattern,
)


def _challenge(r: httpx.Response) -> str:
    return r.headers.get("www-authenticate", "")


def _published(hub: Hub, token: str, topic: str = "https://example.com/books/1") -> int:
    return hub.publish([("topic", topic), ("data", "x")], token).status_code


def test_no_token_is_401_with_a_bare_challenge(strict: Hub) -> None:
    r = strict.publish([("topic", "t")])
    assert r.status_code == 401
    challenge = _challenge(r)
    assert challenge.startswith("Bearer ") and "error=" not in challenge
    metadata = f"{strict.url}/.well-known/oauth-protected-resource/.well-known/mercure"
    assert f'resource_metadata="{metadata}"' in challenge


def test_new_detail_type_grants_publish(strict: Hub) -> None:
    assert _published(strict, strict.token([detail(["publish"], "*")])) == 200


def test_draft_detail_type_mercure_grants_too(strict: Hub) -> None:
    assert _published(strict, strict.token([detail(["publish"], "*", type="mercure")])) == 200


@pytest.mark.parametrize(
    ("topics", "topic", "status"),
    [
        ([pattern("https://example.com/books/:id")], "https://example.com/books/1", 200),
        ([pattern("https://example.com/books/:id")], "https://example.com/authors/1", 403),
        ([{"match": "https://example.com/books/1", "match_type": "exact"}],
         "https://example.com/books/1", 200),
        ([{"match": "https://example.com/books/1"}], "https://example.com/books/2", 403),
        # An exact matcher is byte-for-byte: no pattern syntax, no normalization.
        ([{"match": "https://example.com/books/:id"}], "https://example.com/books/1", 403),
        ([{"match": "https://example.com/Books/1"}], "https://example.com/books/1", 403),
        # '*' matches every topic whatever the match_type.
        ([{"match": "*", "match_type": "urlpattern"}], "anything at all", 200),
        # Relative patterns resolve against the hub's URL.
        ([pattern("prices/:symbol")], "prices/BTC", 200),
        # URL patterns never ignore case (only the host is case-insensitive).
        ([pattern("https://example.com/books/:id")], "https://example.com/BOOKS/1", 403),
        ([pattern("https://example.com/books/:id")], "https://EXAMPLE.com/books/1", 200),
        # A topic that is no URL cannot match a URL pattern.
        ([pattern("https\\://:host/:path")], "http://[not-an-ip/x", 403),
    ],
)
def test_topic_matchers_in_details(strict: Hub, topics: list[dict[str, Any]], topic: str,
                                   status: int) -> None:
    assert _published(strict, strict.token([detail(["publish"], *topics)]), topic) == status


def test_previous_spelling_matchtype_is_not_read_by_a_strict_hub(strict: Hub) -> None:
    # Without the legacy setting, ``matchType`` is just an unknown member: exact applies.
    token = strict.token([detail(["publish"], {"match": "b/:id", "matchType": "URLPattern"})])
    assert _published(strict, token, "b/1") == 403


def test_unknown_actions_are_ignored(strict: Hub) -> None:
    assert _published(strict, strict.token([detail(["publish", "archive"], "*")])) == 200
    r = strict.publish([("topic", "t")], strict.token([detail(["archive"], "*")]))
    assert r.status_code == 403 and 'error="insufficient_scope"' in _challenge(r)


def test_other_detail_types_are_ignored(strict: Hub) -> None:
    other = {"type": "https://example.com/payments", "actions": {"pay": True}, "topics": 3}
    token = strict.token([other, detail(["publish"], "*")])
    assert _published(strict, token) == 200


def test_no_mercure_detail_grants_nothing(strict: Hub) -> None:
    token = strict.token([{"type": "https://example.com/other", "actions": ["publish"]}])
    r = strict.publish([("topic", "t")], token)
    assert r.status_code == 403 and 'error="insufficient_scope"' in _challenge(r)
    assert strict.publish([("topic", "t")], strict.token(None)).status_code == 403


def test_subscribe_grant_does_not_publish(strict: Hub) -> None:
    r = strict.publish([("topic", "t")], strict.token([detail(["subscribe"], "*")]))
    assert r.status_code == 403 and 'error="insufficient_scope"' in _challenge(r)


def _invalid_tokens(hub: Hub) -> dict[str, str]:
    now = int(time.time())
    grant = [detail(["publish"], "*")]
    return {
        "no exp": hub.token(grant, ttl=None),
        "expired": hub.token(grant, exp=now - 60),
        "not yet valid": hub.token(grant, nbf=now + 600),
        "typ JWT": hub.token(grant, typ="JWT"),
        "no typ": hub.token(grant, typ=None),
        "alg none": hub.token(grant, alg="none"),
        "wrong key": hub.token(grant, key="another-key-another-key-another-key-0"),
        "subscriber key on publish": hub.token(grant, key=SUBSCRIBER_KEY),
        "wrong aud": hub.token(grant, aud="https://other-hub.example/.well-known/mercure"),
        "no aud": hub.token(grant, aud=None),
        "wrong iss": hub.token(grant, iss="https://evil.example"),
        "unknown match_type": hub.token([detail(["publish"], {"match": "t", "match_type": "regex"})]),
        "match_type wrong case": hub.token(
            [detail(["publish"], {"match": "t", "match_type": "URLPattern"})]),
        "bad url pattern": hub.token([detail(["publish"], pattern("https://(["))]),
        "topic not an object": hub.token([detail(["publish"], "t") | {"topics": ["t"]}]),
        "match missing": hub.token([detail(["publish"], {"match_type": "exact"})]),
        "empty topics": hub.token([detail(["publish"]) | {"topics": []}]),
        "empty actions": hub.token([detail([], "*")]),
        "non-string action": hub.token([detail(["publish", 7], "*")]),
        "payload not an object": hub.token([detail(["subscribe"], "*", payload=[1])]),
        "details not an array": hub.token({"type": "mercure"}),  # type: ignore[arg-type]
        "format character in matcher": hub.token([detail(["publish"], "a\u200bb")]),
        "one bad detail among good": hub.token(
            [detail(["publish"], "*"), detail(["publish"], {"match": "t", "match_type": "x"})]),
    }


INVALID = [
    "no exp", "expired", "not yet valid", "typ JWT", "no typ", "alg none", "wrong key",
    "subscriber key on publish", "wrong aud", "no aud", "wrong iss", "unknown match_type",
    "match_type wrong case", "bad url pattern", "topic not an object", "match missing",
    "empty topics", "empty actions", "non-string action", "payload not an object",
    "details not an array", "format character in matcher", "one bad detail among good",
]


@pytest.mark.parametrize("case", INVALID)
def test_invalid_tokens_are_401_invalid_token(strict: Hub, case: str) -> None:
    token = _invalid_tokens(strict)[case]
    r = strict.publish([("topic", "t"), ("data", "x")], token)
    assert r.status_code == 401, (case, r.text)
    assert 'error="invalid_token"' in _challenge(r)
    assert r.headers["content-type"] == "application/problem+json"


def test_header_token_wins_over_cookie(strict: Hub) -> None:
    good, bad = strict.publisher(), "not-a-token"
    r = httpx.post(strict.hub_url, content="topic=t",
                   headers={"Authorization": f"Bearer {good}",
                            "Content-Type": "application/x-www-form-urlencoded",
                            "Cookie": f"__Secure-mercure_access_token={bad}"})
    assert r.status_code == 200


def test_bearer_scheme_is_case_insensitive(strict: Hub) -> None:
    r = httpx.post(strict.hub_url, content="topic=t",
                   headers={"Authorization": f"bearer {strict.publisher()}",
                            "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200


def test_aud_may_be_an_array(strict: Hub) -> None:
    assert strict.audience is not None
    token = strict.token([detail(["publish"], "*")],
                         aud=["https://other.example", strict.audience])
    assert _published(strict, token) == 200


def test_publisher_key_is_not_the_subscriber_key(strict: Hub) -> None:
    assert PUBLISHER_KEY != SUBSCRIBER_KEY
    token = strict.token([detail(["subscribe"], "*")], key=PUBLISHER_KEY)
    r = httpx.get(f"{strict.url}/.well-known/mercure/subscriptions",
                  headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and 'error="invalid_token"' in _challenge(r)


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Token abc"])
def test_malformed_presentation_is_400_invalid_request(strict: Hub, header: str) -> None:
    for r in (
        httpx.post(strict.hub_url, content="topic=t",
                   headers={"Authorization": header,
                            "Content-Type": "application/x-www-form-urlencoded"}),
        httpx.get(strict.hub_url, params={"match": "t"}, headers={"Authorization": header}),
    ):
        assert r.status_code == 400
        assert r.headers["content-type"] == "application/problem+json"
        assert _challenge(r).startswith('Bearer error="invalid_request"')


def test_every_401_and_403_carries_the_metadata_pointer(strict: Hub) -> None:
    metadata = f"{strict.url}/.well-known/oauth-protected-resource/.well-known/mercure"
    forbidden = strict.publish([("topic", "t")], strict.token([detail(["subscribe"], "*")]))
    invalid = strict.publish([("topic", "t")], "x.y.z")
    for r in (forbidden, invalid):
        assert r.status_code in (401, 403)
        assert f'resource_metadata="{metadata}"' in _challenge(r)


def test_grant_limits_reject_the_token(strict: Hub) -> None:
    many_details = strict.token([detail(["publish"], "*")] * 33)
    many_topics = strict.token([detail(["publish"], *[f"t{i}" for i in range(257)])])
    for token in (many_details, many_topics):
        r = strict.publish([("topic", "t")], token)
        assert r.status_code == 401 and 'error="invalid_token"' in _challenge(r)
