"""Fresh virtual environments, made with uv (``make install`` puts it in .venv/bin)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def uv() -> str:
    beside = Path(sys.executable).with_name("uv")
    found = str(beside) if beside.is_file() else shutil.which("uv")
    if found is None:
        pytest.fail("uv is needed (make install puts it in .venv/bin)")
    return found


def run(*cmd: str | Path, cwd: Path | None = None, timeout: float = 600) -> str:
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def fresh_venv(where: Path) -> Path:
    """A new venv on this interpreter (the lowest Python Rill supports, in CI); its python."""
    run(uv(), "venv", "-q", "--python", sys.executable, where)
    return where / "bin" / "python"
