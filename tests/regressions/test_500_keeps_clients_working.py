"""Issue 13: a 500 left the client's keep-alive connection unusable.

Starlette re-raises an unexpected error after its 500 response has been sent, and
the server then closes the connection without having said so: a client that sends
its next request on that connection at once sees it fail (httpx happens to notice
the close first; not every client does). The 500 now carries ``Connection: close``,
so every client knows to open a new connection. (Unstorable input, the
known way to cause a 500, is refused earlier now: ``test_unstorable_input.py``.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from rill.http import problems
from tests.conftest import free_port


def _app() -> FastAPI:
    app = FastAPI()
    problems.install(app)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    @app.get("/ok")
    async def ok() -> dict[str, str]:
        return {"ok": "yes"}

    return app


@pytest.fixture
def url() -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(_app(), host="127.0.0.1", port=port,
                                           log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_a_500_is_problem_json_and_the_client_carries_on(url: str) -> None:
    with httpx.Client(base_url=url, timeout=5) as client:
        for _ in range(3):
            failed = client.get("/boom")
            assert failed.status_code == 500
            assert failed.headers["content-type"] == "application/problem+json"
            assert failed.headers["connection"] == "close"
            assert "a bug" not in failed.text
            assert client.get("/ok").json() == {"ok": "yes"}
