"""Under ``--tls-cert`` (granian) request heads are bounded too: by granian's own HTTP/1
and HTTP/2 settings, fed from ``max_header_bytes`` and ``header_timeout_seconds``."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.serving.conftest import start_tls_server, stop_group


def test_a_huge_header_is_refused_over_tls_and_a_normal_request_served(tmp_path, tls_files) -> None:
    cert, key = tls_files
    server = start_tls_server(tmp_path / "tls", cert, key,
                              env={"RILL_MAX_HEADER_BYTES": "16384"})
    try:
        for http2 in (False, True):
            with httpx.Client(base_url=server.url, verify=False, http2=http2, timeout=10) as c:
                assert c.get("/api/bots").status_code == 200
                token = c.post("/api/session").json()["token"]
                # A 60 KiB body is not a head: still served.
                big = c.post("/api/chat", json={"chatbotId": "echo", "message": "x" * 30_000},
                             headers={"Authorization": f"Bearer {token}"})
                assert big.status_code == 200, big.text
                if http2:
                    # HTTP/2 refuses an oversized header block by ending the connection.
                    with pytest.raises(httpx.RemoteProtocolError):
                        c.get("/api/bots", headers={"X-Big": "a" * 100_000})
                else:
                    refused = c.get("/api/bots", headers={"X-Big": "a" * 100_000})
                    assert refused.status_code == 431
    finally:
        stop_group(server)
