"""Noticing that a task has waited too long for its next item, at almost no cost per item."""

from __future__ import annotations

import asyncio


class StallWatch:
    """Cancels the task that made it when that task has waited ``limit`` seconds.

    The task sets ``waiting_since`` (loop time) before it awaits its next item and
    ``None`` once it has it; when the watch cancels it, ``expired`` is True, so the
    task can tell the watch's cancellation from any other. Used by a generation for
    a stalled provider and by a reader for a silent broker stream.

    Why not ``asyncio.timeout`` around each item: that is a context object, a timer
    handle and a ``current_task`` lookup per token, which py-spy showed as ~15% of
    the relay's CPU at pace 0 (docs/performance.md). Here an item costs two
    attribute writes, and one timer runs per ``limit`` period: when it fires it
    re-arms itself unless the task has been waiting too long.
    """

    __slots__ = ("limit", "waiting_since", "expired", "_loop", "_task", "_handle")

    def __init__(self, limit: float) -> None:
        self.limit = limit
        #: Loop time the task started waiting; None while it works.
        self.waiting_since: float | None = None
        self.expired = False
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._handle = self._loop.call_later(limit, self._check)

    def set_limit(self, limit: float) -> None:
        """Use ``limit`` from now on (and watch again after having expired)."""
        self.limit = limit
        self.expired = False
        self._handle.cancel()
        self._handle = self._loop.call_later(limit, self._check)

    def close(self) -> None:
        self._handle.cancel()

    def _check(self) -> None:
        since = self.waiting_since
        now = self._loop.time()
        if since is not None and now - since >= self.limit:
            self.expired = True
            if self._task is not None:
                self._task.cancel()
            return
        self._handle = self._loop.call_at((now if since is None else since) + self.limit,
                                          self._check)
