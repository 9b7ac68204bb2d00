"""What the model sees: the bot's system prompt and the conversation's recent turns."""

from __future__ import annotations

from rill.config import BotConfig
from rill.providers.base import CompletionRequest, PromptMessage
from rill.store.models import Message


def build_request(
    bot: BotConfig, history: list[Message], language: str | None
) -> CompletionRequest:
    """Recent messages, oldest first, as alternating user/assistant turns.

    Empty replies (cancelled before a token, failed) are dropped and consecutive
    messages of one role merged, because upstream APIs reject both.
    """
    turns: list[PromptMessage] = []
    for message in history:
        if not message.content:
            continue
        if turns and turns[-1].role == message.role:
            turns[-1] = PromptMessage(message.role, turns[-1].content + "\n\n" + message.content)
        else:
            turns.append(PromptMessage(message.role, message.content))
    while turns and turns[0].role != "user":
        turns.pop(0)
    return CompletionRequest(
        model=bot.model,
        messages=turns,
        system=bot.system_prompt,
        temperature=bot.temperature,
        max_tokens=bot.max_tokens,
        language=language,
    )


def build_client_request(
    bot: BotConfig,
    prompt: tuple[PromptMessage, ...],
    system: str | None,
    max_tokens: int | None,
    language: str | None,
) -> CompletionRequest:
    """What the model sees for a stateless client (``/v1``): the conversation it sent.

    Why the bot's prompt first and its cap kept: the bot is configured by the
    operator, the request by any holder of a token; a client adds to the bot, it
    does not replace it.
    """
    system_prompt = "\n\n".join(p for p in (bot.system_prompt, system) if p)
    return CompletionRequest(
        model=bot.model,
        messages=list(prompt),
        system=system_prompt,
        temperature=bot.temperature,
        max_tokens=bot.max_tokens if max_tokens is None else min(bot.max_tokens, max_tokens),
        language=language,
    )


def estimate_tokens(request: CompletionRequest) -> int:
    """A rough input-token count for ``message_start`` (the provider reports the
    real one at the end, in ``message_delta``'s usage)."""
    chars = len(request.system) + sum(len(m.content) for m in request.messages)
    return max(1, chars // 4)
