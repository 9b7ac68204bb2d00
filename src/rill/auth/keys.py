"""The signing secret of embedded mode, created once and kept under the data dir."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path


def load_or_create_secret(data_dir: Path) -> str:
    """Read ``data_dir/secret.key``, creating it (mode 0600) on first use, so
    sessions survive restarts without anyone configuring a key.

    The key is written to a temporary file and linked into place, so a process
    that loses a race to create it reads the winner's complete key, never a
    half-written one.
    """
    path = data_dir / "secret.key"
    if not path.is_file():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=data_dir, prefix=".secret-")
        try:
            os.write(fd, secrets.token_urlsafe(48).encode())
            os.fsync(fd)
            os.close(fd)
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    return path.read_text().strip()
