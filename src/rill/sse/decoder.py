"""A spec-exact, incremental ``text/event-stream`` decoder.

Implements the WHATWG HTML "event stream interpretation" rules: a leading
UTF-8 BOM is dropped once; lines end at CRLF, LF or CR (a CR at the end of one
chunk and an LF at the start of the next are one line break); ``:`` lines are
comments; a field's value loses one leading space; ``id`` values containing NUL
are ignored; ``retry`` is honoured only when it is all ASCII digits; an event is
dispatched at a blank line, and not at all if its data is empty; whatever is
pending when the stream ends is discarded.

Bytes may be split anywhere, including inside a multi-byte UTF-8 sequence:
lines are cut on bytes (CR and LF never occur inside a UTF-8 sequence) and
decoded only once complete.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from rill.sse.event import ServerSentEvent

_BOM = b"\xef\xbb\xbf"


class SSEDecoder:
    """Feed bytes in any chunking; get complete events out."""

    def __init__(self, *, last_event_id: str = "", retry: int | None = None) -> None:
        # Why the seeds: a reconnecting client parses each connection with a fresh
        # decoder (a half-received event must not leak into the next stream), but the
        # last event id and reconnection time belong to the event source and persist
        # across connections, as they do in a browser's EventSource.
        self._buffer = bytearray()
        self._at_start = True
        self._skip_lf = False
        self._data: list[str] = []
        self._event = ""
        self._id_buffer = last_event_id
        #: The last event id the stream dispatched (``Last-Event-ID`` for a reconnect).
        self.last_event_id = last_event_id
        #: The reconnection time in ms, once the stream has set one.
        self.retry: int | None = retry
        #: Comments seen since the last call to :meth:`feed` (heartbeats, mostly).
        self.comments: list[str] = []

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        self.comments = []
        # Why: an empty chunk (an idle read) between the CR and the LF of one CRLF
        # must not forget the pending CR, or the LF would dispatch the event early.
        if self._skip_lf and chunk:
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
            self._skip_lf = False
        self._buffer += chunk
        if self._at_start:
            if len(self._buffer) < len(_BOM) and _BOM.startswith(bytes(self._buffer)):
                return []
            if self._buffer.startswith(_BOM):
                del self._buffer[: len(_BOM)]
            self._at_start = False
        events: list[ServerSentEvent] = []
        for line in self._take_lines():
            event = self._process_line(line)
            if event is not None:
                events.append(event)
        return events

    def _take_lines(self) -> list[str]:
        buf = self._buffer
        if b"\r" not in buf:
            # Why: most streams end lines with LF alone (OpenAI's and Anthropic's do),
            # and then one decode and one split in C replace the loop below, which
            # was the largest part of parsing an upstream token (docs/performance.md).
            # Decoding the lines together equals decoding them one by one: LF never
            # occurs inside a UTF-8 sequence.
            end = buf.rfind(b"\n")
            if end == -1:
                return []
            text = buf[:end].decode("utf-8", errors="replace")
            del buf[: end + 1]
            return text.split("\n")
        return [line.decode("utf-8", errors="replace") for line in self._split_lines()]

    def _split_lines(self) -> list[bytes]:
        """Complete lines, ended by CR, LF or CRLF, cut from the buffer."""
        lines: list[bytes] = []
        buf = self._buffer
        start = 0
        length = len(buf)
        while start < length:
            cr = buf.find(b"\r", start)
            lf = buf.find(b"\n", start)
            if cr == -1 and lf == -1:
                break
            if cr != -1 and (lf == -1 or cr < lf):
                lines.append(bytes(buf[start:cr]))
                if cr + 1 < length:
                    start = cr + 2 if buf[cr + 1] == 0x0A else cr + 1
                else:
                    # Why: the LF of a CRLF may arrive in the next chunk.
                    self._skip_lf = True
                    start = cr + 1
            else:
                lines.append(bytes(buf[start:lf]))
                start = lf + 1
        del buf[:start]
        return lines

    def _process_line(self, line: str) -> ServerSentEvent | None:
        if line == "":
            return self._dispatch()
        if line[0] == ":":
            self.comments.append(line[1:].removeprefix(" "))
            return None
        field, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        elif field == "id" and "\x00" not in value:
            self._id_buffer = value
        elif field == "retry" and value.isascii() and value.isdigit():
            self.retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        self.last_event_id = self._id_buffer
        if not self._data:
            self._event = ""
            return None
        event = ServerSentEvent(
            event=self._event or "message",
            data="\n".join(self._data),
            id=self.last_event_id,
            retry=self.retry,
        )
        self._data = []
        self._event = ""
        return event


async def decode_stream(chunks: AsyncIterable[bytes]) -> AsyncIterator[ServerSentEvent]:
    """Decode an async byte stream (e.g. ``httpx.Response.aiter_bytes()``)."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
