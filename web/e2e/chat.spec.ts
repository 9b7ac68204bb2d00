import { expect, lastReply, openChat, send, serverHistory, shot, test } from './fixtures';

test('a message to echo streams back, with the generating indicator', async ({ page }) => {
  await openChat(page, 'echo');
  await page.waitForTimeout(400); // let the empty state fade in
  await shot(page, 'chat-empty');
  await send(page, '/lorem 400');
  await expect(page.getByText('Generating a reply…').first()).toBeVisible();
  // Mid-stream: some text, the typing cursor, not finished yet.
  await expect(lastReply(page).locator('.markdown.is-streaming')).toBeVisible();
  await expect(lastReply(page)).toHaveAttribute('data-status', 'complete');
  await expect(page.getByText('Generating a reply…')).toHaveCount(0);
  const words = (await lastReply(page).locator('.markdown').innerText()).trim().split(/\s+/);
  expect(words).toHaveLength(400);

  const text = 'Hello from the browser — 안녕하세요, Rill! Streaming one word at a time.';
  await send(page, text);
  await expect(page.locator('article[data-role="user"]').last()).toHaveText(text);
  await expect(lastReply(page).locator('.markdown')).toHaveText(text);
  await expect(lastReply(page)).toHaveAttribute('data-status', 'complete');

  await send(page, 'Some **markdown** with `code`:\n\n```python\ndef hello():\n    return "world"\n```\n\n- one\n- two');
  await expect(lastReply(page).locator('.code-block .hljs-keyword').first()).toHaveText('def');
  await expect(lastReply(page)).toHaveAttribute('data-status', 'complete');
  await shot(page, 'chat-desktop-light');

  // Shift+Enter is a newline, not a send.
  const box = page.getByRole('textbox', { name: 'Your message' });
  await box.fill('line one');
  await box.press('Shift+Enter');
  await box.pressSequentially('line two');
  await expect(box).toHaveValue('line one\nline two');
});

test('Stop ends the reply mid-stream and keeps the partial text', async ({ page }) => {
  await openChat(page, 'slow');
  await send(page, '/lorem 300');
  const reply = lastReply(page);
  await expect.poll(async () => (await reply.innerText()).split(/\s+/).length, { timeout: 10_000 }).toBeGreaterThan(12);
  await shot(page, 'chat-streaming');
  await page.getByRole('button', { name: 'Stop', exact: true }).click();
  await expect(reply).toHaveAttribute('data-status', 'cancelled');
  await expect(reply.getByText('Stopped')).toBeVisible();
  const shown = await reply.locator('.markdown').innerText();
  await page.waitForTimeout(500);
  expect(await reply.locator('.markdown').innerText()).toBe(shown);
  const words = shown.trim().split(/\s+/).length;
  expect(words).toBeLessThan(300);
  const history = await serverHistory(page.request, 'slow');
  const stored = history.at(-1)!;
  expect(stored.status).toBe('cancelled');
  expect(stored.content.trim()).toBe(shown.trim());

  // Esc stops too.
  await send(page, '/lorem 300');
  await expect.poll(async () => (await lastReply(page).innerText()).split(/\s+/).length).toBeGreaterThan(5);
  await page.keyboard.press('Escape');
  await expect(lastReply(page)).toHaveAttribute('data-status', 'cancelled');
});

test('reloading mid-reply resumes it exactly', async ({ page }) => {
  await openChat(page, 'slow');
  // Why 200 words (12 s): on a loaded CI box a reload can take longer than a shorter reply.
  await send(page, '/lorem 200');
  await expect.poll(async () => (await lastReply(page).innerText()).split(/\s+/).length).toBeGreaterThan(15);
  await page.reload();
  await expect(lastReply(page)).toHaveAttribute('data-status', 'streaming');
  await expect(page.getByText('Generating a reply…').first()).toBeVisible();
  await expect(lastReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
  const shown = (await lastReply(page).locator('.markdown').innerText()).trim();
  const stored = (await serverHistory(page.request, 'slow')).at(-1)!;
  expect(stored.status).toBe('complete');
  expect(shown).toBe(stored.content.trim());
  expect(shown.split(/\s+/)).toHaveLength(200);
});

test('switching bots mid-stream keeps each stream in its own chat', async ({ page }) => {
  await openChat(page, 'slow');
  await send(page, '/lorem 150');
  await expect.poll(async () => (await lastReply(page).innerText()).split(/\s+/).length).toBeGreaterThan(5);

  await page.locator('button[data-bot="echo"]').click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Echo');
  await expect(page.locator('button[data-bot="slow"] .activity-dot')).toBeVisible();
  await expect(page.locator('article[data-role="assistant"]')).toHaveCount(0);
  await send(page, 'only for echo');
  await expect(lastReply(page).locator('.markdown')).toHaveText('only for echo');
  await expect(lastReply(page)).toHaveAttribute('data-status', 'complete');
  // The slow reply never leaks into echo's view.
  await page.waitForTimeout(300);
  await expect(page.locator('article[data-role="assistant"]')).toHaveCount(1);

  await page.locator('button[data-bot="slow"]').click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Slow Echo');
  await expect(lastReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  const shown = (await lastReply(page).locator('.markdown').innerText()).trim();
  expect(shown.split(/\s+/)).toHaveLength(150);
  const stored = (await serverHistory(page.request, 'slow')).at(-1)!;
  expect(shown).toBe(stored.content.trim());
});

test('a dropped connection reconnects with Last-Event-ID and the reply completes exactly', async ({ page }) => {
  await openChat(page, 'echo');
  // The first response is cut mid-event, as a dropped connection would leave it.
  await page.route('**/api/chat', async (route) => {
    const response = await route.fetch();
    const body = await response.body();
    await route.fulfill({ response, body: body.subarray(0, Math.floor(body.length * 0.6)) });
  });
  const resumes: (string | null)[] = [];
  page.on('request', (request) => {
    if (request.url().includes('/stream')) resumes.push(request.headers()['last-event-id'] ?? null);
  });
  await send(page, '/lorem 150');
  await expect(lastReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
  expect(resumes).toHaveLength(1);
  expect(resumes[0]).toMatch(/^\d+-\d+$/);
  const shown = (await lastReply(page).locator('.markdown').innerText()).trim();
  const stored = (await serverHistory(page.request, 'echo')).at(-1)!;
  expect(shown).toBe(stored.content.trim());
  expect(shown.split(/\s+/)).toHaveLength(150);
});
