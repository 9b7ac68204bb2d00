import { act, renderHook, waitFor } from '@testing-library/react';
import type { ReactNode } from 'react';
import { beforeEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../api/client';
import { ChatRegistry } from '../chat/ChatRegistry';
import type { ChatMessage } from '../chat/types';
import { FakeServer, conversation_, events, json, message_, sseEvent } from '../test/fakeServer';
import { ChatProvider } from './ChatContext';
import { useStreamingChat } from './useStreamingChat';

let server: FakeServer;
let registry: ChatRegistry;

function setup(name = 'echo') {
  const wrapper = ({ children }: { children: ReactNode }) => <ChatProvider registry={registry}>{children}</ChatProvider>;
  return renderHook((props: { name: string }) => useStreamingChat(props), { wrapper, initialProps: { name } });
}

async function ready(result: { current: { isReady: boolean } }) {
  await waitFor(() => expect(result.current.isReady).toBe(true));
}

const bot = (result: { current: { messages: readonly ChatMessage[] } }) =>
  result.current.messages.filter((m) => m.role === 'assistant').at(-1);

beforeEach(() => {
  server = new FakeServer();
  server.conversations = [conversation_('conv_1', 'echo')];
  registry = new ChatRegistry(new ApiClient({ fetch: server.fetch }), {
    schedule: (flush) => setTimeout(flush, 0),
    backoff: { baseMs: 5, capMs: 5 },
    stopTimeoutMs: 100,
    storage: sessionStorage,
  });
});

describe('useStreamingChat', () => {
  it('shows the reply as it streams', async () => {
    const { result } = setup();
    await ready(result);
    act(() => void result.current.send('Hello world'));
    await waitFor(() => expect(server.streams).toHaveLength(1));
    const post = server.requests.find((r) => r.path === '/api/chat')!;
    expect(post.headers.get('Accept')).toBe('text/event-stream');
    expect(post.body).toEqual({ chatbotId: 'echo', message: 'Hello world', conversationId: 'conv_1' });

    server.lastStream.push(events.start('msg_b'));
    server.lastStream.push(events.delta('3-6', 'Hello '));
    await waitFor(() => expect(bot(result)).toMatchObject({ id: 'msg_b', content: 'Hello ', status: 'streaming' }));
    expect(result.current.isStreaming).toBe(true);
    expect(result.current.streamingMessageId).toBe('msg_b');
    expect(result.current.messages.map((m) => [m.id, m.role, m.content])).toEqual([
      ['msg_b_user', 'user', 'Hello world'],
      ['msg_b', 'assistant', 'Hello '],
    ]);

    server.lastStream.push(events.delta('4-11', 'world'));
    server.lastStream.push(events.end(5, 11));
    server.lastStream.close();
    await waitFor(() => expect(result.current.isStreaming).toBe(false));
    expect(bot(result)).toMatchObject({ content: 'Hello world', status: 'complete', stopReason: 'end_turn' });
    expect(sessionStorage.getItem('rill:inflight:echo')).toBeNull();
  });

  it('publishes at most one state per scheduled frame', async () => {
    const frames: (() => void)[] = [];
    registry = new ChatRegistry(new ApiClient({ fetch: server.fetch }), { schedule: (f) => frames.push(f) });
    const { result } = setup();
    await waitFor(() => expect(frames.length).toBeGreaterThan(0));
    const tick = () => act(() => frames.splice(0).forEach((f) => f()));
    await waitFor(() => {
      tick();
      expect(result.current.isReady).toBe(true);
    });
    act(() => void result.current.send('x'));
    await waitFor(() => expect(server.streams).toHaveLength(1));
    server.lastStream.push(events.start('msg_b'));
    for (let i = 0; i < 50; i++) server.lastStream.push(events.delta(`${i + 3}-${i + 1}`, 'a'));
    await new Promise((r) => setTimeout(r, 20));
    expect(frames).toHaveLength(1); // 50 deltas, one pending update
    const before = result.current;
    tick();
    expect(result.current).not.toBe(before);
    expect(bot(result)?.content).toBe('a'.repeat(50));
  });

  it('keeps the partial reply after Stop', async () => {
    const { result } = setup();
    await ready(result);
    act(() => void result.current.send('a long one'));
    await waitFor(() => expect(server.streams).toHaveLength(1));
    server.lastStream.push(events.start('msg_s') + events.delta('3-4', 'a lo'));
    await waitFor(() => expect(bot(result)?.content).toBe('a lo'));

    act(() => result.current.stop());
    await waitFor(() => expect(server.cancelled).toEqual(['msg_s']));
    expect(result.current.isStopping).toBe(true);
    server.lastStream.push(events.delta('4-6', 'ng'));
    server.lastStream.push(events.end(5, 6, 'cancelled'));
    server.lastStream.close();
    await waitFor(() => expect(result.current.isStreaming).toBe(false));
    expect(bot(result)).toMatchObject({ content: 'a long', status: 'cancelled', stopReason: 'cancelled' });
    expect(result.current.isStopping).toBe(false);
  });

  it('aborts locally when the server does not end the stream after Stop', async () => {
    const { result } = setup();
    await ready(result);
    act(() => void result.current.send('x'));
    await waitFor(() => expect(server.streams).toHaveLength(1));
    server.lastStream.push(events.start('msg_h') + events.delta('3-3', 'abc'));
    await waitFor(() => expect(bot(result)?.content).toBe('abc'));
    act(() => result.current.stop());
    await waitFor(() => expect(result.current.isStreaming).toBe(false));
    expect(bot(result)).toMatchObject({ content: 'abc', status: 'cancelled' });
  });

  it('stops a reply before message_start by cancelling it as soon as it is named', async () => {
    const { result } = setup();
    await ready(result);
    act(() => void result.current.send('x'));
    await waitFor(() => expect(server.streams).toHaveLength(1));
    act(() => result.current.stop());
    server.lastStream.push(events.start('msg_early'));
    await waitFor(() => expect(server.cancelled).toEqual(['msg_early']));
  });

  it('shows an error event and ends the reply', async () => {
    const { result } = setup();
    await ready(result);
    act(() => void result.current.send('x'));
    await waitFor(() => expect(server.streams).toHaveLength(1));
    server.lastStream.push(events.start('msg_e') + events.delta('3-4', 'part'));
    server.lastStream.push(events.error('4-4', 'upstream timed out'));
    server.lastStream.push(events.end(5, 4, 'error'));
    server.lastStream.close();
    await waitFor(() => expect(result.current.isStreaming).toBe(false));
    expect(bot(result)).toMatchObject({ content: 'part', status: 'error', error: 'upstream timed out' });
  });

  it('skips a malformed event without ending the stream', async () => {
    const { result } = setup();
    await ready(result);
    act(() => void result.current.send('x'));
    await waitFor(() => expect(server.streams).toHaveLength(1));
    server.lastStream.push(events.start('msg_m') + events.delta('3-1', 'a'));
    server.lastStream.push(sseEvent('4-1', 'content_block_delta', '{"type":"content_block_delta", broken'));
    server.lastStream.push(events.delta('5-2', 'b') + events.end(6, 2));
    server.lastStream.close();
    await waitFor(() => expect(result.current.isStreaming).toBe(false));
    expect(bot(result)).toMatchObject({ content: 'ab', status: 'complete' });
    expect(result.current.error).toBeNull();
  });

  it('shows the problem+json detail of a refused request', async () => {
    server.onChat = () => json({ type: 'https://rill.dev/problems/rate-limited', title: 'Too Many Requests', status: 429, detail: 'Slow down: 3 replies at once' }, 429);
    const { result } = setup();
    await ready(result);
    act(() => void result.current.send('x'));
    await waitFor(() => expect(result.current.error).not.toBeNull());
    expect(result.current.error).toMatchObject({ message: 'Slow down: 3 replies at once', kind: 'rateLimited', retry: 'send' });
    expect(result.current.isStreaming).toBe(false);
    expect(result.current.messages).toHaveLength(1);
    expect(result.current.messages[0]).toMatchObject({ role: 'user', status: 'failed' });
  });

  it('offers a retry after a network failure, and retrying sends again', async () => {
    let calls = 0;
    server.onChat = (request) => {
      calls += 1;
      if (calls === 1) throw new TypeError('Failed to fetch');
      void request;
      return server.streamResponse();
    };
    const { result } = setup();
    await ready(result);
    act(() => void result.current.send('again'));
    await waitFor(() => expect(result.current.error?.retry).toBe('send'));
    act(() => result.current.retry());
    await waitFor(() => expect(server.streams).toHaveLength(1));
    server.lastStream.push(events.start('msg_r') + events.delta('3-2', 'ok') + events.end(4, 2));
    server.lastStream.close();
    await waitFor(() => expect(result.current.isStreaming).toBe(false));
    expect(result.current.messages.map((m) => [m.role, m.content, m.status])).toEqual([
      ['user', 'again', 'complete'],
      ['assistant', 'ok', 'complete'],
    ]);
    expect(result.current.error).toBeNull();
  });

  it('reconnects with Last-Event-ID when the connection drops, without duplicating text', async () => {
    const { result } = setup();
    await ready(result);
    act(() => void result.current.send('x'));
    await waitFor(() => expect(server.streams).toHaveLength(1));
    server.lastStream.push(events.start('msg_d') + events.delta('3-3', 'one') + events.delta('4-7', ' two'));
    await waitFor(() => expect(bot(result)?.content).toBe('one two'));
    server.lastStream.fail();
    await waitFor(() => expect(server.streams).toHaveLength(2));
    const resume = server.requests.at(-1)!;
    expect(resume.path).toBe('/api/chat/msg_d/stream');
    expect(resume.headers.get('Last-Event-ID')).toBe('4-7');
    server.lastStream.push(events.delta('5-13', ' three') + events.end(6, 13));
    server.lastStream.close();
    await waitFor(() => expect(result.current.isStreaming).toBe(false));
    expect(bot(result)).toMatchObject({ content: 'one two three', status: 'complete' });
  });

  it('resumes a reply whose connection dropped before message_start, using X-Rill-Message-Id', async () => {
    server.onChat = () => {
      const response = server.streamResponse();
      return new Response(response.body, { status: 200, headers: { 'Content-Type': 'text/event-stream', 'X-Rill-Message-Id': 'msg_hdr' } });
    };
    const { result } = setup();
    await ready(result);
    act(() => void result.current.send('x'));
    await waitFor(() => expect(server.streams).toHaveLength(1));
    server.lastStream.fail();
    await waitFor(() => expect(server.streams).toHaveLength(2));
    expect(server.requests.at(-1)!.path).toBe('/api/chat/msg_hdr/stream');
    expect(server.requests.at(-1)!.headers.get('Last-Event-ID')).toBeNull();
    server.lastStream.push(events.start('msg_hdr') + events.delta('3-1', 'x') + events.end(4, 1));
    server.lastStream.close();
    await waitFor(() => expect(result.current.isStreaming).toBe(false));
    expect(result.current.messages.map((m) => [m.id, m.content])).toEqual([
      ['msg_hdr_user', 'x'],
      ['msg_hdr', 'x'],
    ]);
  });

  it('resumes a reply left mid-stream by a page reload', async () => {
    server.history = [message_(0, { id: 'msg_u', content: 'hi' }), message_(1, { id: 'msg_x', content: 'Hel', status: 'streaming', stopReason: null })];
    sessionStorage.setItem(
      'rill:inflight:echo',
      JSON.stringify({ messageId: 'msg_x', lastEventId: '4-8', content: 'Hello wo', conversationId: 'conv_1', createdAt: '2025-01-01T00:00:01Z' }),
    );
    const { result } = setup();
    await waitFor(() => expect(server.streams).toHaveLength(1));
    expect(server.requests.at(-1)!.headers.get('Last-Event-ID')).toBe('4-8');
    expect(result.current.isStreaming).toBe(true);
    server.lastStream.push(events.delta('5-11', 'rld') + events.end(6, 11));
    server.lastStream.close();
    await waitFor(() => expect(result.current.isStreaming).toBe(false));
    expect(result.current.messages.map((m) => m.content)).toEqual(['hi', 'Hello world']);
  });

  it('replays a reply from its start when the saved event id is unknown to the server (422)', async () => {
    server.history = [message_(0, { id: 'msg_u' }), message_(1, { id: 'msg_x', content: 'Hel', status: 'streaming', stopReason: null })];
    sessionStorage.setItem(
      'rill:inflight:echo',
      JSON.stringify({ messageId: 'msg_x', lastEventId: '99-99', content: 'garbage', conversationId: 'conv_1', createdAt: '2025-01-01T00:00:01Z' }),
    );
    let calls = 0;
    server.onResume = () => {
      calls += 1;
      return calls === 1 ? json({ title: 'Invalid input', status: 422, detail: 'unknown event id' }, 422) : server.streamResponse();
    };
    const { result } = setup();
    await waitFor(() => expect(server.streams).toHaveLength(1));
    expect(server.requests.at(-1)!.headers.get('Last-Event-ID')).toBeNull();
    server.lastStream.push(events.start('msg_x', 'conv_1', 'msg_u') + events.delta('3-5', 'Hello') + events.end(4, 5));
    server.lastStream.close();
    await waitFor(() => expect(result.current.isStreaming).toBe(false));
    expect(bot(result)).toMatchObject({ id: 'msg_x', content: 'Hello', status: 'complete' });
    expect(result.current.error).toBeNull();
  });

  it('keeps a stream in its own bot when switching bots mid-stream', async () => {
    server.conversations.push(conversation_('conv_g', 'guide'));
    server.history = [message_(0, { id: 'g_u', chatbotId: 'guide', conversationId: 'conv_g', content: 'guide question' })];
    const { result, rerender } = setup('echo');
    await ready(result);
    act(() => void result.current.send('to echo'));
    await waitFor(() => expect(server.streams).toHaveLength(1));
    const echoStream = server.lastStream;
    echoStream.push(events.start('msg_echo') + events.delta('3-2', 'to'));
    await waitFor(() => expect(bot(result)?.content).toBe('to'));

    rerender({ name: 'guide' });
    await ready(result);
    expect(result.current.chatbotId).toBe('guide');
    expect(result.current.isStreaming).toBe(false);
    echoStream.push(events.delta('4-5', ' ec'));
    await new Promise((r) => setTimeout(r, 20));
    expect(result.current.messages.map((m) => m.content)).toEqual(['guide question']);

    echoStream.push(events.delta('5-7', 'ho') + events.end(6, 7));
    echoStream.close();
    await waitFor(() => expect(registry.get('echo').getSnapshot().isStreaming).toBe(false));
    rerender({ name: 'echo' });
    expect(result.current.chatbotId).toBe('echo');
    expect(result.current.messages.map((m) => m.content)).toEqual(['to echo', 'to echo']);
  });

  it('decodes a Korean reply split inside UTF-8 sequences', async () => {
    const { result } = setup();
    await ready(result);
    act(() => void result.current.send('안녕'));
    await waitFor(() => expect(server.streams).toHaveLength(1));
    const bytes = new TextEncoder().encode(events.start('msg_k') + events.delta('3-5', '안녕하세요') + events.delta('4-11', ' 반가워요') + events.end(5, 11));
    // Cut inside every syllable: 1 byte at a time around the Korean text.
    for (let i = 0; i < bytes.length; i += 2) server.lastStream.push(bytes.slice(i, i + 2));
    server.lastStream.close();
    await waitFor(() => expect(result.current.isStreaming).toBe(false));
    expect(bot(result)?.content).toBe('안녕하세요 반가워요');
  });

  it('pages history upward, merging without duplicates in time order', async () => {
    server.history = Array.from({ length: 50 }, (_, n) => message_(n));
    const { result } = setup();
    await ready(result);
    expect(result.current.messages).toHaveLength(20);
    expect(result.current.hasMoreHistory).toBe(true);
    await act(() => result.current.loadOlder());
    await act(() => result.current.loadOlder());
    expect(result.current.hasMoreHistory).toBe(false);
    const ids = result.current.messages.map((m) => m.id);
    expect(ids).toEqual(server.history.map((m) => m.id));
    expect(new Set(ids).size).toBe(50);
  });

  it('regenerates the last reply in place; the old one stays an earlier version', async () => {
    server.history = [message_(0, { id: 'msg_u', content: 'q' }), message_(1, { id: 'msg_old', content: 'old answer', parentId: 'msg_u' })];
    const { result } = setup();
    await ready(result);
    act(() => void result.current.regenerate());
    await waitFor(() => expect(server.streams).toHaveLength(1));
    expect(server.requests.find((r) => r.path === '/api/chat')!.body).toEqual({ chatbotId: 'echo', conversationId: 'conv_1', regenerate: true });
    // While it streams, the new reply already counts the old one among its versions.
    await waitFor(() => expect(bot(result)?.versions).toHaveLength(2));
    expect(bot(result)?.versions[0]).toBe('msg_old');
    server.lastStream.push(events.start('msg_new', 'conv_1', 'msg_u') + events.delta('3-3', 'new'));
    await waitFor(() => expect(bot(result)).toMatchObject({ id: 'msg_new', versions: ['msg_old', 'msg_new'] }));
    // What the server's history says once the reply is done: the new reply on the path.
    server.history = [server.history[0]!, message_(1, { id: 'msg_new', content: 'new', parentId: 'msg_u', versions: ['msg_old', 'msg_new'] })];
    const pages = server.requests.filter((r) => r.path.startsWith('/api/history')).length;
    server.lastStream.push(events.end(4, 3));
    server.lastStream.close();
    await waitFor(() => expect(result.current.isStreaming).toBe(false));
    // The end reloads the newest page, so the switcher's numbers come from the server.
    await waitFor(() => expect(server.requests.filter((r) => r.path.startsWith('/api/history')).length).toBe(pages + 1));
    expect(result.current.messages.map((m) => [m.id, m.content, m.versions])).toEqual([
      ['msg_u', 'q', ['msg_u']],
      ['msg_new', 'new', ['msg_old', 'msg_new']],
    ]);
  });
});
