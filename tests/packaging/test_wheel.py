"""The wheel carries the built web app: installed from it, ``rill serve`` serves the UI.

Issue 12: the web app was found only next to a source checkout, so an installed
wheel answered ``/`` with 404. The wheel is installed without extras: the core
alone serves the embedded setup, and a part it lacks is named with its extra.
"""

from __future__ import annotations

import re
import subprocess
import zipfile

import httpx
import pytest

from tests.conftest import free_port, start_server
from tests.packaging.conftest import ROOT, fresh_venv, run, uv


@pytest.mark.slow
@pytest.mark.timeout(600)  # builds and installs in a fresh venv
def test_installed_wheel_serves_the_chat_ui(tmp_path):
    run(uv(), "build", "-q", "--wheel", "--out-dir", tmp_path / "dist", ROOT)
    (wheel,) = (tmp_path / "dist").glob("rill-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert "rill/web/index.html" in archive.namelist()
    python = fresh_venv(tmp_path / "venv")
    run(uv(), "pip", "install", "-q", "--python", python, wheel)

    server = start_server(tmp_path / "data", python=str(python), ready_within=120)
    try:
        page = httpx.get(f"{server.url}/", timeout=10)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<div id="root">' in page.text
        # The page's script is served too, from the installed package.
        script = re.search(r'src="(/assets/[^"]+\.js)"', page.text)
        assert script is not None, page.text
        asset = httpx.get(f"{server.url}{script[1]}", timeout=10)
        assert asset.status_code == 200
        assert "immutable" in asset.headers["cache-control"]
    finally:
        server.stop()

    failed = subprocess.run(
        [python, "-m", "rill.cli", "serve", "--port", str(free_port()),
         "--data-dir", tmp_path / "data", "--broker-url", "redis://127.0.0.1:1/0"],
        capture_output=True, text=True, timeout=120,
    )
    assert failed.returncode == 3, failed.stderr
    assert "a Redis broker needs Rill's 'redis' extra: pip install 'rill[redis]'" in failed.stderr
