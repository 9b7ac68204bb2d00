/** Regressions of issue 17 in the chat logic (the UI side is in e2e/round2.spec.ts). */
import { act, renderHook, waitFor } from '@testing-library/react';
import type { ReactNode } from 'react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiClient } from '../api/client';
import { backoffDelay } from '../chat/backoff';
import { ChatRegistry } from '../chat/ChatRegistry';
import { FakeServer, conversation_, events, json, message_ } from '../test/fakeServer';
import { ChatProvider } from './ChatContext';
import { useStreamingChat } from './useStreamingChat';

let server: FakeServer;
let registry: ChatRegistry;
const wakers = new Set<() => void>();
const wakeAll = () => [...wakers].forEach((wake) => wake());

function setup(name = 'echo') {
  const wrapper = ({ children }: { children: ReactNode }) => <ChatProvider registry={registry}>{children}</ChatProvider>;
  return renderHook((props: { name: string }) => useStreamingChat(props), { wrapper, initialProps: { name } });
}

beforeEach(() => {
  server = new FakeServer();
  server.conversations = [conversation_('conv_1', 'echo')];
  wakers.clear();
  registry = new ChatRegistry(new ApiClient({ fetch: server.fetch }), {
    schedule: (flush) => setTimeout(flush, 0),
    backoff: { baseMs: 5, capMs: 5 },
    wake: (wake) => {
      wakers.add(wake);
      return () => wakers.delete(wake);
    },
    stopTimeoutMs: 100,
    storage: null,
  });
});

afterEach(() => vi.restoreAllMocks());

const chatPosts = () => server.requests.filter((r) => r.path === '/api/chat');

