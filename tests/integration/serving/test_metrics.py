"""``/metrics``: the counters move with real traffic, and only the operator may read them."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from rill.config import Settings
from rill.errors import Forbidden
from rill.http.metrics import check_access
from tests.integration.serving.conftest import metric, rill_token


def _chat(client: httpx.Client, token: str, bot: str, message: str) -> str:
    with client.stream("POST", "/api/chat", json={"chatbotId": bot, "message": message},
                       headers={"authorization": f"Bearer {token}"}) as response:
        assert response.status_code == 200
        return response.read().decode()


def test_counters_move_after_a_chat_turn_and_a_hub_publish(server_factory) -> None:
    server = server_factory()
    publisher = rill_token(server, "--publish", "*")
    with server.client() as client:
        token = client.post("/api/session").json()["token"]
        before = client.get("/metrics").text
        assert "message_stop" in _chat(client, token, "echo", "one two three")
        with client.stream("GET", "/.well-known/mercure", params={"topic": "m"}) as sub:
            during = client.get("/metrics").text
            r = client.post("/.well-known/mercure", data={"topic": "m", "data": "hello"},
                            headers={"authorization": f"Bearer {publisher}"})
            assert r.status_code == 200
            for line in sub.iter_lines():  # bounded: the update is the first data line
                if line.startswith("data:"):
                    break
        after = client.get("/metrics").text
    turns = ("rill_chat_turns_total", {"bot": "echo", "outcome": "complete"})
    assert metric(after, turns[0], **turns[1]) == metric(before, turns[0], **turns[1]) + 1
    assert metric(after, "rill_chat_tokens_streamed_total") >= 3
    assert metric(after, "rill_chat_time_to_first_token_seconds_count") >= 1
    assert metric(after, "rill_store_seconds_count", operation="start_turn") >= 1
    assert metric(during, "rill_sse_connections", kind="hub") == 1
    assert metric(after, "rill_sse_connections", kind="chat") == 0
    assert metric(after, "rill_hub_publishes_total") >= 1
    assert metric(after, "rill_hub_deliveries_total") >= 1


def test_a_provider_error_is_counted_by_kind(server_factory) -> None:
    config = """
[[bots]]
id = "down"
name = "Down"
provider = "openai"
model = "m"
base_url = "http://127.0.0.1:9/v1"
max_retries = 0
"""
    server = server_factory(config=config, env={"OPENAI_API_KEY": "k"})
    with server.client() as client:
        token = client.post("/api/session").json()["token"]
        assert "event: error" in _chat(client, token, "down", "hi")
        text = client.get("/metrics").text
    assert sum(metric(text, "rill_provider_errors_total", kind=k)
               for k in ("api_error", "overloaded_error", "timeout_error")) == 1
    assert metric(text, "rill_chat_turns_total", bot="down", outcome="error") == 1


def test_token_guards_metrics_when_set(server_factory) -> None:
    server = server_factory(env={"RILL_METRICS_TOKEN": "s3cret-scrape"})
    with server.client() as client:
        missing = client.get("/metrics")
        wrong = client.get("/metrics", headers={"authorization": "Bearer nope"})
        right = client.get("/metrics", headers={"authorization": "Bearer s3cret-scrape"})
    for refused in (missing, wrong):
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["www-authenticate"].startswith("Bearer")
    assert right.status_code == 200 and "rill_hub_publishes_total" in right.text


def _scope(host: str, authorization: bytes | None = None) -> dict[str, object]:
    headers = [(b"authorization", authorization)] if authorization else []
    return {"type": "http", "method": "GET", "path": "/metrics", "client": (host, 40000),
            "headers": headers}


def test_without_a_token_only_loopback_clients_are_answered() -> None:
    # In-process: this machine has only loopback, so a remote peer is a scope value.
    settings = Settings()
    for host in ("127.0.0.1", "::1"):
        check_access(_scope(host), settings)
    for host in ("10.1.2.3", "2001:db8::1", ""):
        with pytest.raises(Forbidden):
            check_access(_scope(host), settings)
    # With a token, where the request comes from no longer matters; the token does.
    guarded = Settings(metrics_token=SecretStr("t"))
    check_access(_scope("10.1.2.3", b"Bearer t"), guarded)
    check_access(_scope("10.1.2.3", b"bearer t"), guarded)
