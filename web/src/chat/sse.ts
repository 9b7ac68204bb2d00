import { createParser, type EventSourceMessage } from 'eventsource-parser';

export interface EventStreamHandlers {
  onEvent: (message: EventSourceMessage) => void;
  onRetry?: (ms: number) => void;
}

/**
 * Reads a `text/event-stream` body to its end, feeding a spec-exact parser.
 *
 * Why a streaming TextDecoder: a chunk may end inside a multi-byte UTF-8
 * sequence (Korean is 3 bytes per syllable); `stream: true` keeps the partial
 * bytes for the next chunk instead of emitting U+FFFD.
 */
export async function readEventStream(
  body: ReadableStream<Uint8Array>,
  handlers: EventStreamHandlers,
  signal?: AbortSignal,
): Promise<void> {
  const parser = createParser({
    onEvent: handlers.onEvent,
    onRetry: handlers.onRetry,
    onError: () => {
      // A malformed field line is ignored, as the SSE specification says.
    },
  });
  const decoder = new TextDecoder('utf-8');
  const reader = body.getReader();
  const onAbort = () => {
    void reader.cancel().catch(() => undefined);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (signal?.aborted) throw new DOMException('Aborted', 'AbortError');
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
    const rest = decoder.decode();
    if (rest) parser.feed(rest);
    if (signal?.aborted) throw new DOMException('Aborted', 'AbortError');
  } finally {
    signal?.removeEventListener('abort', onAbort);
    try {
      reader.releaseLock();
    } catch {
      // already released by cancel()
    }
  }
}
