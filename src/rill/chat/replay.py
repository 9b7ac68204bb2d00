"""Rebuild the rest of a reply's event stream from the stored message.

Used when the broker no longer has the stream: it expired after the reply
finished, or the process that held it in memory restarted. The client's
``Last-Event-ID`` says how far it got (``seq``) and how much text it has
(``offset``); every reply ends with the same fixed-shape finale
(``events.finale``), so the final event id tells which of those events the
client already has.
"""

from __future__ import annotations

from rill.chat import events
from rill.store.models import Message

# Why: a reply that never finished (its process died) has no final event id;
# a fixed, unreachably high one keeps rebuilt ids stable across repeated resumes.
ORPHAN_FINAL_SEQ = 1_000_000_000


def rebuild(message: Message, model: str, after: str | None) -> list[bytes]:
    """Encoded events after ``after`` for a finished (not streaming) reply."""
    seq, offset = events.parse_event_id(after) if after else (0, 0)
    final_seq = (
        events.parse_event_id(message.final_event_id)[0]
        if message.final_event_id
        else ORPHAN_FINAL_SEQ
    )
    if seq >= final_seq:
        return []
    text, length = message.content, len(message.content)
    out: list[bytes] = []
    if seq < 1:
        start = events.message_start(
            message_id=message.id,
            model=model,
            input_tokens=message.usage.input_tokens if message.usage else 0,
            conversation_id=message.conversation_id,
            user_message_id=None,
            chatbot_id=message.chatbot_id,
        )
        out.append(events.sse(*start, 1, 0))
    if seq < 2:
        out.append(events.sse(*events.content_block_start(), 2, 0))
    if offset < length:
        out.append(events.sse(*events.text_delta(text[offset:]), max(seq + 1, 3), length))
    stop_reason = message.stop_reason or message.status
    failure = ("api_error", message.error) if message.status == "error" and message.error else None
    closing = events.finale(
        stop_reason, message.usage.output_tokens if message.usage else 0, failure,
        after=final_seq - events.finale_length(failure), offset=length,
    )
    skip = max(seq - (final_seq - len(closing)), 0)
    out += [payload for payload, _ in closing[skip:]]
    return out
