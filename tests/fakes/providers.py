"""Helpers to drive a provider in tests and to point upstream bots at a fake server."""

from __future__ import annotations

from rill.config import BotConfig
from rill.providers.base import Chunk, CompletionRequest, Finish, PromptMessage, Provider, TextDelta

SECRET_KEY = "sk-test-VERY-SECRET-0123456789"
KEY_ENV = "RILL_TEST_PROVIDER_KEY"


def ask(text: str, **kwargs: object) -> CompletionRequest:
    return CompletionRequest(
        model=str(kwargs.pop("model", "fake-model")),
        messages=[PromptMessage("user", text)],
        **kwargs,  # type: ignore[arg-type]
    )


async def collect(provider: Provider, request: CompletionRequest) -> list[Chunk]:
    return [chunk async for chunk in provider.stream(request)]


def text_of(chunks: list[Chunk]) -> str:
    return "".join(c.text for c in chunks if isinstance(c, TextDelta))


def finish_of(chunks: list[Chunk]) -> Finish:
    assert isinstance(chunks[-1], Finish), chunks[-1]
    return chunks[-1]


def openai_bot(url: str, **overrides: object) -> BotConfig:
    settings: dict[str, object] = {
        "id": "gpt",
        "name": "GPT",
        "provider": "openai",
        "model": "fake-model",
        "base_url": f"{url}/v1",
        "api_key_env": KEY_ENV,
        "max_retries": 0,
    }
    return BotConfig.model_validate({**settings, **overrides})


def anthropic_bot(url: str, **overrides: object) -> BotConfig:
    settings: dict[str, object] = {
        "id": "claude",
        "name": "Claude",
        "provider": "anthropic",
        "model": "claude-fake",
        "base_url": url,
        "api_key_env": KEY_ENV,
        "max_retries": 0,
    }
    return BotConfig.model_validate({**settings, **overrides})
