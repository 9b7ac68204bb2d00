"""Searching conversations (issue 17): ``GET /api/conversations/search`` on a real
``rill serve``, with the SQLite store and with PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import asyncpg  # type: ignore[import-untyped]  # ships no type information
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rill.fields import unstorable
from tests.conftest import POSTGRES_URL, RunningServer, start_server
from tests.integration.chat.helpers import authed, chat, problem

CONFIG = """
[[bots]]
id = "echo"
name = "Echo"
provider = "echo"
model = "echo"
pace = 0

[[bots]]
id = "guide"
name = "Rill Guide"
provider = "guide"
model = "guide-bm25"
pace = 0
"""


def _schema(statement: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    env: dict[str, str] = {}
    schema = f"search_{uuid.uuid4().hex[:12]}"
    if request.param == "postgres":
        _schema(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in POSTGRES_URL else "?"
        env["RILL_DATABASE_URL"] = f"{POSTGRES_URL}{sep}search_path={schema}"
    running = start_server(tmp_path_factory.mktemp("search"), config=CONFIG, env=env)
    yield running
    running.stop()
    if request.param == "postgres":
        _schema(f"DROP SCHEMA {schema} CASCADE")


def search(client: httpx.Client, q: str, **params: str | int) -> httpx.Response:
    return client.get("/api/conversations/search", params={"q": q, **params})


def test_search_finds_own_conversations_by_title_and_text(server: RunningServer) -> None:
    with authed(server.url) as alice, authed(server.url) as mallory:
        trip = chat(alice, "echo", "Planning a trip to Gyeongju, 경주 여행을 계획해요")
        assert trip.status == 200
        conversation_id = trip.data("message_start")["message"]["conversation_id"]
        other = alice.post("/api/conversations", json={"chatbotId": "echo"}).json()
        assert chat(alice, "echo", "Something else entirely", conversationId=other["id"]).status \
            == 200

        for q in ("gyeongju", "GYEONG", "경주", "여행 trip"):
            r = search(alice, q)
            assert r.status_code == 200, r.text
            hits = r.json()["conversations"]
            assert len(hits) == 1, (q, hits)
            assert {"id", "chatbotId", "title", "snippet", "updatedAt"} <= hits[0].keys()
            assert "Gyeongju" in hits[0]["snippet"]
            assert hits[0]["id"] == conversation_id
        assert search(mallory, "gyeongju").json() == {"conversations": []}
        assert search(alice, "gyeongju", chatbotId="guide").json() == {"conversations": []}
        assert len(search(alice, "gyeongju", chatbotId="echo").json()["conversations"]) == 1
        # Operators and quotes are not syntax: they are dropped, the words kept.
        for q in ('"gyeongju', "gyeongju*", "NEAR(gyeongju", "gyeongju & !x:*", "'--"):
            assert search(alice, q).status_code == 200, q


def test_search_refuses_bad_input_as_problems(server: RunningServer) -> None:
    with authed(server.url) as alice:
        for params in ({}, {"q": ""}, {"q": "a\x00b"}, {"q": "x" * 201},
                       {"q": "a", "limit": 0}, {"q": "a", "limit": 51},
                       {"q": "a", "chatbotId": "e\x01"}):
            r = alice.get("/api/conversations/search", params=params)
            assert r.status_code == 422, params
            problem(r)
    r = httpx.get(f"{server.url}/api/conversations/search", params={"q": "a"})
    assert r.status_code == 401
    problem(r)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=st.text(min_size=1, max_size=200))
def test_any_query_is_answered_never_a_server_error(server: RunningServer, q: str) -> None:
    with authed(server.url) as client:
        r = search(client, q)
    if unstorable(q) is None:
        assert r.status_code == 200, (q, r.text)
        assert isinstance(r.json()["conversations"], list)
    else:
        assert r.status_code == 422, (q, r.text)
        problem(r)

