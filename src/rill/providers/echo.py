"""``echo``: streams the user's last message back, word by word. Deterministic.

A message ``/lorem N`` streams N pseudo-lorem words instead, to try long replies.
"""

from __future__ import annotations

import random
import re
from collections.abc import AsyncIterator, Iterator

from rill.providers._paced import paced_batches
from rill.providers._text import context_tokens, word_chunks
from rill.providers.base import Chunk, CompletionRequest, Provider, flatten

MAX_LOREM_WORDS = 20_000
_LOREM_DIRECTIVE = re.compile(r"^\s*/lorem(?:\s+(\d{1,9}))?\s*$")
_DEFAULT_LOREM_WORDS = 100
_NOTHING_TO_ECHO = "(nothing to echo)"
_LOREM_TEXT = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua enim ad minim veniam quis nostrud "
    "exercitation ullamco laboris nisi aliquip ex ea commodo consequat duis aute irure "
    "in reprehenderit voluptate velit esse cillum fugiat nulla pariatur excepteur sint "
    "occaecat cupidatat non proident sunt culpa qui officia deserunt mollit anim id est "
    "laborum"
)
_LOREM_VOCABULARY = _LOREM_TEXT.split()


def lorem_chunks(count: int) -> Iterator[str]:
    """``count`` pseudo-lorem words in sentences and paragraphs, the same for the same count."""
    rng = random.Random(count)
    left_in_sentence = 0
    sentences_in_paragraph = 0
    for index in range(count):
        word = rng.choice(_LOREM_VOCABULARY)
        if left_in_sentence == 0:
            word = word.capitalize()
            left_in_sentence = rng.randint(6, 14)
        left_in_sentence -= 1
        last = index == count - 1
        if left_in_sentence == 0 or last:
            sentences_in_paragraph += 1
            left_in_sentence = 0
            if last:
                yield word + "."
            elif sentences_in_paragraph % 5 == 0:
                yield word + ".\n\n"
            else:
                yield word + ". "
        else:
            yield word + " "


def _last_user_message(request: CompletionRequest) -> str:
    for message in reversed(request.messages):
        if message.role == "user":
            return message.content
    return ""


class EchoProvider(Provider):
    kind = "echo"

    def __init__(self, *, pace: float = 0.03) -> None:
        self.pace = pace

    def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        return flatten(self.stream_batches(request))

    def stream_batches(self, request: CompletionRequest) -> AsyncIterator[list[Chunk]]:
        text = _last_user_message(request)
        directive = _LOREM_DIRECTIVE.match(text)
        if directive:
            count = int(directive.group(1) or _DEFAULT_LOREM_WORDS)
            chunks: Iterator[str] | list[str] = lorem_chunks(min(max(count, 1), MAX_LOREM_WORDS))
        else:
            chunks = word_chunks(text) or [_NOTHING_TO_ECHO]
        return paced_batches(
            chunks,
            pace=self.pace,
            max_tokens=request.max_tokens,
            input_tokens=context_tokens(request.system, request.messages),
        )
