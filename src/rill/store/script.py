"""A store transaction written once as a *script*, run by each driver its own way.

A script is a generator: it yields ``(sql, args)`` with ``$n`` placeholders, is
sent back each statement's rows, and returns its result. PostgreSQL runs it
statement by statement, SQLite in one hop to its connection's thread
(``SQLStore._run_script``).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any, TypeVar

# A row as the driver returns it; positional, in the order of the SELECT list.
Row = Sequence[Any]
T = TypeVar("T")
#: A transaction's logic: yields ``(sql, args)``, is sent each statement's rows, returns
#: the result.
Script = Generator[tuple[str, tuple[Any, ...]], list[Row], T]
