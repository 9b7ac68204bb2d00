/** Issue 17 bugs as a user sees them, in Chromium against a real `rill serve`. */
import { englishLeft, expect, lastReply, openChat, send, test } from './fixtures';
import type { Page } from '@playwright/test';
import { createServer, connect, type Server, type Socket } from 'node:net';

/** A TCP proxy to the server that can drop every connection and refuse new ones. */
async function startProxy(target: number) {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  const listen = (port: number) =>
    new Promise<number>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(target, '127.0.0.1');
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => s.destroy());
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, '127.0.0.1', () => {
        const address = server!.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  const port = await listen(0);
  const close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      if (server) server.close(() => resolve());
      else resolve();
      server = null;
    });
  return { port, drop: close, restore: () => listen(port), close };
}

const SCREENS = process.env.RILL_SCREENS_DIR;
async function screen(page: Page, name: string) {
  if (SCREENS) await page.screenshot({ path: `${SCREENS}/${name}.png` });
}

test.describe('Korean', () => {
  test.use({ locale: 'ko-KR' });

  test('bug 6: no English left in what a Korean user reads, across chat, menus, bell and live pages', async ({ page }) => {
    await openChat(page, 'echo');
    expect(await englishLeft(page)).toEqual([]);
    await send(page, '코드 예시:\n\n```js\nconst a = 1;\n```');
    await expect(lastReply(page)).toHaveAttribute('data-status', 'complete');
    await expect(lastReply(page).locator('[data-code-copy]')).toHaveAttribute('aria-label', '코드 복사');
    expect(await englishLeft(page)).toEqual([]);
    await page.getByRole('button', { name: /^알림/ }).click();
    expect(await englishLeft(page)).toEqual([]);
    await page.keyboard.press('Escape');
    for (const view of ['prices', 'tracking', 'inventory', 'feed']) {
      await page.goto(`/#/live/${view}`);
      await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
      expect(await englishLeft(page), view).toEqual([]);
    }
    const wrap = await page.evaluate(() => getComputedStyle(document.documentElement).wordBreak);
    expect(wrap).toBe('keep-all');
  });

  test('bug 2: a long network drop mid-reply shows a calm Korean reconnecting state and resumes when back online', async ({ page }) => {
    // A TCP proxy between the browser and the server: dropping it is a real network drop
    // (Chromium's offline emulation leaves an open stream to 127.0.0.1 running).
    const proxy = await startProxy(Number(process.env.RILL_E2E_PORT));
    try {
      await page.goto(`http://127.0.0.1:${proxy.port}/#/chat/slow`);
      const box = page.getByRole('textbox', { name: '메시지 입력' });
      await expect(box).toBeEnabled();
      await box.fill('/lorem 150');
      await box.press('Enter');
      await expect.poll(async () => (await lastReply(page).innerText()).split(/\s+/).length).toBeGreaterThan(5);
      await proxy.drop();
      await expect(page.locator('.streaming-pill')).toContainText('다시 연결하는 중', { timeout: 15_000 });
      await screen(page, 'reconnecting-ko');
      // Longer than the old loop's whole retry budget (2+2+2+4+8 s), which then said "Failed to fetch".
      await page.waitForTimeout(20_000);
      await expect(page.locator('.error-banner')).toHaveCount(0);
      await expect(page.locator('.streaming-pill')).toContainText('다시 연결하는 중');
      await proxy.restore();
      await page.evaluate(() => window.dispatchEvent(new Event('online')));
      await expect(lastReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
      expect((await lastReply(page).locator('.markdown').innerText()).trim().split(/\s+/)).toHaveLength(150);
    } finally {
      await proxy.close();
    }
  });
});

test.describe('phone', () => {
  test.use({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });

  test('bug 3: the notification panel is on-screen, and the closed drawer is out of the tab order', async ({ page }) => {
    await openChat(page, 'echo');
    await page.getByRole('button', { name: /^Notifications/ }).click();
    const panel = page.getByRole('dialog', { name: 'Notifications' });
    await expect(panel).toBeVisible();
    const box = (await panel.boundingBox())!;
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(375);
    await screen(page, 'bell-phone');
    await page.keyboard.press('Escape');

    // Tab through the whole page: focus never lands in the closed drawer.
    await page.locator('body').click({ position: { x: 200, y: 300 } });
    for (let i = 0; i < 25; i++) {
      await page.keyboard.press('Tab');
      const inDrawer = await page.evaluate(() => Boolean(document.activeElement?.closest('#sidebar')));
      expect(inDrawer, `tab ${i + 1}`).toBe(false);
    }
    // Opened, the drawer takes focus normally.
    await page.getByRole('button', { name: 'Menu', exact: true }).click();
    await page.locator('button[data-bot="guide"]').focus();
    await expect(page.locator('button[data-bot="guide"]')).toBeFocused();
  });
});

test('bug 7: a 70 KB paste is kept, the limit is said before sending, and Send is disabled', async ({ page }) => {
  await openChat(page, 'echo');
  const big = 'x'.repeat(70 * 1024);
  const box = page.getByRole('textbox', { name: 'Your message' });
  await box.fill(big);
  await expect(page.locator('#composer-size')).toContainText('Too long');
  await expect(page.getByRole('button', { name: 'Send' })).toBeDisabled();
  await box.press('Enter');
  await expect(box).toHaveValue(big);
  await screen(page, 'too-long');
  await box.fill('x'.repeat(1000));
  await expect(page.getByRole('button', { name: 'Send' })).toBeEnabled();
});

test('bug 5: New chat clicked three times creates no empty conversations; the first message creates one', async ({ page }) => {
  await openChat(page, 'guide');
  const count = async () =>
    ((await (await page.request.get('/api/conversations?chatbotId=guide')).json()) as { conversations: unknown[] }).conversations.length;
  const before = await count();
  for (let i = 0; i < 3; i++) await page.getByRole('button', { name: 'New chat' }).click();
  await expect(page.getByRole('heading', { level: 2 })).toContainText('Start a conversation');
  expect(await count()).toBe(before);
  await send(page, 'What is SSE?');
  await expect(lastReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
  expect(await count()).toBe(before + 1);
  await expect(page.locator('.conv-list [aria-current="true"]')).toHaveText('What is SSE?');
});
