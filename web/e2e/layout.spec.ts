import { expect, lastReply, openChat, send, shot, test } from './fixtures';

test.describe('phone', () => {
  test.use({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });

  test('the chat works on a 375 px screen, with the bot menu in a drawer', async ({ page }) => {
    await openChat(page, 'echo');
    const menu = page.getByRole('button', { name: 'Menu', exact: true });
    await expect(menu).toBeVisible();
    await expect(page.locator('button[data-bot="guide"]')).not.toBeInViewport();
    await send(page, 'Hello from a phone. This reply should wrap nicely inside a narrow screen without any horizontal scrolling at all.');
    await expect(lastReply(page)).toHaveAttribute('data-status', 'complete');
    await send(page, 'Code too:\n\n```js\nconst reply = await fetch("/api/chat", { method: "POST" });\n```');
    await expect(lastReply(page)).toHaveAttribute('data-status', 'complete');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await shot(page, 'chat-phone');

    await menu.click();
    await expect(page.locator('button[data-bot="guide"]')).toBeInViewport();
    await shot(page, 'chat-phone-menu');
    await page.locator('button[data-bot="guide"]').click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Rill Guide');
    await expect(page.locator('button[data-bot="guide"]')).not.toBeInViewport();
  });
});

test.describe('Korean, dark', () => {
  test.use({ locale: 'ko-KR', colorScheme: 'dark' });

  test('speaks Korean from the browser language, switches to English, and has a dark theme', async ({ page }) => {
    await openChat(page, 'slow');
    await expect(page.getByRole('textbox', { name: '메시지 입력' })).toBeVisible();
    await send(page, '/lorem 300');
    await expect(page.getByText('답변 생성중...').first()).toBeVisible();
    await page.keyboard.press('Escape');
    await expect(lastReply(page).getByText('중지됨')).toBeVisible();

    await page.locator('button[data-bot="guide"]').click();
    await send(page, 'SSE와 WebSocket의 차이는?');
    await expect(lastReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
    await expect(lastReply(page)).toContainText('웹소켓');
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(background).toBe('rgb(11, 13, 20)');
    await shot(page, 'chat-korean-dark');

    await page.getByRole('button', { name: 'EN English' }).click();
    await expect(page.getByRole('textbox', { name: 'Your message' })).toBeVisible();
    await page.getByRole('button', { name: /^Theme/ }).click(); // system → light
    await expect.poll(() => page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(247, 247, 249)');
  });
});

test('new chat, switch and delete conversations; copy and regenerate', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await openChat(page, 'echo');
  await send(page, 'first conversation');
  await expect(lastReply(page)).toHaveAttribute('data-status', 'complete');

  await page.getByRole('button', { name: 'New chat' }).click();
  await expect(page.locator('article[data-id]')).toHaveCount(0);
  await send(page, 'second conversation');
  await expect(lastReply(page)).toHaveAttribute('data-status', 'complete');
  const items = page.locator('.conv-list li');
  await expect(items).toHaveCount(2);

  await items.filter({ hasText: 'first conversation' }).locator('.conv-item').click();
  await expect(lastReply(page).locator('.markdown')).toHaveText('first conversation');

  await lastReply(page).getByRole('button', { name: 'Copy' }).click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe('first conversation');
  const before = await lastReply(page).getAttribute('data-id');
  await lastReply(page).getByRole('button', { name: 'Regenerate' }).click();
  await expect(lastReply(page)).toHaveAttribute('data-status', 'complete');
  await expect(lastReply(page)).not.toHaveAttribute('data-id', before!);
  await expect(page.locator('article[data-role="assistant"]')).toHaveCount(1);

  await items.filter({ hasText: 'second conversation' }).getByRole('button', { name: 'Delete conversation' }).click();
  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(items).toHaveCount(1);
});

test('a refused request shows the problem detail; a network failure offers a retry', async ({ page }) => {
  await openChat(page, 'echo');
  await page.route('**/api/chat', (route) =>
    route.fulfill({
      status: 429,
      contentType: 'application/problem+json',
      body: JSON.stringify({ type: 'https://rill.dev/problems/rate_limited', title: 'Too Many Requests', status: 429, detail: 'Too many replies at once, try again in a moment.' }),
    }),
  );
  await send(page, 'hello?');
  await expect(page.getByRole('alert')).toContainText('Too many replies at once, try again in a moment.');
  await page.unroute('**/api/chat');

  await page.route('**/api/chat', (route) => route.abort('connectionreset'));
  await page.getByRole('button', { name: 'Retry' }).click();
  await expect(page.getByRole('button', { name: 'Retry' })).toBeVisible();
  await page.unroute('**/api/chat');
  await page.getByRole('button', { name: 'Retry' }).click();
  await expect(lastReply(page).locator('.markdown')).toHaveText('hello?');
  await expect(page.locator('article[data-role="user"]')).toHaveCount(1);
  await expect(page.getByRole('alert')).toHaveCount(0);
});
