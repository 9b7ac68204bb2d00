"""Issue 16: the OpenAPI document is a complete contract, and unknown API routes are
404 problem+json whatever the method, never the web app's ``index.html`` or 405."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import RunningServer, start_server

ECHO = '[[bots]]\nid = "echo"\nname = "Echo"\nprovider = "echo"\npace = 0\n'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    web = tmp_path_factory.mktemp("web")
    (web / "index.html").write_text("<!doctype html><title>Rill</title>")
    server = start_server(tmp_path_factory.mktemp("contract"), config=ECHO,
                          env={"RILL_WEB_DIR": str(web), "RILL_CHAT_TURNS_PER_MINUTE": "0"})
    yield server
    server.stop()


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/api/nope", "/api/chat/x/y/z", "/v1", "/v1/completions",
                                  "/v1/models/echo/more", "/api"])
def test_unknown_api_routes_are_404_problems(server, method, path) -> None:
    response = httpx.request(method, server.url + path, timeout=10)
    assert response.status_code == 404, (method, path, response.status_code)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404


def test_page_routes_still_get_the_web_app(server) -> None:
    response = httpx.get(server.url + "/some/page", timeout=10)
    assert response.status_code == 200 and "<title>Rill</title>" in response.text


def test_the_document_declares_security_operation_ids_and_event_schemas(server) -> None:
    document = httpx.get(server.url + "/openapi.json", timeout=10).json()
    assert {"bearerAuth", "apiKey"} <= document["components"]["securitySchemes"].keys()
    operations = [op for ops in document["paths"].values() for op in ops.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids)) and all("_" not in i for i in ids), ids
    for op in operations:
        for response in op["responses"].values():
            stream = response.get("content", {}).get("text/event-stream")
            assert stream is None or "$ref" in stream["schema"], op["operationId"]
    assert document["paths"]["/api/chat"]["post"]["security"] == [{"bearerAuth": []}]


def test_conversations_page_with_a_cursor(server) -> None:
    token = server.session_token()
    with httpx.Client(base_url=server.url, timeout=10,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        made = [client.post("/api/conversations", json={"chatbotId": "echo"}).json()["id"]
                for _ in range(7)]
        seen, cursor = [], None
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = client.get("/api/conversations", params=params).json()
            assert "conversations" in page, page
            seen += [c["id"] for c in page["conversations"]]
            cursor = page["nextCursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(made) and len(seen) == len(set(seen)) == 7
        bad = client.get("/api/conversations", params={"cursor": "not a cursor"})
        assert bad.status_code == 422
