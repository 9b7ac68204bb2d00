"""Matchers, URI templates, grants and the replay index, in-process."""

from __future__ import annotations

import time

import pytest

from rill.hub.grants import InvalidGrant, grants_from_claims, session_grants
from rill.hub.limits import BadRequest
from rill.hub.matchers import in_match_namespace, legacy_selector, matcher
from rill.hub.publish import is_reserved
from rill.hub.replay import ReplayIndex
from rill.hub.templates import compile_template
from rill.hub.update import Head, Update, read_head

BASE = "http://localhost/.well-known/mercure"


@pytest.mark.parametrize(
    ("template", "topic", "expected"),
    [
        ("https://example.com/books/{id}", "https://example.com/books/1", True),
        ("https://example.com/books/{id}", "https://example.com/books/", True),
        ("https://example.com/books/{id}", "https://example.com/books/1/2", False),
        ("https://example.com/{+path}", "https://example.com/a/b?c=d", True),
        ("files/{name}.{ext}", "files/report.final.pdf", True),
        ("files/{name}.json", "files/a.xml", False),
        ("a{/segments*}", "a/b/c/d", True),
        ("search{?q,lang}", "search?q=x&lang=en", True),
        ("x{#frag}", "x#top", True),
        ("x{#frag}", "x", True),
        ("users/{id}/notifications", "users/alice/notifications", True),
        ("users/{id}/notifications", "users/alice/bob/notifications", False),
    ],
)
def test_uri_templates(template: str, topic: str, expected: bool) -> None:
    assert bool(compile_template(template).fullmatch(topic)) is expected


@pytest.mark.parametrize("template", ["{unclosed", "closed}", "{a b}", "{a}.{b}.{c}.{d}", "{@x}"])
def test_bad_or_dangerous_templates_are_refused(template: str) -> None:
    with pytest.raises(BadRequest):
        compile_template(template)


def test_template_matching_stays_fast_on_hostile_input() -> None:
    regex = compile_template("{a}{b}{c}{d}{e}/x")  # merged: one value, possessive
    started = time.perf_counter()
    assert regex.fullmatch("a" * 2000 + "!") is None
    assert time.perf_counter() - started < 0.05


def test_url_patterns() -> None:
    m = matcher("URLPattern", "https://example.com/books/:id", BASE)
    assert m.matches("https://example.com/books/3") and not m.matches("https://example.com/x")
    relative = matcher("URLPattern", "prices/:symbol", BASE)
    assert relative.matches("prices/BTC") and not relative.matches("https://x.example/prices/BTC")
    assert matcher("URLPattern", "*", BASE).matches("anything at all")
    # Nested quantifiers are harmless: the engine matches in linear time.
    evil = matcher("URLPattern", "/(a+)+$", BASE)
    started = time.perf_counter()
    assert not evil.matches("/" + "a" * 5000 + "b")
    assert time.perf_counter() - started < 0.05
    assert matcher("Exact", "t", BASE) is matcher("Exact", "t", BASE)


def test_legacy_selectors_and_reserved_parameters() -> None:
    assert legacy_selector("*").matches("x")
    assert legacy_selector("a/{b}").matches("a/1")
    assert legacy_selector("plain").kind == "Exact"
    assert in_match_namespace("matchRegex") and in_match_namespace("MATCHexact")
    assert in_match_namespace("match_urlpattern") and not in_match_namespace("topic")


def test_reserved_topics() -> None:
    assert is_reserved("/.well-known/mercure/subscriptions/a", BASE)
    assert is_reserved("https://other.example/.well-known/mercure", BASE)
    assert not is_reserved("/.well-known/mercurex", BASE)
    assert not is_reserved("prices/BTC", BASE)


def test_grants_from_claims() -> None:
    legacy = grants_from_claims(
        {"mercure": {"publish": ["a/{id}"], "subscribe": ["*"]}}, max_length=100
    )
    assert legacy is not None and legacy.can_publish("a/1") and not legacy.can_publish("b/1")
    assert legacy.can_subscribe("anything")
    details = grants_from_claims(
        {
            "authorization_details": [
                {"type": "other", "whatever": 1},
                {
                    "type": "mercure",
                    "actions": ["subscribe"],
                    "topics": [{"match": "x"}],
                    "payload": {"p": 1},
                },
            ]
        },
        max_length=100,
    )
    assert details is not None and details.can_subscribe("x") and not details.can_publish("x")
    assert details.payload_for("x") == {"p": 1} and details.payload_for("y") is None
    assert grants_from_claims({"sub": "alice"}, max_length=100) is None
    for bad in (
        {"authorization_details": "no"},
        {"authorization_details": [{"type": "mercure", "actions": [], "topics": [{"match": "x"}]}]},
        {"authorization_details": [{"type": "mercure", "actions": ["publish"], "topics": []}]},
        {"authorization_details": [{"type": "mercure", "actions": ["publish"], "topics": ["x"]}]},
        {"mercure": {"publish": "x"}},
    ):
        with pytest.raises(InvalidGrant):
            grants_from_claims(bad, max_length=100)


def test_session_grants_cover_only_the_users_tree() -> None:
    grants = session_grants("alice", None)
    assert grants.can_subscribe("users/alice/notifications")
    assert not grants.can_subscribe("users/alice") and not grants.can_subscribe("users/bob/x")
    assert not grants.can_publish("users/alice/notifications")
    assert not session_grants("a/b", None).can_subscribe("users/a/b/x")


def stored(update: Update) -> tuple[bytes, Head]:
    payload = update.to_payload()
    head = read_head(payload)
    assert head is not None
    return payload, head


def test_replay_index_lookup_and_trim() -> None:
    index = ReplayIndex(max_count=3, max_age=3600, max_bytes=1 << 20)
    now = int(time.time() * 1000)
    for i in range(5):
        index.add(f"{now}-{i}", now, *stored(Update(id=f"u{i}", topics=("t",), data=str(i))))
    assert len(index) == 3 and index.first_seq == 2 and index.next_seq == 5
    assert index.find("u1") is None and index.find("u3") == 3
    assert [r.id for r in index.iter_from(3, 10)] == ["u3", "u4"]
    assert [r.id for r in index.iter_back(4, 10)] == ["u4", "u3", "u2"]
    assert index.get(4) is not None and index.get(1) is None
    old = ReplayIndex(max_count=10, max_age=1, max_bytes=1 << 20)
    old.add("1-0", 1, *stored(Update(id="x", topics=("t",), data="")))
    assert len(old) == 0


def test_replay_index_finds_the_earliest_occurrence_of_a_reused_id() -> None:
    from rill.hub.replay import ReplayIndex
    from rill.hub.update import Update, read_head

    def add(position: str, update: Update) -> int:
        payload = update.to_payload()
        head = read_head(payload)
        assert head is not None
        return index.add(position, 10**13, payload, head).seq

    index = ReplayIndex(max_count=3, max_age=3600, max_bytes=1 << 20)
    first = add("1-0", Update("same", ("t",), "a"))
    add("2-0", Update("other", ("t",), "b"))
    add("3-0", Update("same", ("t",), "c"))
    assert index.find("same") == first
    # Once the earliest occurrence leaves the window, the id is unknown (replay all).
    add("4-0", Update("x", ("t",), "d"))
    assert index.find("same") is None
