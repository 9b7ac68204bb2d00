"""``guide``: answers questions about SSE and Rill from the shipped knowledge base.

Retrieval is BM25 over the sections of the question's language; the answer names
the section it comes from and streams at a reading pace. Works offline.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from rill.providers import _knowledge
from rill.providers._paced import paced_batches
from rill.providers._text import context_tokens, has_hangul, word_chunks
from rill.providers.base import Chunk, CompletionRequest, Provider, flatten

_SOURCE_LABEL = {"en": "**From: {title}**", "ko": "**참고: {title}**"}
_FALLBACK_INTRO = {
    "en": (
        "I couldn't find that in my notes. I know about Server-Sent Events and Rill, for example:"
    ),
    "ko": "그 내용은 제 자료에서 찾지 못했어요. 저는 SSE와 Rill에 대해 알고 있어요. 예를 들면:",
}
_FALLBACK_OUTRO = {
    "en": 'Try asking "How do I resume a dropped stream?" or "SSE vs WebSocket?"',
    "ko": '"끊긴 스트림을 어떻게 이어 받나요?" 또는 "SSE와 웹소켓의 차이는?"처럼 물어보세요.',
}
_FALLBACK_TOPICS = ("what-is-sse", "resume", "sse-vs-websocket", "proxies", "mercure", "providers")


def answer_language(question: str, preferred: str | None) -> str:
    return "ko" if has_hangul(question) or preferred == "ko" else "en"


def compose_answer(question: str, preferred_language: str | None = None) -> str:
    """The full reply text for ``question``: a source line and the section, or a fallback."""
    language = answer_language(question, preferred_language)
    # Why: sections share ids across languages, so an English question from a user
    # whose UI is Korean is matched in English and answered from the Korean section.
    match = _knowledge.load("ko" if has_hangul(question) else "en").search(question)
    knowledge = _knowledge.load(language)
    section = knowledge.get(match.section.id) if match else None
    if section is None:
        return _fallback(knowledge, language)
    label = _SOURCE_LABEL[language].format(title=section.title)
    return f"{label}\n\n{section.body}"


def _fallback(knowledge: _knowledge.KnowledgeBase, language: str) -> str:
    topics = [s.title for s in map(knowledge.get, _FALLBACK_TOPICS) if s is not None]
    bullets = "\n".join(f"- {title}" for title in topics)
    return f"{_FALLBACK_INTRO[language]}\n\n{bullets}\n\n{_FALLBACK_OUTRO[language]}"


def _last_question(request: CompletionRequest) -> str:
    for message in reversed(request.messages):
        if message.role == "user":
            return message.content
    return ""


class GuideProvider(Provider):
    kind = "guide"

    def __init__(self, *, pace: float = 0.02) -> None:
        self.pace = pace

    def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        return flatten(self.stream_batches(request))

    def stream_batches(self, request: CompletionRequest) -> AsyncIterator[list[Chunk]]:
        text = compose_answer(_last_question(request), request.language)
        return paced_batches(
            word_chunks(text),
            pace=self.pace,
            max_tokens=request.max_tokens,
            input_tokens=context_tokens(request.system, request.messages),
        )
