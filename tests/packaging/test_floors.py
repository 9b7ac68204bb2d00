"""Rill works at the lowest version of every dependency it declares.

Issue 12: the declared floors did not import (``openai>=2.0`` and ``anthropic>=0.71``
predate the httpx2 the adapters use; httpx2 itself was not declared). Here a fresh
venv gets every direct dependency at its floor (uv's ``lowest-direct``), imports
every module, and serves a reply from each upstream SDK against a fake upstream.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from rill.sse import SSEDecoder
from tests.conftest import start_server
from tests.fakes import anthropic_stream, openai_stream
from tests.fakes.upstream import FakeUpstream, Reply, Request
from tests.packaging.conftest import ROOT, fresh_venv, run, uv

IMPORT_EVERY_MODULE = """
import importlib, pkgutil, rill
names = [m.name for m in pkgutil.walk_packages(rill.__path__, "rill.")
         if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


def bots(upstream: str) -> str:
    return f"""
[[bots]]
id = "gpt"
name = "GPT"
provider = "openai"
model = "fake"
base_url = "{upstream}/v1"
max_retries = 0

[[bots]]
id = "claude"
name = "Claude"
provider = "anthropic"
model = "fake"
base_url = "{upstream}"
max_retries = 0
"""


def reply(request: Request) -> Reply:
    if request.path.endswith("/chat/completions"):
        return openai_stream.completion(["floor ", "ok"])
    return anthropic_stream.message(["floor ", "ok"])


async def streamed_text(client: httpx.AsyncClient, bot: str) -> str:
    decoder = SSEDecoder()
    text = ""
    async with client.stream("POST", "/api/chat", json={"chatbotId": bot, "message": "hi"}) as r:
        assert r.status_code == 200, await r.aread()
        async for chunk in r.aiter_raw():
            for event in decoder.feed(chunk):
                if event.event == "content_block_delta":
                    text += event.json()["delta"]["text"]
    return text


@pytest.mark.slow
@pytest.mark.timeout(600)  # builds and installs in a fresh venv
async def test_lowest_declared_versions_import_and_serve(tmp_path):
    python = fresh_venv(tmp_path / "venv")
    await asyncio.to_thread(run, uv(), "pip", "install", "-q", "--python", python,
                            "--resolution", "lowest-direct", f"{ROOT}[all]")
    modules = await asyncio.to_thread(run, python, "-c", IMPORT_EVERY_MODULE)
    assert int(modules) > 50

    async with FakeUpstream(reply) as upstream:
        server = await asyncio.to_thread(start_server, tmp_path / "data",
                                         config=bots(upstream.url), python=str(python),
                                         ready_within=120)
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                ids = [bot["id"] for bot in (await client.get("/api/bots")).json()]
                assert ids == ["gpt", "claude"]
                token = (await client.post("/api/session")).json()["token"]
                client.headers["Authorization"] = f"Bearer {token}"
                assert await streamed_text(client, "gpt") == "floor ok"
                assert await streamed_text(client, "claude") == "floor ok"
        finally:
            await asyncio.to_thread(server.stop)
