"""``rill serve --tls-cert/--tls-key``: HTTP/2 over TLS (granian), HTTP/1.1 fallback."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from rill.sse.decoder import SSEDecoder
from tests.integration.serving.conftest import (
    curl_has_http2,
    metric,
    needs,
    rill_token,
    stop_group,
)


def test_healthz_answers_over_http2_and_http1(tls_server) -> None:
    if not curl_has_http2():
        pytest.skip("this curl has no HTTP/2 support")
    url = tls_server.url + "/healthz"
    h2 = subprocess.run(["curl", "--http2", "-k", "-sI", url], capture_output=True, text=True,
                        timeout=10)
    assert h2.stdout.startswith("HTTP/2 200"), h2.stdout
    # ALPN falls back to http/1.1 for clients that do not offer h2.
    h1 = subprocess.run(["curl", "--http1.1", "-k", "-sI", url], capture_output=True, text=True,
                        timeout=10)
    assert h1.stdout.startswith("HTTP/1.1 200"), h1.stdout


def test_startup_line_says_where_and_how(tls_server) -> None:
    first = tls_server.logs().splitlines()[0]
    assert first.startswith(f"Rill listening on https://127.0.0.1:{tls_server.port} (HTTP/2")
    assert "store=sqlite broker=memory" in first


def _timed_events(response: httpx.Response) -> list[tuple[float, str]]:
    decoder = SSEDecoder()
    seen: list[tuple[float, str]] = []
    for chunk in response.iter_bytes():
        now = time.monotonic()
        seen += [(now, e.event) for e in decoder.feed(chunk)]
    return seen


def test_chat_reply_streams_event_by_event_over_http2(tls_server) -> None:
    with httpx.Client(base_url=tls_server.url, http2=True, verify=False, timeout=30) as client:
        token = client.post("/api/session").json()["token"]
        body = {"chatbotId": "slow", "message": " ".join(f"w{i}" for i in range(30))}
        with client.stream("POST", "/api/chat", json=body,
                           headers={"authorization": f"Bearer {token}",
                                    "accept": "text/event-stream"}) as response:
            assert response.http_version == "HTTP/2"
            assert response.status_code == 200
            seen = _timed_events(response)
    names = [name for _, name in seen]
    assert names.count("content_block_delta") == 30 and names[-1] == "message_stop"
    first_delta = next(t for t, name in seen if name == "content_block_delta")
    # 30 words at 0.05 s: unbuffered, the first word arrives ~1.4 s before the last event.
    assert seen[-1][0] - first_delta > 0.8


def test_hundred_subscribers_on_one_connection_receive_an_update(tls_server) -> None:
    """h2load multiplexes 100 hub subscriptions on ONE connection; one publish reaches all.

    The subscribers' token expires after a few seconds, and the hub ends a
    stream at its token's expiry: that is how h2load's requests finish.
    """
    needs("h2load")
    publisher = rill_token(tls_server, "--publish", "*")
    subscriber = rill_token(tls_server, "--subscribe", "*", "--ttl", "10s")
    with subprocess.Popen(
        ["h2load", "-c", "1", "-m", "100", "-n", "100", "-H", f"authorization: Bearer {subscriber}",
         tls_server.url + "/.well-known/mercure?topic=fleet"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    ) as subs:
        try:
            with httpx.Client(base_url=tls_server.url, verify=False, timeout=10) as client:
                deadline = time.monotonic() + 8
                while metric(client.get("/metrics").text, "rill_sse_connections", kind="hub") < 100:
                    if time.monotonic() > deadline:
                        pytest.fail("the 100 subscriptions did not open")
                    time.sleep(0.1)
                payload = "p" * 500
                r = client.post("/.well-known/mercure", data={"topic": "fleet", "data": payload},
                                headers={"authorization": f"Bearer {publisher}"})
                assert r.status_code == 200
            out, _ = subs.communicate(timeout=30)
        finally:
            if subs.poll() is None:
                subs.kill()
    assert "Application protocol: h2" in out
    assert re.search(r"status codes: 100 2xx", out), out
    data = int(re.search(r"\((\d+)\) data", out)[1])  # type: ignore[index]
    assert data >= 100 * len(payload), out


def test_sigterm_lets_a_reply_finish_over_http2(tls_server) -> None:
    if not curl_has_http2():
        pytest.skip("this curl has no HTTP/2 support")
    token = tls_server_token(tls_server)
    body = json.dumps({"chatbotId": "slow", "message": " ".join(f"w{i}" for i in range(30))})
    with subprocess.Popen(
        ["curl", "--http2", "-k", "-sN", "-H", f"authorization: Bearer {token}",
         "-H", "content-type: application/json", "-d", body, tls_server.url + "/api/chat"],
        stdout=subprocess.PIPE, text=True,
    ) as curl:
        assert curl.stdout is not None
        for line in curl.stdout:  # bounded: the reply is 30 words
            if line.startswith("event: content_block_delta"):
                break
        # Draining starts now: the reply in flight gets shutdown_grace_seconds to finish.
        tls_server.process.send_signal(signal.SIGTERM)
        rest, _ = curl.communicate(timeout=30)
    assert rest.rstrip().endswith('data: {"type":"message_stop"}')
    assert '"stop_reason":"end_turn"' in rest
    assert tls_server.process.wait(20) == 0


def tls_server_token(server) -> str:
    with httpx.Client(base_url=server.url, verify=False, timeout=10) as client:
        return str(client.post("/api/session").json()["token"])


def test_memory_broker_refuses_several_workers(tmp_path, tls_files) -> None:
    cert, key = tls_files
    done = subprocess.run(
        [sys.executable, "-m", "rill.cli", "serve", "--workers", "2", "--data-dir", str(tmp_path),
         "--tls-cert", str(cert), "--tls-key", str(key)],
        capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "--workers > 1 needs a shared broker" in done.stderr


@pytest.mark.redis
def test_workers_serve_http2_and_share_metrics(tls_server_factory) -> None:
    from tests.conftest import REDIS_URL

    server = tls_server_factory(env={"RILL_BROKER_URL": REDIS_URL}, args=["--workers", "2"])
    publisher = rill_token(server, "--publish", "*")
    for _ in range(10):
        # A connection each, so that both workers take some.
        r = httpx.post(server.url + "/.well-known/mercure", verify=False, timeout=10,
                       data={"topic": "workers", "data": "x"},
                       headers={"authorization": f"Bearer {publisher}"})
        assert r.status_code == 200
    for _ in range(4):
        text = httpx.get(server.url + "/metrics", verify=False, timeout=10).text
        # Every worker's count, whichever worker answers.
        assert metric(text, "rill_hub_publishes_total") == 10
    assert stop_group(server) == 0
