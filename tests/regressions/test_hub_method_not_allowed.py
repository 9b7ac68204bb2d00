"""Issue 13: the hub answered 405 as ``text/plain`` with an empty body; it is a problem
document with ``Allow``, like every other error."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_the_hub_answers_405_as_a_problem(rill_server, method: str) -> None:
    response = httpx.request(method, f"{rill_server.url}/.well-known/mercure", timeout=5)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 405 and problem["type"].endswith("/method_not_allowed")
    assert method in problem["detail"]
