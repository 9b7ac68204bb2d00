import { expect, openChat, shot, test } from './fixtures';

test('scrolling up through 200 messages loads history without the viewport jumping', async ({ page }) => {
  test.setTimeout(90_000);
  // Seed 100 turns (200 messages) in one conversation through the API, as this browser's user.
  expect((await page.request.post('/api/session')).ok()).toBeTruthy();
  const conversation = (await (await page.request.post('/api/conversations', { data: { chatbotId: 'echo', title: 'Long history' } })).json()) as { id: string };
  for (let i = 1; i <= 100; i++) {
    const response = await page.request.post('/api/chat', {
      headers: { Accept: 'text/event-stream' },
      data: { chatbotId: 'echo', conversationId: conversation.id, message: `turn ${i}: ${'lorem ipsum dolor '.repeat((i % 4) + 1)}` },
    });
    expect(response.ok()).toBeTruthy();
    await response.body();
  }

  // Slow history down a little so the loading indicator is observable.
  await page.route('**/api/history?*', async (route) => {
    await new Promise((r) => setTimeout(r, 250));
    await route.continue();
  });
  await openChat(page, 'echo');
  const messages = page.getByTestId('messages');
  const items = page.locator('article[data-id]');
  await expect(items.last()).toContainText('turn 100');

  let sawIndicator = false;
  for (let round = 0; round < 20 && (await items.count()) < 200; round++) {
    const count = await items.count();
    // Scroll to the top; remember where the first message sits on screen.
    const before = await messages.evaluate((el) => {
      el.scrollTop = 0;
      const first = el.querySelector<HTMLElement>('article[data-id]')!;
      return { id: first.dataset.id!, top: first.getBoundingClientRect().top };
    });
    if (await page.getByText('Loading earlier conversation…').isVisible()) sawIndicator = true;
    await expect.poll(() => items.count()).toBeGreaterThan(count);
    await expect(page.getByText('Loading earlier conversation…')).toHaveCount(0);
    const after = await messages.evaluate((el, id) => {
      const node = el.querySelector<HTMLElement>(`article[data-id="${id}"]`)!;
      return node.getBoundingClientRect().top;
    }, before.id);
    expect(Math.abs(after - before.top), `message ${before.id} moved`).toBeLessThanOrEqual(1);
  }
  expect(sawIndicator).toBe(true);
  await expect(items).toHaveCount(200);
  // Everything in time order, no duplicates.
  const texts = await page.locator('article[data-role="user"]').allInnerTexts();
  expect(texts.map((t) => Number(/turn (\d+)/.exec(t)?.[1]))).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  await messages.evaluate((el) => (el.scrollTop = 0));
  await shot(page, 'chat-history-top');

  // Scrolled up: a "jump to latest" button brings the newest message back.
  const jump = page.getByRole('button', { name: 'Jump to latest' });
  await expect(jump).toBeVisible();
  await jump.click();
  await expect(items.last()).toBeInViewport();
  await expect(jump).toHaveCount(0);
});
