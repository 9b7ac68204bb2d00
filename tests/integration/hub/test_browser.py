"""A plain ``EventSource`` in headless Chromium receives a published update."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.integration.hub.conftest import HubServer, wait_until

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")


async def test_event_source_receives_update(hub_server: HubServer) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await browser.new_page()
            # Any page of the hub's origin: the EventSource URL is then same-origin.
            await page.goto(f"{hub_server.url}/.well-known/oauth-protected-resource")
            await page.evaluate(
                """() => {
                    window.received = [];
                    const url = new URL('/.well-known/mercure', location.origin);
                    url.searchParams.append('match', 'prices/BTC');
                    const source = new EventSource(url);
                    source.addEventListener('price', (e) =>
                        window.received.push({data: e.data, id: e.lastEventId}));
                    window.source = source;
                }"""
            )
            await wait_until(lambda: len(hub_server.hub.registry) == 1)
            update_id = (
                await hub_server.publish("prices/BTC", '{"price": 64000}', type="price")
            ).text
            got = await page.wait_for_function(
                "() => window.received.length > 0 && window.received[0]"
            )
            assert await got.json_value() == {"data": '{"price": 64000}', "id": update_id}
            await page.evaluate("() => window.source.close()")
        finally:
            await browser.close()
    await asyncio.sleep(0)
