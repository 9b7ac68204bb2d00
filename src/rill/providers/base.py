"""The ``Provider`` contract: stream one reply for a conversation.

A provider turns a ``CompletionRequest`` into an async stream of ``TextDelta``
chunks ended by exactly one ``Finish``. Cancellation is the caller cancelling
the task that iterates (or calling ``aclose()`` on the iterator): a provider
must then close its upstream connection at once, not drain it.

Failures are raised as ``rill.errors.UpstreamError`` subclasses with a message
fit to show a user (never the API key, never the raw upstream body).
Timeouts for a stalled upstream are enforced by the caller around each chunk,
so every provider gets them alike.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class PromptMessage:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    model: str
    messages: list[PromptMessage]
    system: str = ""
    temperature: float | None = None
    max_tokens: int = 1024
    #: The UI language the user last chose ("en", "ko"); builtin bots may use it.
    language: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


# Why not frozen, unlike the other records: one is built per token, and a frozen
# dataclass's ``__init__`` (``object.__setattr__`` per field) costs twice as much;
# dataclasses on the per-token path were ~8% of the relay's CPU (py-spy,
# docs/performance.md). Treat it as immutable all the same.
@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class Finish:
    #: Anthropic's vocabulary: "end_turn", "max_tokens", "stop_sequence".
    stop_reason: str = "end_turn"
    input_tokens: int = 0
    output_tokens: int = 0


Chunk = TextDelta | Finish


class Provider(ABC):
    """One upstream (or builtin) model. Instances are shared by concurrent turns."""

    #: The provider kind as configured: "echo", "guide", "openai", "anthropic".
    kind: str = ""

    @abstractmethod
    def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        """Yield ``TextDelta``s, then one ``Finish``. Raise ``UpstreamError`` on failure."""

    async def stream_batches(self, request: CompletionRequest) -> AsyncIterator[list[Chunk]]:
        """``stream``'s chunks, grouped as they became available: never an empty list.

        Why: an upstream's tokens arrive several to a network read, and the chat
        relay handles a group with one broker call instead of one per token
        (docs/performance.md). Each chunk is still its own event to the client.
        The default groups nothing; providers that read in batches override it.
        """
        chunks = self.stream(request)
        try:
            async for chunk in chunks:
                yield [chunk]
        finally:
            await aclose(chunks)

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release HTTP clients."""


async def flatten(batches: AsyncIterator[list[Chunk]]) -> AsyncIterator[Chunk]:
    """One chunk at a time from ``stream_batches``; closing it closes the batches."""
    try:
        async for batch in batches:
            for chunk in batch:
                yield chunk
    finally:
        await aclose(batches)


async def aclose(iterator: AsyncIterator[object]) -> None:
    """Close an async generator now (its upstream request with it), not at GC time."""
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()
