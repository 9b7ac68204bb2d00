"""Model providers: builtin offline bots and adapters for upstream APIs."""

from rill.providers.base import (
    Chunk,
    CompletionRequest,
    Finish,
    PromptMessage,
    Provider,
    TextDelta,
)

__all__ = ["Chunk", "CompletionRequest", "Finish", "PromptMessage", "Provider", "TextDelta"]
