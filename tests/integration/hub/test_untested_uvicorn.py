"""With a uvicorn release hub/direct.py is not tested with, ``rill serve`` serves
subscriptions through the portable ASGI path, and still delivers (issue 15)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rill.sse.decoder import SSEDecoder

#: Loaded by every Python process of the server (``site`` imports it from PYTHONPATH):
#: the detected uvicorn version becomes one outside the tested range.
SHIM = """
import uvicorn
uvicorn.__version__ = "0.99.0"
"""


def test_an_untested_uvicorn_falls_back_to_asgi_and_delivers(
    server_factory, tmp_path: Path
) -> None:
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(SHIM)
    server = server_factory(env={"PYTHONPATH": str(shim)})
    assert "uvicorn 0.99.0 is not a release hub/direct.py is tested with" in server.logs()
    with server.client() as alice:
        alice_id = alice.post("/api/session").json()["userId"]
        topic = f"users/{alice_id}/notifications"
        with alice.stream("GET", "/.well-known/mercure", params={"match": topic}) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"] == "text/event-stream; charset=utf-8"
            published = subprocess.run(
                [sys.executable, "-m", "rill.cli", "publish", topic, "hello", "--private",
                 "--url", server.url, "--data-dir", str(server.data_dir)],
                capture_output=True, text=True, timeout=30, check=False,
            )
            assert published.returncode == 0, published.stderr
            decoder = SSEDecoder()
            for chunk in stream.iter_bytes():
                events = [e for e in decoder.feed(chunk) if e.data]
                if events:
                    break
            else:
                raise AssertionError("the stream ended")
    assert (events[0].id, events[0].data) == (published.stdout.strip(), "hello")
