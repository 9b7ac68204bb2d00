import { describe, expect, it } from 'vitest';
import type { EventSourceMessage } from 'eventsource-parser';
import { parseStreamEvent } from './events';
import { initialReply, reduceReply, type ReplyEvent } from './reducer';

const wire = (event: string, data: unknown, id = ''): EventSourceMessage => ({
  event,
  id,
  data: typeof data === 'string' ? data : JSON.stringify(data),
});

function fold(events: [ReplyEvent, string | null][]) {
  return events.reduce((state, [event, id]) => reduceReply(state, event, id), initialReply());
}

describe('reduceReply', () => {
  it('folds a whole reply: ids, text, stop reason, last event id', () => {
    const state = fold([
      [{ type: 'message_start', message: { id: 'msg_1', role: 'assistant', model: 'echo', conversation_id: 'conv_1', user_message_id: 'msg_u', chatbot_id: 'echo' } }, '1-0'],
      [{ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, '2-0'],
      [{ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hel' } }, '3-3'],
      [{ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'lo' } }, '4-5'],
      [{ type: 'message_delta', delta: { stop_reason: 'end_turn' } }, '5-5'],
      [{ type: 'message_stop' }, '6-5'],
    ]);
    expect(state).toEqual({
      messageId: 'msg_1',
      userMessageId: 'msg_u',
      conversationId: 'conv_1',
      content: 'Hello',
      stopReason: 'end_turn',
      error: null,
      lastEventId: '6-5',
      finished: true,
    });
  });

  it('is pure: the previous state is untouched, and a no-op event returns it as is', () => {
    const before = initialReply({ content: 'a' });
    const after = reduceReply(before, { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'b' } });
    expect(before.content).toBe('a');
    expect(after.content).toBe('ab');
    expect(reduceReply(after, { type: 'ping' })).toBe(after);
  });

  it('takes the header id only while the reply is unnamed, and a replay starts the text again', () => {
    const named = reduceReply(initialReply(), { type: 'rill_message_id', id: 'msg_h' });
    expect(named.messageId).toBe('msg_h');
    expect(reduceReply(named, { type: 'rill_message_id', id: 'other' })).toBe(named);
    const replayed = reduceReply({ ...named, content: 'stale', lastEventId: '9-9' }, { type: 'rill_replay' });
    expect(replayed).toMatchObject({ messageId: 'msg_h', content: '', lastEventId: null });
  });
});

describe('parseStreamEvent', () => {
  it('types an event by its data, falling back to the SSE event name', () => {
    expect(parseStreamEvent(wire('message_stop', {}))).toEqual({ type: 'message_stop' });
    expect(parseStreamEvent(wire('x', { type: 'ping' }))).toEqual({ type: 'ping' });
  });

  it.each([
    ['broken JSON', wire('content_block_delta', '{"type":"content_block_delta", broken')],
    ['not an object', wire('content_block_delta', '42')],
    ['unknown type', wire('surprise', { type: 'surprise' })],
    ['delta text not a string', wire('content_block_delta', { type: 'content_block_delta', delta: { text: 5 } })],
    ['message_start without id', wire('message_start', { type: 'message_start', message: {} })],
    ['error without body', wire('error', { type: 'error' })],
  ])('skips %s', (_, message) => {
    expect(parseStreamEvent(message)).toBeNull();
  });
});
