import { describe, expect, it } from 'vitest';
import type { EventSourceMessage } from 'eventsource-parser';
import { readEventStream } from './sse';

const encoder = new TextEncoder();

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

async function collect(chunks: Uint8Array[]) {
  const events: EventSourceMessage[] = [];
  const retries: number[] = [];
  await readEventStream(streamOf(chunks), { onEvent: (e) => events.push(e), onRetry: (ms) => retries.push(ms) });
  return { events, retries };
}

const WIRE =
  'retry: 2000\r\n\r\n' +
  'event: content_block_delta\nid: 3-5\ndata: {"delta":{"text":"안녕하세요"}}\n\n' +
  ': a comment\n' +
  'event: content_block_delta\rid: 4-9\rdata: {"delta":{"text":"🙂 ok"}}\r\r' +
  'event: ping\ndata: {"type":"ping"}\n\n' +
  'data: line one\ndata: line two\n\n';

describe('readEventStream', () => {
  it('parses a whole stream', async () => {
    const { events, retries } = await collect([encoder.encode(WIRE)]);
    expect(retries).toEqual([2000]);
    expect(events.map((e) => [e.event, e.id, e.data])).toEqual([
      ['content_block_delta', '3-5', '{"delta":{"text":"안녕하세요"}}'],
      ['content_block_delta', '4-9', '{"delta":{"text":"🙂 ok"}}'],
      ['ping', undefined, '{"type":"ping"}'],
      [undefined, undefined, 'line one\nline two'],
    ]);
  });

  it('gives the same events when split in two at every byte offset', async () => {
    const bytes = encoder.encode(WIRE);
    const { events: expected } = await collect([bytes]);
    for (let offset = 0; offset <= bytes.length; offset++) {
      const { events } = await collect([bytes.slice(0, offset), bytes.slice(offset)]);
      expect(events, `split at byte ${offset}`).toEqual(expected);
    }
  });

  it('gives the same events when every byte is its own chunk', async () => {
    const bytes = encoder.encode(WIRE);
    const { events: expected } = await collect([bytes]);
    const { events } = await collect([...bytes].map((b) => Uint8Array.of(b)));
    expect(events).toEqual(expected);
  });

  it('decodes Korean split inside a UTF-8 sequence without replacement characters', async () => {
    const bytes = encoder.encode('data: 답변 생성중\n\n');
    // '답' is 3 bytes starting at offset 6: cut after its first and second byte.
    const { events } = await collect([bytes.slice(0, 7), bytes.slice(7, 8), bytes.slice(8)]);
    expect(events.map((e) => e.data)).toEqual(['답변 생성중']);
    expect(events[0]?.data).not.toContain('\uFFFD');
  });

  it('ignores a final event without its blank line (incomplete at end of stream)', async () => {
    const { events } = await collect([encoder.encode('data: done\n\ndata: partial')]);
    expect(events.map((e) => e.data)).toEqual(['done']);
  });
});
