"""Server-Sent Events: a byte-exact encoder and a spec-exact incremental decoder."""

from rill.sse.decoder import SSEDecoder, decode_stream
from rill.sse.encoder import comment, encode_event
from rill.sse.event import ServerSentEvent

__all__ = ["SSEDecoder", "ServerSentEvent", "comment", "decode_stream", "encode_event"]
