/** Chat sync (issue 17): events from the user's other tabs applied to a session. */
import { act, renderHook, waitFor } from '@testing-library/react';
import type { ReactNode } from 'react';
import { beforeEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../api/client';
import { ChatRegistry } from '../chat/ChatRegistry';
import { parseSync, type SyncEvent } from '../chat/sync';
import { FakeServer, conversation_, events, message_ } from '../test/fakeServer';
import { ChatProvider } from './ChatContext';
import { useStreamingChat } from './useStreamingChat';

let server: FakeServer;
let registry: ChatRegistry;

function setup() {
  const wrapper = ({ children }: { children: ReactNode }) => <ChatProvider registry={registry}>{children}</ChatProvider>;
  return renderHook(() => useStreamingChat({ name: 'echo' }), { wrapper });
}

const sync = (kind: string, data: Record<string, unknown>): SyncEvent => parseSync(kind, { ts: Date.now(), ...data })!;

beforeEach(() => {
  server = new FakeServer();
  server.conversations = [conversation_('conv_1', 'echo'), conversation_('conv_2', 'echo')];
  server.history = [message_(0), message_(1)];
  registry = new ChatRegistry(new ApiClient({ fetch: server.fetch }), { schedule: (flush) => setTimeout(flush, 0), storage: null });
});

describe('chat sync', () => {
  it('a turn started elsewhere in the shown conversation shows and its reply is joined', async () => {
    const { result } = setup();
    await waitFor(() => expect(result.current.isReady).toBe(true));
    server.history.push(message_(2, { content: 'from the other tab' }), message_(3, { id: 'msg_new', content: '', status: 'streaming' }));
    act(() => registry.applySync(sync('turn_started', { conversation_id: 'conv_1', message_id: 'msg_new', chatbot_id: 'echo' })));
    await waitFor(() => expect(server.streams).toHaveLength(1));
    expect(server.requests.some((r) => r.path === '/api/chat/msg_new/stream')).toBe(true);
    await act(async () => {
      server.lastStream.push(events.start('msg_new') + events.delta('3-5', 'hello') + events.end(4, 5));
      server.lastStream.close();
    });
    await waitFor(() => expect(result.current.messages.at(-1)).toMatchObject({ id: 'msg_new', content: 'hello', status: 'complete' }));
    expect(result.current.messages.some((m) => m.content === 'from the other tab')).toBe(true);
  });

  it('a second reply started elsewhere while this tab streams its own shows live when its conversation is opened', async () => {
    const { result } = setup();
    await waitFor(() => expect(result.current.isReady).toBe(true));
    // This tab's own reply streams in conv_1.
    act(() => void result.current.send('mine'));
    await waitFor(() => expect(server.streams).toHaveLength(1));
    const mine = server.lastStream;
    mine.push(events.start('msg_mine', 'conv_1', 'msg_mine_user') + events.delta('3-2', 'my'));
    await waitFor(() => expect(result.current.streamingMessageId).toBe('msg_mine'));

    // Another tab starts a reply in conv_2; this tab opens conv_2 while its own reply goes on.
    server.history.push(
      message_(10, { id: 'msg_q2', conversationId: 'conv_2', content: 'from the other tab' }),
      message_(11, { id: 'msg_a2', conversationId: 'conv_2', content: 'so f', status: 'streaming' }),
    );
    act(() => registry.applySync(sync('turn_started', { conversation_id: 'conv_2', message_id: 'msg_a2', chatbot_id: 'echo' })));
    await act(() => result.current.selectConversation('conv_2'));
    await waitFor(() => expect(server.requests.some((r) => r.path === '/api/chat/msg_a2/stream')).toBe(true));
    const theirs = server.lastStream;
    await act(async () => {
      theirs.push(events.start('msg_a2', 'conv_2', 'msg_q2') + events.delta('3-5', 'so far') + events.delta('4-10', ' and on'));
    });
    await waitFor(() => expect(result.current.messages.at(-1)).toMatchObject({ id: 'msg_a2', content: 'so far and on', status: 'streaming' }));
    await act(async () => {
      theirs.push(events.end(5, 10));
      theirs.close();
    });
    await waitFor(() => expect(result.current.messages.at(-1)).toMatchObject({ id: 'msg_a2', status: 'complete', stopReason: 'end_turn' }));
    // This tab's own reply was never disturbed: still its run, still streaming in conv_1.
    expect(result.current.streamingMessageId).toBe('msg_mine');
    expect(result.current.streamingConversationId).toBe('conv_1');
    mine.push(events.delta('4-5', ' own') + events.end(5, 5));
    mine.close();
    await waitFor(() => expect(result.current.isStreaming).toBe(false));
  });

  it('renames and deletions from elsewhere change the list; deleting the shown one shows the next', async () => {
    const { result } = setup();
    await waitFor(() => expect(result.current.isReady).toBe(true));
    act(() => registry.applySync(sync('conversation_renamed', { conversation_id: 'conv_2', chatbot_id: 'echo', title: 'Renamed' })));
    await waitFor(() => expect(result.current.conversations.find((c) => c.id === 'conv_2')?.title).toBe('Renamed'));
    server.conversations = server.conversations.filter((c) => c.id !== 'conv_1');
    act(() => registry.applySync(sync('conversation_deleted', { conversation_id: 'conv_1' })));
    await waitFor(() => expect(result.current.conversationId).toBe('conv_2'));
    expect(result.current.conversations.map((c) => c.id)).toEqual(['conv_2']);
  });
});
