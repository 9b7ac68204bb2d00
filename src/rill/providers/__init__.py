"""Model providers: builtin offline bots and adapters for upstream APIs."""

from rill.providers.base import (
    Chunk,
    CompletionRequest,
    Finish,
    PromptMessage,
    Provider,
    TextDelta,
)
from rill.providers.registry import ProviderRegistry, build_provider

__all__ = [
    "Chunk",
    "CompletionRequest",
    "Finish",
    "PromptMessage",
    "Provider",
    "ProviderRegistry",
    "TextDelta",
    "build_provider",
]
