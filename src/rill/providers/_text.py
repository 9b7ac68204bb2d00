"""Text helpers shared by the builtin bots: word chunks, token estimates, tokenising."""

from __future__ import annotations

import re

from rill.providers.base import PromptMessage

# Why: a chunk is a word with the whitespace that follows it, so joining the chunks
# gives back the exact text (leading whitespace rides on the first chunk).
_WORD_CHUNK = re.compile(r"\s*\S+\s*")
_ROUGH_TOKEN = re.compile(r"\w+|[^\w\s]")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_HANGUL_RUN = re.compile(r"[\uac00-\ud7a3]+")
_LATIN_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)?")

_STOPWORD_LIST = (
    "a an and are as at be but by can could do does did for from has have how i if in "
    "into is it its me my of on or our should so than that the their them then there "
    "these this those to us was we what when where which who why will with would you "
    "your please tell explain about use using want need get"
)
_STOPWORDS = frozenset(_STOPWORD_LIST.split())
# Why: verb endings and politeness markers ("…하세요", "…입니다") occur in every Korean
# section; as bigrams they would make any polite sentence match something.
_KOREAN_STOP_LIST = (
    "세요 하세 니다 습니 합니 입니 있습 는지 나요 까요 려면 해요 어요 아요 에요 예요 "
    "인가 가요 알려 려주 주세 설명 명해 어떻 떻게 하나 나요"
)
_KOREAN_STOP_BIGRAMS = frozenset(_KOREAN_STOP_LIST.split())


def word_chunks(text: str) -> list[str]:
    """Split ``text`` into chunks whose concatenation is exactly ``text``."""
    chunks = _WORD_CHUNK.findall(text)
    return chunks if chunks else ([text] if text else [])


def rough_tokens(text: str) -> int:
    """A cheap stand-in for a tokenizer: words and punctuation marks."""
    return len(_ROUGH_TOKEN.findall(text))


def context_tokens(system: str, messages: list[PromptMessage]) -> int:
    return rough_tokens(system) + sum(rough_tokens(m.content) for m in messages)


def has_hangul(text: str) -> bool:
    return _HANGUL.search(text) is not None


def _stem(word: str) -> str:
    # Why: light suffix stripping is enough to match "resumes"/"resuming"/"resume" in a
    # small knowledge base; a full stemmer would be a dependency for little gain.
    word = _strip_plural_ion(word)
    for suffix in ("ing", "ed", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix) and not word.endswith("ss"):
            word = word[: -len(suffix)]
            if suffix != "s" and len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]
            break
    return word[:-1] if len(word) > 3 and word.endswith("e") else word


def _strip_plural_ion(word: str) -> str:
    """"reconnection(s)" → "reconnect", "compression" → "compress" (issue 17: "How does SSE
    reconnect?" missed the section titled "Reconnection" and fell to "What is SSE")."""
    if word.endswith("ions"):
        word = word[:-1]
    if len(word) > 6 and word.endswith(("ction", "ssion")):
        return word[:-3]
    return word


def word_terms(text: str) -> list[list[str]]:
    """Search terms grouped by the word they came from (see ``tokenize``)."""
    lowered = text.lower()
    words: list[list[str]] = [
        [_stem(w)] for w in _LATIN_WORD.findall(lowered) if w not in _STOPWORDS
    ]
    for run in _HANGUL_RUN.findall(lowered):
        if len(run) == 1:
            words.append([run])
        else:
            bigrams = (run[i : i + 2] for i in range(len(run) - 1))
            words.append([b for b in bigrams if b not in _KOREAN_STOP_BIGRAMS])
    return [terms for terms in words if terms]


def tokenize(text: str) -> list[str]:
    """Search terms for English and Korean alike.

    Latin words are lowercased, stop words dropped and lightly stemmed. Hangul runs
    become character bigrams: Korean glues particles to words ("스트림을", "스트림이"),
    and bigrams match the shared stem without a morphological analyser.
    """
    return [term for terms in word_terms(text) for term in terms]
