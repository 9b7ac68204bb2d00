"""A start that cannot succeed ends the process, non-zero, with one line saying why.

Issue 12: with an unreachable broker the log said "Application startup failed" and
the process stayed up (aiosqlite's thread was never closed), so a supervisor's
``Restart=on-failure`` never fired.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REDIS_URL, free_port

#: Generous for a loaded CI machine (imports alone take seconds there); on the bug
#: the process never exits at all.
EXIT_WITHIN = 45


def serve(tmp_path: Path, *args: str, port: int | None = None) -> tuple[int, str]:
    """Run ``rill serve`` until it exits: its status and its log."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RILL_")}
    cmd = [sys.executable, "-m", "rill.cli", "serve", "--host", "127.0.0.1",
           "--port", str(port or free_port()), "--data-dir", str(tmp_path / "data"), *args]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env) as proc:
        try:
            out, _ = proc.communicate(timeout=EXIT_WITHIN)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            pytest.fail(f"rill serve still running after {EXIT_WITHIN} s:\n{out.decode()}")
    return proc.returncode, out.decode(errors="replace")


def assert_one_clear_line(log: str, *expected: str) -> None:
    failures = [line for line in log.splitlines() if "start-up failed" in line]
    assert len(failures) == 1, log
    for text in expected:
        assert text in failures[0], log
    assert "Traceback" not in log, log


def test_unreachable_redis_ends_the_process(tmp_path):
    port = free_port()
    status, log = serve(tmp_path, "--broker-url", f"redis://rill:s3cret-pw@127.0.0.1:{port}/0")
    assert status == 3, log
    assert_one_clear_line(log, "broker", f"redis://rill@127.0.0.1:{port}/0", "refused")
    assert "s3cret-pw" not in log


def test_unreachable_redis_with_workers_ends_the_process(tmp_path):
    # Without the parent's check, uvicorn restarted the failing workers (or exited 0).
    port = free_port()
    status, log = serve(tmp_path, "--workers", "2", "--broker-url", f"redis://127.0.0.1:{port}/0")
    assert status == 3, log
    assert_one_clear_line(log, "broker", f"redis://127.0.0.1:{port}/0")
    assert "Rill listening" not in log


@pytest.mark.postgres
def test_unreachable_postgres_ends_the_process(tmp_path):
    port = free_port()
    url = f"postgresql://postgres:s3cret-pw@127.0.0.1:{port}/rill"
    status, log = serve(tmp_path, "--database-url", url)
    assert status == 3, log
    assert_one_clear_line(log, "database", f"postgresql://postgres@127.0.0.1:{port}/rill")
    assert "s3cret-pw" not in log


def test_port_in_use_ends_the_process_before_anything_starts(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        status, log = serve(tmp_path, port=port)
    assert status == 3, log
    assert_one_clear_line(log, f"cannot listen on 127.0.0.1:{port}", "in use")
    # Nothing was initialised: no database was created, no lifespan ran.
    assert not (tmp_path / "data" / "rill.db").exists()
    assert "Application startup" not in log


@pytest.mark.redis
@pytest.mark.parametrize("server", ["https", "workers"])
def test_port_in_use_ends_an_https_or_multi_worker_server_too(tmp_path, tls_files, server):
    cert, key = tls_files
    args = (["--tls-cert", str(cert), "--tls-key", str(key)] if server == "https"
            else ["--workers", "2", "--broker-url", REDIS_URL])
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        status, log = serve(tmp_path, *args, port=port)
    assert status == 3, log
    assert_one_clear_line(log, f"cannot listen on 127.0.0.1:{port}", "in use")
    assert "panicked" not in log
    assert "Rill listening" not in log


@pytest.fixture
def redis_cluster_node(tmp_path: Path) -> Iterator[str]:
    """A redis-server in cluster mode on a free port (skipped without redis-server)."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("needs redis-server")
    port = free_port()
    proc = subprocess.Popen(
        # An explicit bus port: the default (port + 10000) may be past 65535.
        [server, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
         "--cluster-port", str(free_port()),
         "--cluster-config-file", str(tmp_path / "nodes.conf"), "--dir", str(tmp_path),
         "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.redis
def test_a_cluster_node_behind_a_plain_redis_url_is_refused_at_start(tmp_path, redis_cluster_node):
    status, log = serve(tmp_path, "--broker-url", redis_cluster_node)
    assert status == 3, log
    assert_one_clear_line(log, "broker", redis_cluster_node, "use a redis+cluster:// URL")
