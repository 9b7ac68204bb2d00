import pytest

from rill.providers import _knowledge
from rill.providers.guide import GuideProvider, compose_answer
from tests.fakes.providers import ask, collect, finish_of, text_of


@pytest.mark.parametrize(
    ("question", "section_id"),
    [
        ("how do I resume a dropped stream?", "resume"),
        ("What is SSE?", "what-is-sse"),
        ("SSE vs WebSocket: which should I use?", "sse-vs-websocket"),
        ("what does the retry field do?", "reconnect"),
        ("why do my events arrive all at once behind nginx?", "proxies"),
        ("what is X-Accel-Buffering for?", "proxies"),
        ("is there a limit of six connections per browser?", "http2"),
        ("how do I stop a reply that is generating?", "cancel"),
        ("how do I load older messages?", "history"),
        ("how do I publish an update to the Mercure hub?", "mercure-publish"),
        ("how do private updates work?", "mercure-private"),
        ("which environment variables configure Rill?", "config"),
        ("can I use Ollama?", "providers"),
        ("how do I scale with Redis and PostgreSQL?", "deploy"),
        ("streaming stock prices to a dashboard", "use-prices"),
        ("parcel delivery tracking", "use-delivery"),
        ("EventSource onmessage", "eventsource"),
        # Issue 17: these went to "What is SSE", "HTTP/2" and the fallback.
        ("How does SSE reconnect?", "reconnect"),
        ("Does the browser reconnect automatically?", "reconnect"),
        ("Does SSE work behind nginx?", "proxies"),
        ("Which providers does Rill support?", "providers"),
        ("Is the stream compressed with gzip?", "proxies"),
    ],
)
def test_english_questions_find_their_section(question: str, section_id: str) -> None:
    match = _knowledge.load("en").search(question)
    assert match is not None and match.section.id == section_id


@pytest.mark.parametrize(
    ("question", "section_id"),
    [
        ("SSE와 웹소켓의 차이는?", "sse-vs-websocket"),
        ("끊긴 스트림을 어떻게 이어 받나요?", "resume"),
        ("SSE가 뭐예요?", "what-is-sse"),
        ("재연결할 때 Last-Event-ID는 어떻게 쓰나요?", "reconnect"),
        ("nginx 뒤에서 이벤트가 한꺼번에 와요", "proxies"),
        ("답변 생성을 취소하려면?", "cancel"),
        ("머큐어 허브에 발행하는 방법", "mercure-publish"),
        ("올라마를 연결하고 싶어요", "providers"),
        ("서버를 여러 대로 늘리려면 어떻게 하나요?", "deploy"),
        ("택배 배송 추적", "use-delivery"),
        ("비트코인 시세를 실시간으로", "use-prices"),
        ("재연결은 어떻게 하나요?", "reconnect"),
        ("nginx 뒤에서 SSE가 동작하나요?", "proxies"),
    ],
)
def test_korean_questions_find_their_section(question: str, section_id: str) -> None:
    match = _knowledge.load("ko").search(question)
    assert match is not None and match.section.id == section_id


@pytest.mark.parametrize(
    "question",
    [
        "what is the weather today?",
        "who won the football game?",
        "hello",
        "오늘 날씨 어때?",
        "농담 하나 해 줘",
    ],
)
def test_off_topic_questions_match_nothing(question: str) -> None:
    language = "ko" if any("\uac00" <= ch <= "\ud7a3" for ch in question) else "en"
    assert _knowledge.load(language).search(question) is None


def test_both_languages_cover_the_same_sections() -> None:
    english = [s.id for s in _knowledge.load("en").sections]
    korean = [s.id for s in _knowledge.load("ko").sections]
    assert english == korean
    assert 15 <= len(english) <= 30
    assert len(set(english)) == len(english)
    for section in _knowledge.load("ko").sections:
        assert section.body and section.title


def test_answer_names_its_section_in_the_answer_language() -> None:
    assert compose_answer("how do I resume a dropped stream?").startswith(
        "**From: Resuming a dropped stream**\n\n"
    )
    assert compose_answer("SSE와 웹소켓의 차이는?").startswith(
        "**참고: SSE와 웹소켓, 롱 폴링의 차이**"
    )


def test_korean_ui_language_answers_an_english_question_in_korean() -> None:
    assert compose_answer("How do I resume a dropped stream?", "ko").startswith(
        "**참고: 끊긴 스트림 이어 받기**"
    )


def test_fallback_lists_topics_in_the_question_language() -> None:
    english = compose_answer("what is the weather today?")
    assert "couldn't find" in english and "- Resuming a dropped stream" in english
    assert "찾지 못했어요" in compose_answer("오늘 날씨 어때?")


async def test_guide_streams_the_answer_in_word_chunks() -> None:
    chunks = await collect(GuideProvider(pace=0), ask("What is SSE?", max_tokens=10_000))
    assert text_of(chunks) == compose_answer("What is SSE?")
    finish = finish_of(chunks)
    assert finish.stop_reason == "end_turn"
    assert finish.output_tokens == len(chunks) - 1 > 20


async def test_guide_respects_max_tokens() -> None:
    chunks = await collect(GuideProvider(pace=0), ask("What is SSE?", max_tokens=5))
    assert finish_of(chunks).stop_reason == "max_tokens"
    assert len(chunks) == 6
