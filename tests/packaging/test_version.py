"""``rill --version`` prints the version written once, in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import rill

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_version_comes_from_the_package_metadata():
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    out = subprocess.run([sys.executable, "-m", "rill.cli", "--version"], capture_output=True,
                         text=True, timeout=60, check=True)
    assert out.stdout.strip() == f"rill {declared}"
    assert rill.__version__ == declared
