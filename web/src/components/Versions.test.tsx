/** The edit box and the version switcher in the chat view (issue 17), by keyboard. */
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../api/client';
import type { Bot } from '../api/types';
import { ChatRegistry } from '../chat/ChatRegistry';
import { ChatProvider } from '../hooks/ChatContext';
import { I18nProvider } from '../i18n/I18n';
import type { Lang } from '../i18n/strings';
import { FakeServer, conversation_, events, json, message_ } from '../test/fakeServer';
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

const q = message_(0, { id: 'msg_q', content: 'what is rill?' });
const a = message_(1, { id: 'msg_a', content: 'a chat server', parentId: 'msg_q' });

beforeEach(() => {
  server = new FakeServer();
  server.conversations = [conversation_('conv_1', 'echo')];
  server.history = [q, a];
  Element.prototype.scrollTo = () => undefined;
});

const userArticle = () => document.querySelector<HTMLElement>('article[data-role="user"]')!;

describe('edit a message', () => {
  it('opens an editor; Enter is a new line, Escape cancels back to the Edit button, Ctrl+Enter sends', async () => {
    const user = userEvent.setup();
    renderChat();
    const edit = await screen.findByRole('button', { name: 'Edit message' });
    await waitFor(() => expect(edit).toBeEnabled());
    edit.focus();
    await user.keyboard('{Enter}');
    const field = screen.getByRole('textbox', { name: 'Edited message' });
    expect(field).toHaveFocus();
    expect(field).toHaveValue('what is rill?');
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('textbox', { name: 'Edited message' })).toBeNull();
    expect(screen.getByRole('button', { name: 'Edit message' })).toHaveFocus();
    expect(server.requests.some((r) => r.path === '/api/chat')).toBe(false);

    await user.keyboard('{Enter}');
    const again = screen.getByRole('textbox', { name: 'Edited message' });
    await user.clear(again);
    await user.type(again, 'what is rill, really?{Enter}in short');
    expect(again).toHaveValue('what is rill, really?\nin short');
    expect(server.requests.some((r) => r.path === '/api/chat')).toBe(false);
    await user.keyboard('{Control>}{Enter}{/Control}');
    await waitFor(() => expect(server.streams).toHaveLength(1));
    expect(server.requests.find((r) => r.path === '/api/chat')!.body).toMatchObject({ message: 'what is rill, really?\nin short', editOf: 'msg_q' });
    // The keyboard lands in the composer; the old reply is gone, the new one streams.
    expect(screen.getByRole('textbox', { name: 'Your message' })).toHaveFocus();
    await waitFor(() => expect(within(userArticle()).getByText(/in short/)).toBeInTheDocument());
    expect(screen.queryByText('a chat server')).toBeNull();
    // Already version 2 of 2 while its reply streams; no switching or editing meanwhile.
    expect(within(userArticle()).getByRole('group', { name: 'Versions' })).toHaveTextContent('2 / 2');
    expect(within(userArticle()).getByRole('button', { name: 'Previous version' })).toBeDisabled();
    server.lastStream.push(events.start('msg_a2', 'conv_1', 'msg_q2') + events.delta('3-4', 'done'));
    expect(await screen.findByRole('button', { name: 'Edit message' })).toBeDisabled();
    server.history = [
      { ...q, id: 'msg_q2', content: 'what is rill, really?\nin short', versions: ['msg_q', 'msg_q2'] },
      { ...a, id: 'msg_a2', content: 'done', parentId: 'msg_q2' },
    ];
    server.lastStream.push(events.end(4, 4));
    server.lastStream.close();
    await waitFor(() => expect(screen.getByRole('button', { name: 'Edit message' })).toBeEnabled());
    expect(within(userArticle()).getByRole('button', { name: 'Previous version' })).toBeEnabled();
  });

  it('Save & send by mouse; an empty edit cannot be sent', async () => {
    const user = userEvent.setup();
    renderChat();
    await user.click(await screen.findByRole('button', { name: 'Edit message' }));
    const field = screen.getByRole('textbox', { name: 'Edited message' });
    await user.clear(field);
    expect(screen.getByRole('button', { name: 'Save & send' })).toBeDisabled();
    await user.type(field, 'new words');
    await user.click(screen.getByRole('button', { name: 'Save & send' }));
    await waitFor(() => expect(server.streams).toHaveLength(1));
    expect(server.requests.find((r) => r.path === '/api/chat')!.body).toMatchObject({ message: 'new words', editOf: 'msg_q' });
  });
});

describe('version switcher', () => {
  it('shows “‹ 2 / 2 ›”, switches by keyboard, keeps focus on the switcher and announces the version', async () => {
    const user = userEvent.setup();
    const q2 = { ...q, id: 'msg_q2', content: 'what is rill, really?', versions: ['msg_q', 'msg_q2'] };
    const a2 = { ...a, id: 'msg_a2', content: 'a real-time chat server', parentId: 'msg_q2' };
    server.history = [q2, a2];
    server.onVersions = (request) => {
      const to = (request.body as { messageId: string }).messageId;
      const page = to === 'msg_q' ? [{ ...q, versions: ['msg_q', 'msg_q2'] }, a] : [q2, a2];
      return json({ messages: page, hasMore: false, nextCursor: null });
    };
    renderChat();
    const group = await screen.findByRole('group', { name: 'Versions' });
    expect(group).toHaveTextContent('2 / 2');
    const next = within(group).getByRole('button', { name: 'Next version' });
    expect(next).toBeDisabled();
    const prev = within(group).getByRole('button', { name: 'Previous version' });
    prev.focus();
    await user.keyboard('{Enter}');
    await waitFor(() => expect(screen.getByText('what is rill?')).toBeInTheDocument());
    expect(screen.getByText('a chat server')).toBeInTheDocument();
    expect(screen.getByRole('group', { name: 'Versions' })).toHaveTextContent('1 / 2');
    expect(screen.getByTestId('version-status')).toHaveTextContent('Version 1 of 2');
    // Previous is disabled on the first version: the keyboard is on Next.
    await waitFor(() => expect(screen.getByRole('button', { name: 'Next version' })).toHaveFocus());
    await user.keyboard('{Enter}');
    await waitFor(() => expect(screen.getByText('a real-time chat server')).toBeInTheDocument());
    expect(screen.getByTestId('version-status')).toHaveTextContent('Version 2 of 2');
    expect(server.requests.filter((r) => r.path === '/api/conversations/conv_1/versions').map((r) => r.body)).toEqual([
      { messageId: 'msg_q' },
      { messageId: 'msg_q2' },
    ]);
  });

  it('speaks Korean', async () => {
    server.history = [{ ...q, versions: ['msg_q', 'msg_q2'] }, a];
    renderChat('ko');
    const group = await screen.findByRole('group', { name: '버전' });
    expect(within(group).getByRole('button', { name: '다음 버전' })).toBeEnabled();
    expect(within(group).getByRole('button', { name: '이전 버전' })).toBeDisabled();
    expect(within(group).getByText('2개 중 1번째 버전')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: '메시지 수정' })).toBeInTheDocument();
  });
});
