"""Pick a store from its URL: ``sqlite:///path``, ``sqlite://:memory:`` or ``postgresql://…``."""

from __future__ import annotations

from urllib.parse import urlsplit

from rill.extras import needs
from rill.store.base import Store


def open_store(url: str) -> Store:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        from rill.store.sqlite import SQLiteStore

        # SQLAlchemy's convention: sqlite:///relative/path, sqlite:////absolute/path.
        rest = url[len("sqlite://") :]
        if rest in (":memory:", "/:memory:", ""):
            return SQLiteStore(":memory:")
        return SQLiteStore(rest[1:] if rest.startswith("/") else rest)
    if parts.scheme in ("postgres", "postgresql"):
        with needs("postgres", "a PostgreSQL database"):
            from rill.store.postgres import PostgresStore

        return PostgresStore(url)
    raise ValueError(f"unsupported database URL scheme {parts.scheme!r} (sqlite:// or postgresql://)")
