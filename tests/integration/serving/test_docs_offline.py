"""``/docs`` and ``/redoc`` work offline: every asset comes from Rill itself.

Issue 12: Swagger UI was loaded from a CDN, so ``/docs`` was blank without internet.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ASSET_URL = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_reference_only_assets_rill_serves(rill_server, page):
    with rill_server.client() as client:
        html = client.get(page)
        assert html.status_code == 200
        assert html.headers["content-type"].startswith("text/html")
        assert "http://" not in html.text and "https://" not in html.text
        assets = ASSET_URL.findall(html.text)
        assert any(url.endswith(".js") for url in assets), html.text
        for url in assets:
            assert url.startswith("/") and not url.startswith("//"), url
            asset = client.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 0


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
@pytest.mark.parametrize(("page", "rendered"), [
    ("/docs", ".swagger-ui .info .title"),
    ("/redoc", "h1"),
])
async def test_docs_render_in_a_browser_that_reaches_only_rill(rill_server, page, rendered):
    playwright_api = pytest.importorskip("playwright.async_api")
    origin = urlsplit(rill_server.url).netloc
    blocked: list[tuple[str, str]] = []

    async def only_rill(route):
        if urlsplit(route.request.url).netloc == origin:
            await route.continue_()
        else:
            blocked.append((route.request.resource_type, route.request.url))
            await route.abort()

    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            tab = await browser.new_page()
            await tab.route("**/*", only_rill)
            await tab.goto(f"{rill_server.url}{page}")
            title = await tab.wait_for_selector(rendered, timeout=30_000)
            assert title is not None
            assert "Rill" in await title.inner_text()
        finally:
            await browser.close()
    # ReDoc's bundle links its "API docs by Redocly" badge to their CDN: an image, and
    # the page works without it. Nothing it needs (script, style, font, data) is remote.
    assert [url for kind, url in blocked if kind != "image"] == []
