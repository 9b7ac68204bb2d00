"""Issue 13: text that cannot be stored is refused at the edge, on both stores.

A lone surrogate (``"a\\ud800b"``: a valid JSON escape, invalid Unicode) in a chat
message was a 500 on SQLite that also left the keep-alive connection unusable; on
PostgreSQL a NUL or a lone surrogate in a message, a title, a path id or a cursor
was a 503 ``storage_error`` carrying the driver's message. Now text is checked by one
rule (``rill/fields.py``): 422 for text, 404 for an id that cannot exist, and the
connection stays usable. Each example of the issue, against a real ``rill serve`` on
SQLite (memory broker) and on PostgreSQL (Redis broker).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import POSTGRES_URL, REDIS_URL, RunningServer, start_server

ECHO = '[[bots]]\nid = "echo"\nname = "Echo"\nprovider = "echo"\npace = 0\n'
BACKENDS = [
    pytest.param({}, id="sqlite"),
    pytest.param({"RILL_DATABASE_URL": POSTGRES_URL, "RILL_BROKER_URL": REDIS_URL},
                 id="postgres", marks=[pytest.mark.postgres, pytest.mark.redis]),
]
DRIVER_TEXT = re.compile(r"postgres|sqlite|asyncpg|redis|127\.0\.0\.1", re.I)


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("unstorable"), config=ECHO, env={
        "RILL_CHAT_TURNS_PER_MINUTE": "0", **request.param})
    yield running
    running.stop()


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    token = server.session_token()
    with server.client(headers={"Authorization": f"Bearer {token}"}) as c:
        yield c


def refused(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert not DRIVER_TEXT.search(response.text), response.text


JSON = {"Content-Type": "application/json"}
# Raw bodies: the escapes must reach the server as written (a JSON encoder would
# refuse or rewrite a lone surrogate).
UNSTORABLE = [r"a\ud800b", r"a\udfffb", r"a\u0000b", r"a\u001bb", r"\u0008", r"x\u000bx"]
STORABLE = [r"tab\there", r"two\nlines\r\n", "zero\u200bwidth", "\ufeffbom", "del\x7f",
            r"pair \ud83d\ude00"]


@pytest.mark.parametrize("text", UNSTORABLE)
def test_a_chat_message_that_cannot_be_stored_is_422(client: httpx.Client, text: str) -> None:
    body = f'{{"chatbotId": "echo", "message": "{text}"}}'.encode()
    refused(client.post("/api/chat", content=body, headers=JSON), 422)
    # The same client (and its keep-alive connection) carries on.
    assert client.get("/api/me").status_code == 200


@pytest.mark.parametrize("text", STORABLE)
def test_storable_text_is_a_turn(client: httpx.Client, text: str) -> None:
    body = f'{{"chatbotId": "echo", "message": "{text}"}}'.encode()
    with client.stream("POST", "/api/chat", content=body, headers=JSON) as response:
        assert response.status_code == 200
        assert b"event: message_stop" in response.read()


@pytest.mark.parametrize("field", ["chatbotId", "conversationId", "userId"])
def test_every_text_field_of_a_turn_is_checked(client: httpx.Client, field: str) -> None:
    fields = {"chatbotId": '"echo"', "message": '"hi"', field: r'"a\u0000b"'}
    body = ("{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}").encode()
    refused(client.post("/api/chat", content=body, headers=JSON), 422)


@pytest.mark.parametrize("title", [r"a\u0000b", r"a\ud800b"])
def test_a_title_that_cannot_be_stored_is_422(client: httpx.Client, title: str) -> None:
    body = f'{{"chatbotId": "echo", "title": "{title}"}}'.encode()
    refused(client.post("/api/conversations", content=body, headers=JSON), 422)
    assert client.post("/api/conversations", json={"chatbotId": "echo", "title": "ok"}
                       ).status_code == 201


@pytest.mark.parametrize("bad", ["a%00b", "msg_%ED%A0%80", "conv_nope", "x" * 300])
def test_a_path_id_that_cannot_exist_is_404(client: httpx.Client, bad: str) -> None:
    refused(client.get(f"/api/chat/{bad}/stream"), 404)
    refused(client.post(f"/api/chat/{bad}/cancel"), 404)
    refused(client.delete(f"/api/conversations/{bad}"), 404)


@pytest.mark.parametrize("query", [
    "/api/history?chatbotId=echo&before=a%00b",
    "/api/history?chatbotId=echo&before=msg_nope",
    "/api/history?chatbotId=echo&conversationId=a%00b",
    "/api/history?chatbotId=a%00b",
    "/api/conversations?chatbotId=a%00b",
    "/api/conversations/search?q=a%00b",
    "/api/conversations/search?q=ok&chatbotId=a%00b",
])
def test_a_query_that_cannot_be_stored_is_422(client: httpx.Client, query: str) -> None:
    refused(client.get(query), 422)


def test_the_seed_history_body_is_checked(client: httpx.Client) -> None:
    body = rb'{"chatbotId": "echo", "userId": "a\u0000b"}'
    refused(client.post("/api/history", content=body, headers=JSON), 422)


def test_a_resume_from_an_id_never_sent_is_422(client: httpx.Client) -> None:
    with client.stream("POST", "/api/chat", json={"chatbotId": "echo", "message": "a b c d"}
                       ) as response:
        message_id = response.headers["X-Rill-Message-Id"]
        ids = re.findall(r"^id: (\S+)$", response.read().decode(), re.M)
    seq, offset = (int(p) for p in ids[3].split("-"))
    for unsent in [f"{seq}-{offset - 1}", f"{seq + 1}-999", "0-99999999999999999999"]:
        refused(client.get(f"/api/chat/{message_id}/stream",
                           headers={"Last-Event-ID": unsent}), 422)
    resumed = client.get(f"/api/chat/{message_id}/stream", headers={"Last-Event-ID": ids[3]})
    assert resumed.status_code == 200 and "event: message_stop" in resumed.text


def test_nothing_reached_the_store_as_an_error(server: RunningServer, client: httpx.Client
                                               ) -> None:
    assert client.get("/readyz").status_code == 200
    logs = server.logs()
    assert "storage_error" not in logs and "store_failed" not in logs
    assert "Traceback" not in logs
