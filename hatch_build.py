"""Hatch build hook: the wheel carries the built web app as ``rill/web``.

Why a hook: ``web/dist`` is built, never committed, so a plain file list cannot
name it. The hook builds it (``npm ci && npm run build``) when it is missing and
npm is here; ``rill.http.static`` finds it in the installed package. Editable
installs skip it: they serve ``web/dist`` from the checkout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class WebAppHook(BuildHookInterface):
    PLUGIN_NAME = "rill-web"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        web = Path(self.root) / "web"
        dist = web / "dist"
        if not (dist / "index.html").is_file() and (web / "package.json").is_file():
            npm = shutil.which("npm")
            if npm is None:
                print("rill build: npm not found, so this wheel has no web app "
                      "(build it with `make web` first)", file=sys.stderr)
                return
            subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=web, check=True)
            subprocess.run([npm, "run", "build"], cwd=web, check=True)
        if (dist / "index.html").is_file():
            build_data["force_include"][str(dist)] = "rill/web"
