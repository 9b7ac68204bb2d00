"""The matcher table: which updates reach which subscriber, over real HTTP."""

from __future__ import annotations

import pytest

from tests.integration.hub.conftest import HubServer, hub_token, session_token, subscribe

SENTINEL = "sentinel/after"

# (query parameters, published topic, private?, token for the subscriber, delivered?)
CASES = [
    ([("match", "prices/BTC")], "prices/BTC", False, None, True),
    ([("match", "prices/BTC")], "prices/ETH", False, None, False),
    ([("match", "prices/BTC")], "prices/btc", False, None, False),
    ([("matchExact", "prices/BTC")], "prices/BTC", False, None, True),
    ([("match_exact", "prices/BTC")], "prices/BTC", False, None, True),
    (
        [("matchURLPattern", "https://example.com/books/:id")],
        "https://example.com/books/7",
        False,
        None,
        True,
    ),
    (
        [("match_urlpattern", "https://example.com/books/:id")],
        "https://example.com/books/7/x",
        False,
        None,
        False,
    ),
    ([("matchURLPattern", "prices/:symbol")], "prices/ETH", False, None, True),
    ([("matchURLPattern", "prices/:symbol")], "inventory/sku-1", False, None, False),
    (
        [("matchURLPattern", "https://example.com/*")],
        "https://example.com/a/b/c",
        False,
        None,
        True,
    ),
    (
        [("topic", "https://example.com/books/{id}")],
        "https://example.com/books/1",
        False,
        None,
        True,
    ),
    (
        [("topic", "https://example.com/books/{id}")],
        "https://example.com/books/1/2",
        False,
        None,
        False,
    ),
    ([("topic", "parcels/{+rest}")], "parcels/p1/steps/3", False, None, True),
    ([("topic", "*")], "anything/at/all", False, None, True),
    ([("match", "*")], "anything", False, None, True),
    ([("topic", "plain/topic")], "plain/topic", False, None, True),
    # private updates: only with a token granting the topic
    ([("match", "orders/1")], "orders/1", True, None, False),
    ([("match", "orders/1")], "orders/1", True, "grant:orders/1", True),
    ([("match", "orders/1")], "orders/1", True, "grant:orders/2", False),
    ([("match", "orders/1")], "orders/1", True, "grant:orders/{id}", True),
    ([("match", "orders/1")], "orders/1", True, "grant:*", True),
    ([("match", "orders/1")], "orders/1", True, "details:orders/:id", True),
    ([("match", "orders/1")], "orders/1", True, "details-exact:orders/2", False),
    ([("match", "orders/1")], "orders/1", False, "grant:orders/2", True),
    # a chat session opens its own users/{sub}/… topics only
    (
        [("match", "users/alice/notifications")],
        "users/alice/notifications",
        True,
        "session:alice",
        True,
    ),
    (
        [("match", "users/bob/notifications")],
        "users/bob/notifications",
        True,
        "session:alice",
        False,
    ),
]


def _token(spec: str | None) -> dict[str, str]:
    if spec is None:
        return {}
    kind, _, value = spec.partition(":")
    if kind == "grant":
        token = hub_token(subscribe=[value])
    elif kind == "details":
        token = hub_token(
            details=[
                {
                    "type": "mercure",
                    "actions": ["subscribe"],
                    "topics": [{"match": value, "matchType": "URLPattern"}],
                }
            ]
        )
    elif kind == "details-exact":
        token = hub_token(
            details=[{"type": "mercure", "actions": ["subscribe"], "topics": [{"match": value}]}]
        )
    else:
        token = session_token(value)
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(("params", "topic", "private", "token", "delivered"), CASES)
async def test_matcher_table(
    hub_server: HubServer,
    params: list[tuple[str, str]],
    topic: str,
    private: bool,
    token: str | None,
    delivered: bool,
) -> None:
    query = [*params, ("match", SENTINEL)]
    async with hub_server.client() as c, subscribe(c, query, _token(token)) as s:
        assert s.response.status_code == 200
        fields = {"private": True} if private else {}
        r = await hub_server.publish(topic, "case", **fields)
        assert r.status_code == 200, r.text
        await hub_server.publish(SENTINEL, "sentinel")
        first = await s.next()
        assert (first.data == "case") is delivered
        if delivered:
            assert (await s.next()).data == "sentinel"
