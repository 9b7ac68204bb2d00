"""Stream a known text as word chunks at a reading pace (the builtin bots)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

from rill.providers.base import Chunk, Finish, TextDelta

#: At pace 0, chunks handed over between two yields to the event loop. Why: a real
#: model's tokens arrive several to a network read, and a reader then gets them in one
#: batch; yielding after every word would make the unpaced bot a worst case no upstream
#: produces (measured in docs/performance.md).
UNPACED_RUN = 16


async def paced_batches(
    chunks: Iterable[str], *, pace: float, max_tokens: int, input_tokens: int
) -> AsyncIterator[list[Chunk]]:
    """Each chunk as a ``TextDelta``, then a ``Finish`` with the last batch.

    One chunk per batch when paced, ``UNPACED_RUN`` when not. Stops with
    ``max_tokens`` once ``max_tokens`` chunks were sent and more remain.
    """
    run = 1 if pace else UNPACED_RUN
    batch: list[Chunk] = []
    sent = 0
    stop_reason = "end_turn"
    for chunk in chunks:
        if sent >= max_tokens:
            stop_reason = "max_tokens"
            break
        if len(batch) >= run:
            yield batch
            batch = []
            # Why: sleep(0) still yields to the loop, so a pace of 0 stays cancellable
            # and cannot starve other streams.
            await asyncio.sleep(pace)
        batch.append(TextDelta(chunk))
        sent += 1
    batch.append(Finish(stop_reason=stop_reason, input_tokens=input_tokens, output_tokens=sent))
    yield batch
