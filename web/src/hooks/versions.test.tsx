/** Edit & resend, regenerate and the version switcher (issue 17): the session's side. */
import { act, renderHook, waitFor } from '@testing-library/react';
import type { ReactNode } from 'react';
import { beforeEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../api/client';
import type { Message } from '../api/types';
import { ChatRegistry } from '../chat/ChatRegistry';
import { parseSync, type SyncEvent } from '../chat/sync';
import type { ChatMessage } from '../chat/types';
import { FakeServer, conversation_, events, json, message_ } from '../test/fakeServer';
import { ChatProvider } from './ChatContext';
import { useStreamingChat } from './useStreamingChat';

let server: FakeServer;
let registry: ChatRegistry;

function setup() {
  const wrapper = ({ children }: { children: ReactNode }) => <ChatProvider registry={registry}>{children}</ChatProvider>;
  return renderHook(() => useStreamingChat({ name: 'echo' }), { wrapper });
}

async function ready(result: { current: { isReady: boolean } }) {
  await waitFor(() => expect(result.current.isReady).toBe(true));
}

const shown = (messages: readonly ChatMessage[]) => messages.map((m) => [m.id, m.content, m.versions.join(',')]);
const chatPosts = () => server.requests.filter((r) => r.path === '/api/chat');
const historyLoads = () => server.requests.filter((r) => r.path.startsWith('/api/history')).length;

// A conversation of two turns: q1 → a1, q2 → a2.
const q1 = message_(0, { id: 'msg_q1', content: 'first question', parentId: null });
const a1 = message_(1, { id: 'msg_a1', content: 'first answer', parentId: 'msg_q1' });
const q2 = message_(2, { id: 'msg_q2', content: 'second question', parentId: 'msg_a1' });
const a2 = message_(3, { id: 'msg_a2', content: 'second answer', parentId: 'msg_q2' });

beforeEach(() => {
  server = new FakeServer();
  server.conversations = [conversation_('conv_1', 'echo')];
  server.history = [q1, a1, q2, a2];
  registry = new ChatRegistry(new ApiClient({ fetch: server.fetch }), {
    schedule: (flush) => setTimeout(flush, 0),
    backoff: { baseMs: 5, capMs: 5 },
    storage: null,
  });
});

describe('edit & resend', () => {
  it('sends the edit, shows it in the old message’s place without the old tail, then takes the server’s path', async () => {
    const { result } = setup();
    await ready(result);
    let started = false;
    act(() => {
      started = result.current.edit('msg_q1', '  a better first question ');
    });
    expect(started).toBe(true);
    await waitFor(() => expect(server.streams).toHaveLength(1));
    expect(chatPosts()[0]!.body).toEqual({ chatbotId: 'echo', conversationId: 'conv_1', message: 'a better first question', editOf: 'msg_q1' });
    // The old question and everything under it left the thread; the edit counts as version 2 of 2.
    await waitFor(() => expect(result.current.messages).toHaveLength(2));
    const [user, bot] = result.current.messages;
    expect(user).toMatchObject({ role: 'user', content: 'a better first question' });
    expect(user!.versions).toEqual(['msg_q1', user!.id]);
    expect(bot).toMatchObject({ role: 'assistant', status: 'streaming' });

    server.lastStream.push(events.start('msg_a1b', 'conv_1', 'msg_q1b') + events.delta('3-5', 'fresh'));
    await waitFor(() => expect(result.current.messages[0]).toMatchObject({ id: 'msg_q1b', versions: ['msg_q1', 'msg_q1b'] }));
    server.history = [
      message_(0, { id: 'msg_q1b', content: 'a better first question', parentId: null, versions: ['msg_q1', 'msg_q1b'] }),
      message_(1, { id: 'msg_a1b', content: 'fresh', parentId: 'msg_q1b' }),
    ];
    const loads = historyLoads();
    server.lastStream.push(events.end(4, 5));
    server.lastStream.close();
    await waitFor(() => expect(historyLoads()).toBe(loads + 1));
    await waitFor(() => expect(result.current.isStreaming).toBe(false));
    expect(shown(result.current.messages)).toEqual([
      ['msg_q1b', 'a better first question', 'msg_q1,msg_q1b'],
      ['msg_a1b', 'fresh', 'msg_a1b'],
    ]);
  });

  it('a failed edit puts the thread back as it was, and Retry sends the edit again', async () => {
    server.onChat = () => json({ title: 'Service Unavailable', status: 503, detail: 'busy' }, 503);
    const { result } = setup();
    await ready(result);
    act(() => void result.current.edit('msg_q2', 'second question, edited'));
    await waitFor(() => expect(result.current.error?.retry).toBe('send'));
    expect(shown(result.current.messages)).toEqual(shown([q1, a1, q2, a2].map((m) => ({ ...m, versions: [m.id] }) as unknown as ChatMessage)));
    expect(result.current.isStreaming).toBe(false);

    server.onChat = null;
    act(() => result.current.retry());
    await waitFor(() => expect(server.streams).toHaveLength(1));
    expect(chatPosts().at(-1)!.body).toMatchObject({ message: 'second question, edited', editOf: 'msg_q2' });
    await waitFor(() => expect(result.current.messages.map((m) => m.content)).toEqual(['first question', 'first answer', 'second question, edited', '']));
  });

  it('is refused while a reply streams, for a bot message, and for an empty text', async () => {
    const { result } = setup();
    await ready(result);
    expect(result.current.edit('msg_a1', 'no')).toBe(false);
    expect(result.current.edit('msg_q1', '   ')).toBe(false);
    act(() => void result.current.send('another'));
    await waitFor(() => expect(server.streams).toHaveLength(1));
    expect(result.current.edit('msg_q1', 'not now')).toBe(false);
    expect(chatPosts()).toHaveLength(1);
  });
});

describe('versions', () => {
  const a2old = message_(3, { id: 'msg_a2old', content: 'old second answer', parentId: 'msg_q2', versions: ['msg_a2old', 'msg_a2'] });
  const a2new: Message = { ...a2, versions: ['msg_a2old', 'msg_a2'] };

  it('shows another version: asks the server, and the answer replaces the shown thread', async () => {
    server.history = [q1, a1, q2, a2new];
    const { result } = setup();
    await ready(result);
    expect(result.current.messages.at(-1)!.versions).toEqual(['msg_a2old', 'msg_a2']);
    server.onVersions = () => json({ messages: [q1, a1, q2, a2old], hasMore: false, nextCursor: null });
    let done: boolean | undefined;
    await act(async () => {
      done = await result.current.showVersion('msg_a2old');
    });
    expect(done).toBe(true);
    const post = server.requests.find((r) => r.path === '/api/conversations/conv_1/versions')!;
    expect(post.method).toBe('POST');
    expect(post.body).toEqual({ messageId: 'msg_a2old' });
    await waitFor(() => expect(shown(result.current.messages).at(-1)).toEqual(['msg_a2old', 'old second answer', 'msg_a2old,msg_a2']));
    expect(result.current.messages).toHaveLength(4);
    expect(result.current.isSwitchingVersion).toBe(false);
  });

  it('pages up to the chosen version when a long tail below it pushed it out of the newest page', async () => {
    const { result } = setup();
    await ready(result);
    const tail = Array.from({ length: 60 }, (_, n) => message_(n + 4, { id: `msg_t${String(n).padStart(3, '0')}` }));
    const q2b = { ...q2, id: 'msg_q2b', versions: ['msg_q2', 'msg_q2b'] };
    server.history = [q1, a1, q2b, ...tail];
    server.onVersions = () => json({ messages: tail.slice(-50), hasMore: true, nextCursor: tail.at(-50)!.id });
    await act(async () => void (await result.current.showVersion('msg_q2b')));
    await waitFor(() => expect(result.current.messages.some((m) => m.id === 'msg_q2b')).toBe(true));
    expect(result.current.messages.some((m) => m.id === 'msg_a2')).toBe(false);
  });

  it('a refused switch (409 while a reply streams elsewhere) keeps the thread and says why', async () => {
    const { result } = setup();
    await ready(result);
    server.onVersions = () => json({ title: 'Conflict', status: 409, detail: 'a reply is being generated' }, 409);
    let done: boolean | undefined;
    await act(async () => {
      done = await result.current.showVersion('msg_other');
    });
    expect(done).toBe(false);
    await waitFor(() => expect(result.current.error?.message).toBe('a reply is being generated'));
    expect(result.current.messages.map((m) => m.id)).toEqual(['msg_q1', 'msg_a1', 'msg_q2', 'msg_a2']);
  });

  it('no switch while a reply streams in the shown conversation', async () => {
    const { result } = setup();
    await ready(result);
    act(() => void result.current.regenerate());
    await waitFor(() => expect(server.streams).toHaveLength(1));
    expect(await result.current.showVersion('msg_a2')).toBe(false);
    expect(server.requests.some((r) => r.path.endsWith('/versions'))).toBe(false);
  });
});

describe('versions from other tabs', () => {
  const sync = (kind: string, data: Record<string, unknown>): SyncEvent => parseSync(kind, { ts: Date.now(), ...data })!;

  it('a version chosen elsewhere reloads the shown conversation; this tab’s own switch coming back does not', async () => {
    const { result } = setup();
    await ready(result);
    const q2b = message_(2, { id: 'msg_q2b', content: 'second question, other version', versions: ['msg_q2', 'msg_q2b'] });
    server.history = [q1, a1, q2b];
    let loads = historyLoads();
    act(() => registry.applySync(sync('versions', { conversation_id: 'conv_1', chatbot_id: 'echo', message_id: 'msg_q2b' })));
    await waitFor(() => expect(result.current.messages.map((m) => m.id)).toEqual(['msg_q1', 'msg_a1', 'msg_q2b']));
    expect(historyLoads()).toBe(loads + 1);
    loads = historyLoads();
    act(() => registry.applySync(sync('versions', { conversation_id: 'conv_1', chatbot_id: 'echo', message_id: 'msg_q2b' })));
    await new Promise((r) => setTimeout(r, 20));
    expect(historyLoads()).toBe(loads);
  });

  it('an edit made elsewhere takes the old versions off this tab’s thread and joins the new reply', async () => {
    const { result } = setup();
    await ready(result);
    server.history = [q1, a1, { ...q2, id: 'msg_q2b', content: 'edited elsewhere', versions: ['msg_q2', 'msg_q2b'] }, message_(3, { id: 'msg_a2b', content: '', status: 'streaming' })];
    act(() => registry.applySync(sync('turn_started', { conversation_id: 'conv_1', chatbot_id: 'echo', message_id: 'msg_a2b' })));
    await waitFor(() => expect(server.requests.some((r) => r.path === '/api/chat/msg_a2b/stream')).toBe(true));
    expect(result.current.messages.map((m) => m.id)).toEqual(['msg_q1', 'msg_a1', 'msg_q2b', 'msg_a2b']);
    await act(async () => {
      server.lastStream.push(events.start('msg_a2b', 'conv_1', 'msg_q2b') + events.delta('3-4', 'ok!') + events.end(4, 4));
      server.lastStream.close();
    });
    await waitFor(() => expect(result.current.messages.at(-1)).toMatchObject({ id: 'msg_a2b', content: 'ok!', status: 'complete' }));
  });
});
