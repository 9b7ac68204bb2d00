"""The hub as mounted by ``rill serve``, driven by the ``rill`` CLI."""

from __future__ import annotations

import subprocess
import sys

import httpx

from rill.sse.decoder import SSEDecoder


def _cli(server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "rill.cli",
            *args,
            "--url",
            server.url,
            "--data-dir",
            str(server.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _first_event(response: httpx.Response):
    decoder = SSEDecoder()
    for chunk in response.iter_bytes():
        events = decoder.feed(chunk)
        if events:
            return events[0]
    raise AssertionError("stream ended")


def test_chat_session_reads_its_own_private_topic(server_factory) -> None:
    server = server_factory()
    with server.client() as alice, server.client() as bob:
        alice_id = alice.post("/api/session").json()["userId"]
        bob.post("/api/session").raise_for_status()
        mine = f"users/{alice_id}/notifications"
        # Bob's session does not open Alice's tree: her private update never reaches him.
        with (
            bob.stream(
                "GET", "/.well-known/mercure", params=[("match", mine), ("match", "notifications")]
            ) as theirs,
            alice.stream("GET", "/.well-known/mercure", params={"match": mine}) as ours,
        ):
            assert ours.status_code == 200 and theirs.status_code == 200
            published = _cli(server, "publish", mine, '{"title": "hi"}', "--private")
            assert published.returncode == 0, published.stderr
            update_id = published.stdout.strip()
            event = _first_event(ours)
            assert (event.id, event.data) == (update_id, '{"title": "hi"}')
            public = _cli(server, "publish", "notifications", "for everyone")
            assert _first_event(theirs).data == "for everyone", public.stderr


def test_publish_needs_a_token_through_the_app(server_factory) -> None:
    server = server_factory()
    with server.client() as c:
        r = c.post(
            "/.well-known/mercure",
            content="topic=t&data=x",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"].startswith("Bearer ")
        meta = c.get("/.well-known/oauth-protected-resource")
        assert meta.status_code == 200 and meta.json()["bearer_methods_supported"] == ["header"]
