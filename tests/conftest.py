"""Shared fixtures. ``rill_server`` starts a real ``rill serve`` process on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

REDIS_URL = os.environ.get("RILL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_URL = os.environ.get(
    "RILL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/rill_test"
)


#: Debian's Chromium and the flags it needs here (no sandbox as root; no background
#: requests, which this machine's closed network refuses), for the browser tests.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningServer:
    url: str
    port: int
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, **kwargs)  # type: ignore[arg-type]

    def session_token(self) -> str:
        with self.client() as c:
            r = c.post("/api/session")
            r.raise_for_status()
            return str(r.json()["token"])

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_server(
    data_dir: Path,
    *,
    env: dict[str, str] | None = None,
    config: str | None = None,
    port: int | None = None,
    args: list[str] | None = None,
    python: str = sys.executable,
    ready_within: float = 30,
) -> RunningServer:
    """Start ``rill serve`` and wait until it answers; ``python`` picks the venv it runs in."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    cmd = [python, "-m", "rill.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--data-dir", str(data_dir)]
    if config is not None:
        cfg = data_dir / "rill.toml"
        cfg.write_text(config)
        cmd += ["--config", str(cfg)]
    cmd += args or []
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RILL_")}
    # Why: the suite mints hundreds of anonymous sessions from one address; the
    # per-address limit has tests of its own (tests/security/test_session_limits.py).
    full_env["RILL_SESSIONS_PER_MINUTE"] = "60000"
    full_env.update(env or {})
    log_path = data_dir / f"server-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=full_env)
    server = RunningServer(f"http://127.0.0.1:{port}", port, data_dir, proc, log_path, env or {})
    deadline = time.monotonic() + ready_within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"rill serve exited with {proc.returncode}:\n{server.logs()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"rill serve did not come up:\n{server.logs()}")


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    """Start any number of servers; all are stopped at the end of the test."""
    started: list[RunningServer] = []

    def factory(**kwargs: object) -> RunningServer:
        sub = tmp_path / f"node{len(started)}"
        server = start_server(kwargs.pop("data_dir", sub), **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield factory
    for s in started:
        s.stop()


@pytest.fixture(scope="session")
def rill_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One shared server with the default bots (echo at a fast pace) for read-mostly tests."""
    data_dir = tmp_path_factory.mktemp("rill")
    config = """
[[bots]]
id = "echo"
name = "Echo"
provider = "echo"
model = "echo"
pace = 0.005

[[bots]]
id = "slow"
name = "Slow echo"
provider = "echo"
model = "echo"
pace = 0.05

[[bots]]
id = "guide"
name = "Rill Guide"
provider = "guide"
model = "guide-bm25"
pace = 0
"""
    server = start_server(data_dir, config=config)
    yield server
    server.stop()
