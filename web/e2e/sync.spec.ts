import type { Page } from '@playwright/test';
import { expect, lastReply, openChat, send, shot, test } from './fixtures';

/** Collects, in the page, every update the hub sends on `topic` (what a snooping script would get). */
async function snoop(page: Page, topic: string): Promise<void> {
  await page.evaluate((t) => {
    const got: string[] = [];
    (window as unknown as { snooped: string[] }).snooped = got;
    const source = new EventSource(`/.well-known/mercure?match=${encodeURIComponent(t)}`, { withCredentials: true });
    for (const type of ['message', 'turn_started', 'reply_finished', 'reply_stopped', 'conversation_renamed', 'conversation_deleted']) {
      source.addEventListener(type, (e) => got.push(`${type}:${(e as MessageEvent<string>).data}`));
    }
  }, topic);
}

test('issue 17: two tabs of one user stay in sync through the hub; another user receives nothing', async ({ browser, baseURL }) => {
  test.setTimeout(90_000);
  const first = await browser.newContext({ baseURL });
  const a = await first.newPage();
  await openChat(a, 'slow');
  const me = (await (await a.request.get('/api/me')).json()) as { userId: string };
  await send(a, 'hello from the first tab');
  await expect(lastReply(a)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });

  // The same user on a second device (the session cookie), and a stranger.
  const second = await browser.newContext({ baseURL });
  await second.addCookies(await first.cookies());
  const b = await second.newPage();
  await openChat(b, 'slow');
  await expect(b.locator('article[data-role="user"]').last()).toHaveText(/hello from the first tab/);
  const other = await browser.newContext({ baseURL });
  const c = await other.newPage();
  await openChat(c, 'slow');
  await snoop(c, `users/${me.userId}/chat`);

  // A new turn in the first tab shows in the second, and its reply streams there too.
  // (Long enough, ~2.5 s at this bot's pace, that a loaded machine's late hub delivery still
  // finds the reply streaming: twelve words were over before the second tab looked.)
  await send(a, `one two three four five six seven eight nine ten eleven twelve ${'and so on '.repeat(10)}`);
  await expect(b.locator('article[data-role="user"]').last()).toHaveText(/one two three/, { timeout: 10_000 });
  await expect(lastReply(b)).toHaveAttribute('data-status', 'streaming', { timeout: 10_000 });
  await expect(lastReply(b)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
  await expect(lastReply(b)).toHaveText(/twelve/);
  await shot(b, 'sync-second-tab');

  // A rename from the first device shows in the second's list.
  const conversation = (await (await a.request.get('/api/conversations?chatbotId=slow')).json()) as { conversations: { id: string }[] };
  const id = conversation.conversations[0]!.id;
  expect((await a.request.patch(`/api/conversations/${id}`, { data: { title: 'Renamed elsewhere' } })).ok()).toBeTruthy();
  await expect(b.locator('.conv-list .conv-item').first()).toHaveText('Renamed elsewhere', { timeout: 10_000 });

  // Elsewhere (a live page), the second tab's bell says when a reply finished.
  await b.locator('button[data-live="prices"]').click();
  await send(a, 'ping');
  await expect(lastReply(a)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
  await expect(b.getByTestId('unread')).toBeVisible({ timeout: 10_000 });
  await b.getByRole('button', { name: /^Notifications/ }).click();
  await expect(b.getByRole('dialog', { name: 'Notifications' }).locator('.note-title').filter({ hasText: 'Reply finished' })).toHaveCount(1);
  // The first tab was looking at that conversation: no note there.
  await a.getByRole('button', { name: /^Notifications/ }).click();
  await expect(a.getByRole('dialog', { name: 'Notifications' }).locator('.note-title').filter({ hasText: 'Reply finished' })).toHaveCount(0);
  await a.keyboard.press('Escape');

  // A deletion leaves the second device's list.
  await b.goto('/#/chat/slow');
  await expect(b.locator('.conv-list .conv-item')).toHaveCount(1);
  expect((await a.request.delete(`/api/conversations/${id}`)).status()).toBe(204);
  await expect(b.locator('.conv-list .conv-item')).toHaveCount(0, { timeout: 10_000 });

  // The stranger asked for the user's topic all along and got nothing; its own bell has no reply of theirs.
  const snooped = await c.evaluate(() => (window as unknown as { snooped: string[] }).snooped);
  expect(snooped).toEqual([]);
  // (Its bell may hold public notifications from other tests; none of the user's replies.)
  await c.getByRole('button', { name: /^Notifications/ }).click();
  await expect(c.getByRole('dialog', { name: 'Notifications' })).toBeVisible();
  await expect(c.getByRole('dialog', { name: 'Notifications' }).locator('.note-title').filter({ hasText: 'Reply finished' })).toHaveCount(0);
  await first.close();
  await second.close();
  await other.close();
});

test('issue 17: a second reply started in another tab while this tab streams its own shows live, without a reload', async ({ browser, baseURL }) => {
  test.setTimeout(90_000);
  const first = await browser.newContext({ baseURL });
  const a = await first.newPage();
  await openChat(a, 'slow');
  await send(a, 'the first conversation');
  await expect(lastReply(a)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });

  // The same user's second tab, on a blank chat of the same bot.
  const second = await browser.newContext({ baseURL });
  await second.addCookies(await first.cookies());
  const b = await second.newPage();
  await openChat(b, 'slow');
  await b.getByRole('button', { name: 'New chat' }).click();

  // This tab streams a long reply of its own; the other tab starts a second reply meanwhile.
  await send(a, '/lorem 300');
  await expect.poll(async () => (await lastReply(a).innerText()).split(/\s+/).length).toBeGreaterThan(5);
  await send(b, '/lorem 60');
  await expect(lastReply(b)).toHaveAttribute('data-status', 'streaming', { timeout: 10_000 });

  // Its conversation appears here, and opening it shows the reply growing to its end.
  const item = a.locator('.conv-list li').filter({ hasText: '/lorem 60' });
  await expect(item).toHaveCount(1, { timeout: 10_000 });
  await item.locator('.conv-item').click();
  await expect(a.locator('article[data-role="user"]').last()).toHaveText('/lorem 60');
  await expect(lastReply(a)).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  expect((await lastReply(a).locator('.markdown').innerText()).trim().split(/\s+/)).toHaveLength(60);
  expect(await lastReply(a).locator('.markdown').innerText()).toBe(await lastReply(b).locator('.markdown').innerText());

  // This tab's own reply went on meanwhile and ends complete in its conversation.
  await a.locator('.conv-list li').filter({ hasText: 'the first conversation' }).locator('.conv-item').click();
  await expect(lastReply(a)).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  expect((await lastReply(a).locator('.markdown').innerText()).trim().split(/\s+/)).toHaveLength(300);
  await first.close();
  await second.close();
});
