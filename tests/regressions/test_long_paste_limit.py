"""Issue 17 bug 7: a 70 KB paste was refused with 413 and lost. The web app now reads
the limit from ``GET /api/limits`` and says it before sending; this pins that the
limit it is told is the one the server enforces."""

from __future__ import annotations

import json


def test_limits_say_the_body_limit_the_server_enforces(rill_server):
    with rill_server.client() as client:
        client.post("/api/session")
        r = client.get("/api/limits")
        assert r.status_code == 200
        limit, chars = r.json()["maxBodyBytes"], r.json()["maxMessageChars"]
        assert (limit, chars) == (64 * 1024, 32_000)

        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        # Korean is 3 UTF-8 bytes a character: the body limit binds before the character one.
        korean = json.dumps({"chatbotId": "echo", "message": "가" * 22_000}).encode()
        assert len(korean) > limit
        assert client.post("/api/chat", content=korean, headers=headers).status_code == 413
        over_chars = client.post("/api/chat", json={"chatbotId": "echo", "message": "x" * (chars + 1)})
        assert over_chars.status_code == 413
        with client.stream(
            "POST", "/api/chat", json={"chatbotId": "echo", "message": "x" * chars}, headers=headers
        ) as at:
            assert at.status_code == 200