describe('issue 17 regressions', () => {
  it('bug 1: refuses to send before history has loaded, so a turn never lands in an unseen conversation', async () => {
    server.history = [message_(0), message_(1)];
    const fetch = server.fetch;
    let down = true;
    registry = new ChatRegistry(
      new ApiClient({ fetch: (input, init) => (down ? Promise.reject(new TypeError('Failed to fetch')) : fetch(input, init)) }),
      { schedule: (flush) => setTimeout(flush, 0), storage: null },
    );
    const { result } = setup();
    await waitFor(() => expect(result.current.error?.retry).toBe('init'));
    expect(result.current.isReady).toBe(false);
    down = false;
    let sent = true;
    act(() => {
      sent = result.current.send('hello');
    });
    expect(sent).toBe(false);
    expect(chatPosts()).toHaveLength(0);

    act(() => result.current.retry());
    await waitFor(() => expect(result.current.isReady).toBe(true));
    expect(result.current.messages).toHaveLength(2);
    act(() => void result.current.send('hello'));
    await waitFor(() => expect(chatPosts()).toHaveLength(1));
    expect(chatPosts()[0]!.body).toMatchObject({ conversationId: 'conv_1', message: 'hello' });
  });

  it('bug 2: keeps reconnecting through a long outage and tries again at once when the browser is back online', async () => {
    registry = new ChatRegistry(new ApiClient({ fetch: server.fetch }), {
      schedule: (flush) => setTimeout(flush, 0),
      // A minute between attempts: only the wake-up can make the test proceed.
      backoff: { baseMs: 60_000, capMs: 60_000 },
      wake: (wake) => {
        wakers.add(wake);
        return () => wakers.delete(wake);
      },
      storage: null,
    });
    let resumes = 0;
    server.onResume = () => {
      resumes += 1;
      if (resumes <= 8) throw new TypeError('Failed to fetch');
      return server.streamResponse();
    };
    const { result } = setup();
    await waitFor(() => expect(result.current.isReady).toBe(true));
    act(() => void result.current.send('x'));
    await waitFor(() => expect(server.streams).toHaveLength(1));
    server.lastStream.push(events.start('msg_d') + events.delta('3-3', 'one'));
    await waitFor(() => expect(result.current.messages.at(-1)?.content).toBe('one'));
    server.lastStream.fail();
    // Eight failed attempts (the old loop gave up after five), each started by an `online` event.
    for (let i = 1; i <= 9; i++) {
      await waitFor(() => expect(wakers.size).toBe(1));
      expect(result.current.isReconnecting).toBe(true);
      expect(result.current.error).toBeNull();
      act(() => wakeAll());
      await waitFor(() => expect(resumes).toBe(i));
    }
    await waitFor(() => expect(server.streams).toHaveLength(2));
    expect(server.requests.at(-1)!.headers.get('Last-Event-ID')).toBe('3-3');
    server.lastStream.push(events.delta('4-7', ' two') + events.end(5, 7));
    server.lastStream.close();
    await waitFor(() => expect(result.current.isStreaming).toBe(false));
    expect(result.current.messages.at(-1)).toMatchObject({ content: 'one two', status: 'complete' });
  });

  it('bug 2: the backoff doubles up to its cap, with jitter within [half, whole]', () => {
    const backoff = { baseMs: 500, capMs: 10_000 };
    expect([0, 1, 2, 3, 4, 5, 10, 100].map((n) => backoffDelay(n, backoff, () => 1))).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
    expect(backoffDelay(3, backoff, () => 0)).toBe(2000);
    for (let i = 0; i < 100; i++) {
      const delay = backoffDelay(6, backoff);
      expect(delay).toBeGreaterThanOrEqual(5000);
      expect(delay).toBeLessThanOrEqual(10_000);
    }
  });

  it('bug 5: New chat creates no conversation until its first message, which creates it with a title', async () => {
    const { result } = setup();
    await waitFor(() => expect(result.current.isReady).toBe(true));
    for (let i = 0; i < 3; i++) await act(() => result.current.newChat());
    expect(server.requests.filter((r) => r.path === '/api/conversations' && r.method === 'POST')).toHaveLength(0);
    await waitFor(() => expect(result.current.conversationId).toBeNull());
    expect(result.current.messages).toHaveLength(0);

    act(() => void result.current.send('Plan a trip to Busan'));
    await waitFor(() => expect(chatPosts()).toHaveLength(1));
    const created = server.requests.filter((r) => r.path === '/api/conversations' && r.method === 'POST');
    expect(created.map((r) => r.body)).toEqual([{ chatbotId: 'echo', title: 'Plan a trip to Busan' }]);
    expect(chatPosts()[0]!.body).toMatchObject({ conversationId: 'conv_2' });
    expect(result.current.conversationId).toBe('conv_2');
    expect(result.current.conversations.map((c) => c.id)).toEqual(['conv_2', 'conv_1']);
  });

  it('bug 8: a rate-limited send cannot be retried before Retry-After has passed', async () => {
    server.onChat = () =>
      new Response(JSON.stringify({ title: 'Too Many Requests', status: 429, detail: 'slow down' }), {
        status: 429,
        headers: { 'Content-Type': 'application/problem+json', 'Retry-After': '7' },
      });
    const { result } = setup();
    await waitFor(() => expect(result.current.isReady).toBe(true));
    const start = Date.now();
    act(() => void result.current.send('x'));
    await waitFor(() => expect(result.current.error?.kind).toBe('rateLimited'));
    const retryAt = result.current.error!.retryAt!;
    expect(retryAt - start).toBeGreaterThanOrEqual(7000);
    expect(retryAt - start).toBeLessThan(8000);
    act(() => result.current.retry());
    expect(chatPosts()).toHaveLength(1);
    expect(result.current.error?.kind).toBe('rateLimited');

    vi.spyOn(Date, 'now').mockReturnValue(retryAt + 1);
    server.onChat = null;
    act(() => result.current.retry());
    await waitFor(() => expect(chatPosts()).toHaveLength(2));
  });

  it('bug 6/2: a refused request says what went wrong by kind, so the UI can say it in Korean', async () => {
    server.onChat = () => json({ title: 'Payload Too Large', status: 413, detail: 'the body is over 65536 bytes' }, 413);
    const { result } = setup();
    await waitFor(() => expect(result.current.isReady).toBe(true));
    act(() => void result.current.send('x'));
    await waitFor(() => expect(result.current.error).not.toBeNull());
    expect(result.current.error).toMatchObject({ kind: 'tooLarge', retry: null });
  });

  it('feature: browse another conversation while a reply streams; it continues in the background', async () => {
    server.conversations.push(conversation_('conv_2', 'echo'));
    server.history = [message_(0, { id: 'm2_u', conversationId: 'conv_2', content: 'older question' })];
    const { result } = setup();
    await waitFor(() => expect(result.current.isReady).toBe(true));
    act(() => void result.current.send('long one'));
    await waitFor(() => expect(server.streams).toHaveLength(1));
    server.lastStream.push(events.start('msg_bg') + events.delta('3-4', 'part'));
    await waitFor(() => expect(result.current.messages.at(-1)?.content).toBe('part'));

    await act(() => result.current.selectConversation('conv_2'));
    await waitFor(() => expect(result.current.messages.map((m) => m.content)).toEqual(['older question']));
    expect(result.current.conversationId).toBe('conv_2');
    expect(result.current).toMatchObject({ isStreaming: true, streamingConversationId: 'conv_1' });
    server.lastStream.push(events.delta('4-9', ' more'));
    await new Promise((r) => setTimeout(r, 20));
    expect(result.current.messages.map((m) => m.content)).toEqual(['older question']);

    // Back in its conversation, the reply shows what arrived meanwhile and goes on.
    server.history.push(
      message_(1, { id: 'msg_bg_user', role: 'user', content: 'long one' }),
      message_(2, { id: 'msg_bg', role: 'assistant', content: 'pa', status: 'streaming', stopReason: null }),
    );
    await act(() => result.current.selectConversation('conv_1'));
    await waitFor(() => expect(result.current.messages.at(-1)).toMatchObject({ id: 'msg_bg', content: 'part more', status: 'streaming' }));
    server.lastStream.push(events.delta('5-14', ' done') + events.end(6, 14));
    server.lastStream.close();
    await waitFor(() => expect(result.current.isStreaming).toBe(false));
    expect(result.current.messages.map((m) => [m.id, m.content])).toEqual([
      ['msg_bg_user', 'long one'],
      ['msg_bg', 'part more done'],
    ]);
  });
});
