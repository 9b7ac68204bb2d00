"""A real ``rill serve`` for the protocol adapters, and a Rill token for the SDKs."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import RunningServer, start_server

CONFIG = """
[[bots]]
id = "echo"
name = "Echo"
provider = "echo"
model = "echo"
pace = 0.002

[[bots]]
id = "slow"
name = "Slow echo"
provider = "echo"
model = "echo"
pace = 0.05
"""


@pytest.fixture(scope="package")
def interop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_server(tmp_path_factory.mktemp("interop"), config=CONFIG,
                          env={"RILL_CHAT_TURNS_PER_MINUTE": "0"})
    yield server
    server.stop()


@pytest.fixture
def token(interop_server: RunningServer) -> str:
    return interop_server.session_token()


@pytest.fixture
def rill(interop_server: RunningServer, token: str) -> Iterator[httpx.Client]:
    """Rill's own API as the same user (cancel, resume, history)."""
    with httpx.Client(base_url=interop_server.url, timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        yield client
