import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../api/client';
import type { Bot } from '../api/types';
import { ChatRegistry } from '../chat/ChatRegistry';
import { ChatProvider } from '../hooks/ChatContext';
import { I18nProvider } from '../i18n/I18n';
import type { Lang } from '../i18n/strings';
import { FakeServer, conversation_, events } from '../test/fakeServer';
import { ChatView } from './ChatView';

const echo: Bot = { id: 'echo', name: 'Echo', description: 'Echoes', provider: 'echo', model: 'echo' };
let server: FakeServer;

function renderChat(lang: Lang = 'en') {
  const registry = new ChatRegistry(new ApiClient({ fetch: server.fetch }), { schedule: (f) => setTimeout(f, 0), storage: null });
  return render(
    <I18nProvider lang={lang}>
      <ChatProvider registry={registry}>
        <ChatView bot={echo} limits={{ maxBodyBytes: 64 * 1024, maxMessageChars: 32_000 }} api={new ApiClient({ fetch: server.fetch })} />
      </ChatProvider>
    </I18nProvider>,
  );
}

beforeEach(() => {
  server = new FakeServer();
  server.conversations = [conversation_('conv_1', 'echo')];
  // jsdom has no layout: give the scroller sizes so the scroll code runs.
  Element.prototype.scrollTo = () => undefined;
});

describe('ChatView', () => {
  it('sends on Enter, keeps Shift+Enter as a newline, and shows the streaming reply with Stop', async () => {
    const user = userEvent.setup();
    renderChat();
    const box = await screen.findByRole('textbox', { name: 'Your message' });
    await waitFor(() => expect(box).toBeEnabled());
    await user.type(box, 'line one{Shift>}{Enter}{/Shift}line two');
    expect(box).toHaveValue('line one\nline two');
    await user.keyboard('{Enter}');
    await waitFor(() => expect(server.streams).toHaveLength(1));
    expect(box).toHaveValue('');
    expect(await screen.findByText('Generating a reply…', { selector: '.streaming-pill' })).toBeInTheDocument();

    server.lastStream.push(events.start('msg_1') + events.delta('3-5', 'Hello'));
    await screen.findByText('Hello');
    expect(document.querySelector('[aria-live="polite"][aria-busy="true"]')).not.toBeNull();

    await user.click(screen.getByRole('button', { name: 'Stop' }));
    await waitFor(() => expect(server.cancelled).toEqual(['msg_1']));
    server.lastStream.push(events.end(4, 5, 'cancelled'));
    server.lastStream.close();
    expect(await screen.findByText('Stopped')).toBeInTheDocument();
    expect(screen.queryByText('Generating a reply…', { selector: '.streaming-pill' })).toBeNull();
  });

  it('does not send while a Korean IME is composing', async () => {
    renderChat('ko');
    const box = await screen.findByRole('textbox', { name: '메시지 입력' });
    await waitFor(() => expect(box).toBeEnabled());
    fireEvent.change(box, { target: { value: '안녕' } });
    fireEvent.keyDown(box, { key: 'Enter', isComposing: true, keyCode: 229 });
    await new Promise((r) => setTimeout(r, 20));
    expect(server.requests.some((r) => r.path === '/api/chat')).toBe(false);
    fireEvent.keyDown(box, { key: 'Enter' });
    await waitFor(() => expect(server.streams).toHaveLength(1));
    expect(await screen.findByText('답변 생성중...', { selector: '.streaming-pill' })).toBeInTheDocument();
    act(() => {
      server.lastStream.push(events.start('msg_k') + events.delta('3-2', '안녕') + events.end(4, 2));
      server.lastStream.close();
    });
    await waitFor(() => expect(screen.queryByText('답변 생성중...', { selector: '.streaming-pill' })).toBeNull());
  });

  it('shows the problem detail and a retry button when the server refuses', async () => {
    server.onChat = () =>
      new Response(JSON.stringify({ title: 'Service Unavailable', status: 503, detail: 'The model is overloaded.' }), {
        status: 503,
        headers: { 'Content-Type': 'application/problem+json' },
      });
    const user = userEvent.setup();
    renderChat();
    const box = await screen.findByRole('textbox', { name: 'Your message' });
    await waitFor(() => expect(box).toBeEnabled());
    await user.type(box, 'hi{Enter}');
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('The model is overloaded.');
    expect(screen.getByRole('button', { name: 'Retry' })).toBeInTheDocument();
  });

  it('issue 17 bug 8: a rate-limited Retry stays disabled, counting down, until Retry-After has passed (in Korean)', async () => {
    server.onChat = () =>
      new Response(JSON.stringify({ title: 'Too Many Requests', status: 429, detail: 'Slow down' }), {
        status: 429,
        headers: { 'Content-Type': 'application/problem+json', 'Retry-After': '2' },
      });
    renderChat('ko');
    const box = await screen.findByRole('textbox', { name: '메시지 입력' });
    await waitFor(() => expect(box).toBeEnabled());
    fireEvent.change(box, { target: { value: 'hi' } });
    fireEvent.keyDown(box, { key: 'Enter' });
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('요청이 너무 많습니다');
    expect(alert).not.toHaveTextContent('Slow down');
    const retry = screen.getByRole('button', { name: /초 후 다시 시도/ });
    expect(retry).toBeDisabled();
    await waitFor(() => expect(screen.getByRole('button', { name: '다시 시도' })).toBeEnabled(), { timeout: 4000 });
  });

  it('issue 17 bug 6: a network failure is said in Korean, never as the browser\'s "Failed to fetch"', async () => {
    server.onChat = () => {
      throw new TypeError('Failed to fetch');
    };
    renderChat('ko');
    const box = await screen.findByRole('textbox', { name: '메시지 입력' });
    await waitFor(() => expect(box).toBeEnabled());
    fireEvent.change(box, { target: { value: 'hi' } });
    fireEvent.keyDown(box, { key: 'Enter' });
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('연결이 끊어졌습니다');
    expect(document.body).not.toHaveTextContent('Failed to fetch');
  });
});
