"""History pagination (cursor and the seed's pages) and identity."""

from __future__ import annotations

import jwt

from .helpers import authed, chat, problem


def test_cursor_pagination_walks_everything_once(rill_server):
    with authed(rill_server.url) as client:
        conv = client.post("/api/conversations", json={"chatbotId": "echo"}).json()["id"]
        for i in range(23):
            assert chat(client, "echo", f"m{i}", conversationId=conv).status == 200
        seen: list[str] = []
        before = None
        pages = 0
        while True:
            params = {"chatbotId": "echo", "conversationId": conv, "limit": 10}
            if before:
                params["before"] = before
            page = client.get("/api/history", params=params).json()
            ids = [m["id"] for m in page["messages"]]
            assert ids == sorted(ids), "a page is in time order"
            seen = ids + seen
            pages += 1
            if not page["hasMore"]:
                assert page["nextCursor"] is None
                break
            before = page["nextCursor"]
            assert before == ids[0]
        assert pages == 5 and len(seen) == 46 and len(set(seen)) == 46
        assert seen == sorted(seen)
        bad = client.get("/api/history", params={"chatbotId": "echo", "limit": 0})
        assert bad.status_code == 422 and problem(bad)["status"] == 422


def test_seed_history_request_unchanged(rill_server):
    with authed(rill_server.url) as client:
        user = client.get("/api/me").json()["userId"]
        for i in range(3):
            chat(client, "echo", f"seed {i}")
        r = client.post("/api/history",
                        json={"userId": user, "chatbotId": "echo", "page": 0, "pageSize": 4})
        body = r.json()
        assert r.status_code == 200 and body["hasMore"] is True
        assert [m["sender"] for m in body["messages"]] == ["user", "bot", "user", "bot"]
        assert all(m["type"] == "echo" and m["timestamp"] for m in body["messages"])
        r = client.post("/api/history", json={"userId": "mallory", "chatbotId": "echo",
                                              "page": 0, "pageSize": 20})
        assert r.status_code == 403


def test_session_cookie_identifies_a_browser(rill_server):
    with rill_server.client() as browser:
        r = browser.post("/api/session")
        assert r.status_code == 200
        user = r.json()["userId"]
        assert "httponly" in r.headers["set-cookie"].lower()
        assert browser.get("/api/me").json()["userId"] == user
        # Renewing keeps the same user.
        assert browser.post("/api/session").json()["userId"] == user


def test_tokens_signed_elsewhere_or_expired_are_refused(rill_server):
    with rill_server.client() as client:
        forged = jwt.encode({"sub": "alice"}, "not-the-secret-but-long-enough-for-hs256", algorithm="HS256")
        none_alg = jwt.encode({"sub": "alice"}, None, algorithm="none")
        real = client.post("/api/session").json()["token"]
        client.cookies.clear()
        claims = jwt.decode(real, options={"verify_signature": False})
        secret = (rill_server.data_dir / "secret.key").read_text()
        expired = jwt.encode({"sub": "alice", "exp": 1}, secret, algorithm="HS256")
        for token in (forged, none_alg, real[:-4] + "AAAA", expired):
            r = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 401, token
        assert client.get("/api/me", headers={"Authorization": f"Bearer {real}"}).status_code == 200
        assert claims["sub"].startswith("usr_")


def test_bots_and_health(rill_server):
    with rill_server.client() as client:
        bots = client.get("/api/bots").json()
        assert {b["id"] for b in bots} == {"echo", "slow", "guide"}
        assert set(bots[0]) == {"id", "name", "description", "provider", "model"}
        assert client.get("/healthz").json()["status"] == "ok"
        ready = client.get("/readyz").json()
        assert ready["checks"] == {"store": "ok", "broker": "ok"}
        spec = client.get("/openapi.json").json()
        assert "/api/chat" in spec["paths"] and "/api/history" in spec["paths"]
