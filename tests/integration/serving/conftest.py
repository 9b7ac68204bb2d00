"""Fixtures for serving tests: a self-signed certificate and ``rill serve`` over TLS."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningServer, free_port
from tests.integration.serving.tls import write_self_signed

BOTS = """
[[bots]]
id = "echo"
name = "Echo"
provider = "echo"
model = "echo"
pace = 0

[[bots]]
id = "slow"
name = "Slow echo"
provider = "echo"
model = "echo"
pace = 0.05
"""


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    return write_self_signed(tmp_path)


def start_tls_server(
    data_dir: Path, cert: Path, key: Path, *, env: dict[str, str] | None = None,
    args: list[str] | None = None,
) -> RunningServer:
    """``rill serve --tls-cert --tls-key`` on a free port, up and answering over HTTPS."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "rill.toml"
    config.write_text(BOTS)
    cmd = [sys.executable, "-m", "rill.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--data-dir", str(data_dir), "--config", str(config),
           "--tls-cert", str(cert), "--tls-key", str(key), *(args or [])]
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith("RILL_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    full_env.update(env or {})
    log_path = data_dir / f"server-{port}.log"
    with log_path.open("wb") as log:
        # A session of its own, so that stopping it reaches granian's workers too.
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=full_env,
                                start_new_session=True)
    server = RunningServer(f"https://127.0.0.1:{port}", port, data_dir, proc, log_path, env or {})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"rill serve exited with {proc.returncode}:\n{server.logs()}")
        try:
            if httpx.get(f"{server.url}/healthz", verify=False, timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_group(server)
    raise RuntimeError(f"rill serve did not come up:\n{server.logs()}")


def stop_group(server: RunningServer, timeout: float = 20) -> int:
    """SIGTERM the server; SIGKILL its whole process group if it overstays."""
    proc = server.process
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    # Workers orphaned by a crash of the main process would keep the port.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode


@pytest.fixture
def tls_server_factory(
    tmp_path: Path, tls_files: tuple[Path, Path]
) -> Iterator[Callable[..., RunningServer]]:
    started: list[RunningServer] = []

    def factory(**kwargs: object) -> RunningServer:
        server = start_tls_server(tmp_path / f"node{len(started)}", *tls_files, **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield factory
    for server in started:
        stop_group(server)


@pytest.fixture
def tls_server(tls_server_factory: Callable[..., RunningServer]) -> RunningServer:
    return tls_server_factory()


def needs(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")


def curl_has_http2() -> bool:
    needs("curl")
    features = subprocess.run(["curl", "-V"], capture_output=True, text=True).stdout
    return bool(re.search(r"^Features:.*\bHTTP2\b", features, re.M))


def rill_token(server: RunningServer, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "rill.cli", "token", "--data-dir", str(server.data_dir), *args],
        capture_output=True, text=True, check=True, timeout=30,
    )
    return out.stdout.strip()


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name + (f"{{{selector}}}" if labels else "")) + r" ([0-9.e+-]+)$"
    found = re.search(pattern, text, re.M)
    return float(found[1]) if found else 0.0
