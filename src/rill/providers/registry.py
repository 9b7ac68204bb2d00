"""Build each configured bot's provider once and hand it out by bot id."""

from __future__ import annotations

from collections.abc import Iterable

from rill.config import BotConfig
from rill.errors import NotFound
from rill.extras import needs
from rill.providers.base import Provider


def build_provider(bot: BotConfig) -> Provider:
    # Why: the SDK imports are deferred so a server with only builtin bots starts
    # without loading them.
    if bot.provider == "echo":
        from rill.providers.echo import EchoProvider

        return EchoProvider(pace=bot.pace)
    if bot.provider == "guide":
        from rill.providers.guide import GuideProvider

        return GuideProvider(pace=bot.pace)
    if bot.provider == "openai":
        with needs("providers", f"bot {bot.id!r} (provider openai)"):
            from rill.providers.openai_compat import OpenAIProvider

        return OpenAIProvider(bot)
    if bot.provider == "anthropic":
        with needs("providers", f"bot {bot.id!r} (provider anthropic)"):
            from rill.providers.anthropic import AnthropicProvider

        return AnthropicProvider(bot)
    raise ValueError(f"unknown provider kind {bot.provider!r} for bot {bot.id!r}")


class ProviderRegistry:
    """One shared ``Provider`` per configured bot."""

    def __init__(self, bots: Iterable[BotConfig]) -> None:
        self._bots = {bot.id: bot for bot in bots}
        self._providers = {bot_id: build_provider(bot) for bot_id, bot in self._bots.items()}

    def get(self, bot_id: str) -> Provider:
        try:
            return self._providers[bot_id]
        except KeyError:
            raise NotFound(f"no chatbot {bot_id!r}") from None

    def bot(self, bot_id: str) -> BotConfig:
        try:
            return self._bots[bot_id]
        except KeyError:
            raise NotFound(f"no chatbot {bot_id!r}") from None

    def __contains__(self, bot_id: object) -> bool:
        return bot_id in self._providers

    @property
    def bots(self) -> list[BotConfig]:
        return list(self._bots.values())

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
