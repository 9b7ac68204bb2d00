"""deploy/nginx-rill.conf, loaded as shipped, in front of a real ``rill serve``.

nginx runs in the foreground from a generated main config that includes the
shipped site file, with only its ports, paths and upstream rewritten.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rill.sse.decoder import SSEDecoder
from tests.conftest import RunningServer, free_port
from tests.integration.serving.conftest import rill_token
from tests.integration.serving.tls import write_self_signed

SITE = Path(__file__).parents[3] / "deploy" / "nginx-rill.conf"


def _nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None and shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "nginx-light"], capture_output=True,
                       timeout=300, check=False)
        found = shutil.which("nginx") or "/usr/sbin/nginx"
    if found is None or not Path(found).exists():
        pytest.skip("nginx is not installed and could not be installed (apt-get install nginx-light)")
    return found


def _site(upstream_port: int, port: int, cert: Path, key: Path, version: tuple[int, ...]) -> str:
    text = SITE.read_text()
    for shipped, ours in (
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{port} ssl http2;"),
        ("/etc/ssl/rill/fullchain.pem", str(cert)),
        ("/etc/ssl/rill/privkey.pem", str(key)),
    ):
        assert shipped in text, f"the shipped config no longer has {shipped!r}"
        text = text.replace(shipped, ours)
    if version >= (1, 25, 1):  # the newer spelling, as the shipped file's comment says
        text = text.replace(" ssl http2;", " ssl;\n    http2 on;")
    return text


@pytest.fixture
def nginx(tmp_path: Path, rill_server: RunningServer) -> Iterator[str]:
    binary = _nginx_binary()
    version_text = subprocess.run([binary, "-v"], capture_output=True, text=True).stderr
    version = tuple(int(x) for x in version_text.split("/")[1].split()[0].split("."))
    cert, key = write_self_signed(tmp_path)
    port = free_port()
    (tmp_path / "site.conf").write_text(_site(rill_server.port, port, cert, key, version))
    temp = tmp_path / "temp"
    temp.mkdir()
    main = f"""
daemon off;
master_process off;
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {tmp_path}/site.conf;
}}
"""
    (tmp_path / "nginx.conf").write_text(main)
    proc = subprocess.Popen([binary, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                pytest.fail(f"nginx exited: {(tmp_path / 'error.log').read_text()}")
            try:
                httpx.get(url + "/healthz", verify=False, timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    pytest.fail("nginx did not come up")
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_browsers_get_http2_and_metrics_stay_private(nginx: str) -> None:
    with httpx.Client(base_url=nginx, http2=True, verify=False, timeout=10) as client:
        health = client.get("/healthz")
        assert health.http_version == "HTTP/2" and health.status_code == 200
        assert client.get("/metrics").status_code == 404


def test_chat_events_arrive_one_by_one_through_nginx(nginx: str) -> None:
    with httpx.Client(base_url=nginx, http2=True, verify=False, timeout=30) as client:
        token = client.post("/api/session").json()["token"]
        body = {"chatbotId": "slow", "message": " ".join(f"w{i}" for i in range(30))}
        decoder = SSEDecoder()
        arrivals: list[tuple[float, str]] = []
        with client.stream("POST", "/api/chat", json=body,
                           headers={"authorization": f"Bearer {token}"}) as response:
            assert response.http_version == "HTTP/2"
            for chunk in response.iter_bytes():
                now = time.monotonic()
                arrivals += [(now, e.event) for e in decoder.feed(chunk)]
    names = [name for _, name in arrivals]
    assert names.count("content_block_delta") == 30 and names[-1] == "message_stop"
    first_delta = next(t for t, name in arrivals if name == "content_block_delta")
    # 30 words 0.05 s apart: a buffering proxy would hand them over all at the end.
    assert arrivals[-1][0] - first_delta > 0.8
    assert len({t for t, name in arrivals if name == "content_block_delta"}) > 10


def test_hub_update_passes_nginx_at_once(nginx: str, rill_server: RunningServer) -> None:
    publisher = rill_token(rill_server, "--publish", "*")
    with httpx.Client(base_url=nginx, http2=True, verify=False, timeout=10) as client, \
            client.stream("GET", "/.well-known/mercure", params={"topic": "via-nginx"}) as sub:
        assert sub.status_code == 200 and sub.http_version == "HTTP/2"
        chunks = sub.iter_bytes()
        next(chunks)  # the retry: field, sent as the stream opens
        sent = time.monotonic()
        r = client.post("/.well-known/mercure", data={"topic": "via-nginx", "data": "fresh"},
                        headers={"authorization": f"Bearer {publisher}"})
        assert r.status_code == 200
        decoder = SSEDecoder()
        for chunk in chunks:  # bounded: the update is the next event
            events = decoder.feed(chunk)
            if events:
                break
        assert events[0].data == "fresh"
        # Buffered by nginx, the update would wait for a full buffer (never, here); 3 s
        # leaves room for a loaded CI machine.
        assert time.monotonic() - sent < 3.0
