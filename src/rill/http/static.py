"""Serve the built web app; unknown non-API paths get ``index.html`` (client-side routes)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope


def default_web_dir() -> Path:
    """The built web app: in the installed package (a wheel carries it as ``rill/web``,
    see hatch_build.py), else next to the source checkout (editable installs, `make run`)."""
    packaged = resources.files("rill") / "web"
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    # src/rill/http/static.py -> repository root / web / dist
    return Path(__file__).resolve().parents[3] / "web" / "dist"


#: Paths the web app never serves: unknown ones are 404 problem+json whatever the
#: method, never ``index.html`` nor the static files' 405 (issue 16).
API_PREFIXES = ("api/", "v1/", ".well-known/")


class SinglePageApp(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        if path.startswith(API_PREFIXES) or path in ("api", "v1"):
            raise HTTPException(404, f"no route {scope['path']}")
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404:
                raise
            response = await super().get_response("index.html", scope)
        if path.startswith("assets/"):
            # Vite fingerprints asset names, so they never change under one URL.
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response
