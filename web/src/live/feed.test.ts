import { describe, expect, it } from 'vitest';
import { addItems, KEEP, parseItem, type FeedItem } from './feed';
import { parseSync } from '../chat/sync';

const item = (id: string, ts: number, extra: Partial<FeedItem> = {}): FeedItem => ({
  id, actor: 'Minji', verb: 'liked', target: 'Trail shoes', ts, private: false, ...extra,
});

describe('live feed', () => {
  it('keeps items newest first, each once, and at most KEEP', () => {
    let list = addItems([], [item('a', 1), item('b', 3)]);
    list = addItems(list, [item('c', 2), item('a', 1), item('c', 2)]);
    expect(list.map((i) => i.id)).toEqual(['b', 'c', 'a']);
    const many = Array.from({ length: KEEP + 50 }, (_, n) => item(`m${n}`, 100 + n));
    const capped = addItems(list, many);
    expect(capped).toHaveLength(KEEP);
    expect(capped[0]!.id).toBe(`m${KEEP + 49}`);
  });

  it('accepts only well-formed items (the hub carries anything)', () => {
    const good = { id: 'x', actor: 'Sam', verb: 'shared', target: 'Packing list', ts: 5, private: true };
    expect(parseItem(good)).toEqual(good);
    for (const bad of [null, 'text', 7, { ...good, verb: 'deleted' }, { ...good, ts: '5' }, { ...good, id: 1 }, {}]) {
      expect(parseItem(bad)).toBeNull();
    }
    expect(parseItem({ ...good, private: 'yes' })?.private).toBe(false);
  });
});

describe('chat sync events', () => {
  it('parses the five kinds and refuses anything else', () => {
    const data = { conversation_id: 'c1', message_id: 'm1', chatbot_id: 'echo', status: 'complete', ts: 9 };
    expect(parseSync('reply_finished', data)).toEqual({
      kind: 'reply_finished', conversationId: 'c1', chatbotId: 'echo', messageId: 'm1', title: null, status: 'complete', ts: 9,
    });
    expect(parseSync('conversation_deleted', { conversation_id: 'c1' })?.chatbotId).toBeNull();
    expect(parseSync('notification', data)).toBeNull();
    expect(parseSync('turn_started', { message_id: 'm1' })).toBeNull();
    expect(parseSync('turn_started', 'x')).toBeNull();
  });
});
