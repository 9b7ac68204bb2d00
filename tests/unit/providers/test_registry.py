import pytest

from rill.config import BotConfig, default_bots
from rill.errors import NotFound
from rill.providers import ProviderRegistry, build_provider
from rill.providers.anthropic import AnthropicProvider
from rill.providers.echo import EchoProvider
from rill.providers.guide import GuideProvider
from rill.providers.openai_compat import OpenAIProvider


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("echo", EchoProvider),
        ("guide", GuideProvider),
        ("openai", OpenAIProvider),
        ("anthropic", AnthropicProvider),
    ],
)
async def test_build_provider_picks_the_kind(kind: str, cls: type) -> None:
    provider = build_provider(
        BotConfig(id="b", name="B", provider=kind, base_url="http://127.0.0.1:9")
    )
    try:
        assert isinstance(provider, cls)
        assert provider.kind == kind
    finally:
        await provider.aclose()


async def test_builtin_bots_get_their_pace() -> None:
    provider = build_provider(BotConfig(id="e", name="E", provider="echo", pace=0.5))
    assert isinstance(provider, EchoProvider) and provider.pace == 0.5


async def test_registry_holds_one_provider_per_bot() -> None:
    registry = ProviderRegistry(default_bots())
    try:
        assert registry.get("guide") is registry.get("guide")
        assert isinstance(registry.get("echo"), EchoProvider)
        assert "guide" in registry and "nope" not in registry
        assert registry.bot("echo").provider == "echo"
        assert [b.id for b in registry.bots] == ["guide", "echo"]
        with pytest.raises(NotFound):
            registry.get("nope")
    finally:
        await registry.aclose()
