"""Which ``Last-Event-ID`` a reply can be resumed from: only an id its stream sent.

Chat event ids are ``"<seq>-<offset>"`` (``events``). A resume after an id the
stream never sent would re-send text the client has, or skip text it lacks
(``3-2`` when the event was ``3-6``), so such an id is refused with 422 before
the response starts (issue 13, docs/api.md). While the broker holds the stream
the id must be one of its entries; once the stream is gone it must fit the
stored reply.
"""

from __future__ import annotations

from rill.broker.base import Broker, compare_ids
from rill.chat import events
from rill.errors import InvalidInput
from rill.store.models import Message

#: Above any part of a broker position (Redis caps each part at 2**64 - 1).
_MAX_PART = 2**64 - 1


def parse(last_event_id: str) -> tuple[int, int]:
    """``(seq, offset)``, or ``InvalidInput`` for anything no reply sends."""
    seq, offset = events.parse_event_id(last_event_id)
    if seq < 1 or seq > _MAX_PART or offset > _MAX_PART:
        raise _unsent(last_event_id)
    return seq, offset


async def check_streamed(
    broker: Broker, stream: str, last_event_id: str, last: str | None
) -> None:
    """``InvalidInput`` unless ``last_event_id`` is an entry of ``stream``.

    ``last`` is the stream's newest id. Raises ``StreamMissing`` if the stream is gone.
    """
    seq, offset = parse(last_event_id)
    if last is None or compare_ids(last_event_id, last) > 0:
        raise _unsent(last_event_id)
    # Why from the position just before: ``read`` answers entries strictly after
    # an id, so the first entry after the predecessor is the id itself if it exists.
    before = f"{seq}-{offset - 1}" if offset else f"{seq - 1}-{_MAX_PART}"
    found = await broker.read(stream, before, limit=1)
    if not found or found[0].id != events.event_id(seq, offset):
        raise _unsent(last_event_id)


def check_stored(message: Message, last_event_id: str) -> None:
    """``InvalidInput`` unless the finished ``message`` could have sent ``last_event_id``.

    What the stored reply says of its events: ``message_start`` and
    ``content_block_start`` (seq 1 and 2) carry offset 0; once the reply has a final
    event, no event goes past it or past the text's length, and it carries the whole
    text. A reply cut off by a crash has no final event and only its last checkpoint's
    text, which its client may have gone past: any later offset is one it was sent.
    """
    seq, offset = parse(last_event_id)
    length = len(message.content)
    sent = seq > 2 or offset == 0
    if message.final_event_id:
        final_seq = events.parse_event_id(message.final_event_id)[0]
        sent = sent and offset <= length and seq <= final_seq
        sent = sent and (seq < final_seq or offset == length)
    if not sent:
        raise _unsent(last_event_id)


def _unsent(last_event_id: str) -> InvalidInput:
    return InvalidInput(f"Last-Event-ID {last_event_id!r} is not an id this reply sent",
                        last_event_id=last_event_id)
