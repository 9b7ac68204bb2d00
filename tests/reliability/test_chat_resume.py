"""Nothing lost in chat: a reply cut at a random event, at a random byte inside it, and
resumed with ``Last-Event-ID`` adds up to exactly the stored final text, every time.

Each turn: a random message to an echo bot (fast or paced, so cuts land both during
generation and after it), the connection dropped inside a random event, then a resume.
The events of both halves must carry consecutive sequence numbers (no gap, nothing
twice), offsets that match the text received so far, and end with ``message_stop``.
At the end every reply's received text is compared with what the store holds.
"""

from __future__ import annotations

import random
import time

import httpx

from rill.sse import ServerSentEvent, SSEDecoder
from tests.reliability.support import SOAK, scaled, session

CONFIG = """
[[bots]]
id = "fast"
name = "Fast echo"
provider = "echo"
pace = 0.0005

[[bots]]
id = "paced"
name = "Paced echo"
provider = "echo"
pace = 0.01
"""
TURNS = scaled(100, 1000)
VOCABULARY = ["alpha", "beta", "γάμμα", "델타", "ε", "zeta\n", "eta\r\n", "θ", "🙂", "iota,", "k"]


def _events(raw: bytes) -> list[ServerSentEvent]:
    return [e for e in SSEDecoder().feed(raw) if e.event != "ping"]


def _cut_point(raw: bytes, event_index: int, fraction: float) -> int | None:
    """Byte offset ``fraction`` of the way into the ``event_index``-th block, once known."""
    start = 0
    for _ in range(event_index):
        end = raw.find(b"\n\n", start)
        if end < 0:
            return None
        start = end + 2
    end = raw.find(b"\n\n", start)
    if end < 0:
        return None
    return start + int(fraction * (end + 2 - start))


def _send_and_cut(client: httpx.Client, bot: str, message: str, rng: random.Random
                  ) -> tuple[str, list[ServerSentEvent], bool]:
    """Send a turn and drop the connection inside a random event; (message id, events, cut)."""
    # The reply has about one event per word plus five (``retry:`` rides with the first).
    target = rng.randint(0, len(message.split()) + 4)
    fraction = rng.random()
    raw = b""
    with client.stream("POST", "/api/chat", json={"chatbotId": bot, "message": message}) as r:
        assert r.status_code == 200, r.read()
        message_id = r.headers["x-rill-message-id"]
        for chunk in r.iter_raw():
            raw += chunk
            cut = _cut_point(raw, target, fraction)
            if cut is not None:
                return message_id, _events(raw[:cut]), True
    return message_id, _events(raw), False


def _resume(client: httpx.Client, message_id: str, last_id: str | None) -> list[ServerSentEvent]:
    headers = {"Last-Event-ID": last_id} if last_id else {}
    with client.stream("GET", f"/api/chat/{message_id}/stream", headers=headers) as r:
        if r.status_code == 204:
            return []
        assert r.status_code == 200, r.read()
        return _events(r.read())


def _check_sequence(events: list[ServerSentEvent]) -> str:
    """Strictly increasing seqs from 1, offsets equal to the text so far; the text.

    Why not consecutive seqs: once the broker has forgotten a stream, a resume is rebuilt
    from the store and folds the missing deltas into one event (chat/replay.py), so seqs
    may jump; the offsets still prove that no text is missing or repeated.
    """
    text = ""
    previous = 0
    for event in events:
        seq, offset = (int(part) for part in event.id.split("-"))
        assert seq > previous, f"duplicate or reordered event at {event.id}"
        assert previous or seq == 1, f"the reply does not start at seq 1 ({event.id})"
        previous = seq
        if event.event == "content_block_delta":
            text += event.json()["delta"]["text"]
        assert offset == len(text), f"offset {offset} != {len(text)} at {event.id}"
    assert events and events[-1].event == "message_stop"
    return text


def test_random_cuts_resume_to_exactly_the_stored_text(server_factory):
    server = server_factory(config=CONFIG, env={"RILL_CHAT_TURNS_PER_MINUTE": "0",
                                                "RILL_MAX_CONCURRENT_GENERATIONS": "50"})
    rng = random.Random(20240607)
    received: dict[str, str] = {}
    cuts = 0
    _, client = session(server.url)
    started = time.monotonic()
    with client:
        for _ in range(TURNS):
            words = [rng.choice(VOCABULARY) for _ in range(rng.randint(1, 40))]
            message = " ".join(words)
            bot = rng.choice(("fast", "paced"))
            message_id, first, was_cut = _send_and_cut(client, bot, message, rng)
            cuts += was_cut
            last_id = first[-1].id if first else None
            rest = _resume(client, message_id, last_id) if was_cut else []
            received[message_id] = _check_sequence(first + rest)
        # Every reply is final by now (message_stop is sent after the row is stored).
        stored = {**_walk(client, "fast"), **_walk(client, "paced")}
    elapsed = time.monotonic() - started
    assert cuts >= TURNS * 0.8, f"only {cuts} of {TURNS} turns were cut"
    mismatched = [m for m, text in received.items() if stored.get(m) != text]
    assert not mismatched, f"{len(mismatched)} replies differ from the store, e.g. {mismatched[:3]}"
    print(f"chat resume: {TURNS} turns, {cuts} cut and resumed, 0 lost, {elapsed:.1f}s"
          f"{' (soak)' if SOAK else ''}")


def _walk(client: httpx.Client, bot: str) -> dict[str, str]:
    out: dict[str, str] = {}
    cursor = None
    for _ in range(1000):
        params: dict[str, object] = {"chatbotId": bot, "limit": 100}
        if cursor:
            params["before"] = cursor
        page = client.get("/api/history", params=params).json()
        for m in page["messages"]:
            if m["role"] == "assistant":
                assert m["status"] == "complete", m
                out[m["id"]] = m["content"]
        cursor = page["nextCursor"]
        if not page["hasMore"]:
            break
    return out
