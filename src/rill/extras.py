"""Optional parts of Rill and the extra that installs each (``pip install 'rill[redis]'``).

Why extras: the embedded server (SQLite, in-process broker, offline bots) needs none
of Redis, PostgreSQL, the provider SDKs or the HTTP/2 server, which together are most
of an install. ``rill[all]`` brings them all; ``make install`` installs every extra.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

#: The top-level modules each extra brings in.
MODULES = {
    "redis": frozenset({"redis"}),
    "postgres": frozenset({"asyncpg"}),
    "providers": frozenset({"openai", "anthropic", "aiohttp", "httpx2"}),
    "http2": frozenset({"granian"}),
}


class MissingExtra(ImportError):
    """A feature was asked for whose extra is not installed."""

    def __init__(self, extra: str, feature: str) -> None:
        super().__init__(f"{feature} needs Rill's {extra!r} extra: pip install 'rill[{extra}]'")
        self.extra = extra


@contextlib.contextmanager
def needs(extra: str, feature: str) -> Iterator[None]:
    """Turn the import error of a missing ``extra`` into one that says what to install."""
    try:
        yield
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in MODULES[extra]:
            raise
        raise MissingExtra(extra, feature) from exc
