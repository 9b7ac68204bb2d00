/**
 * The real `@ai-sdk/react` `useChat` (default HTTP transport) against a real `rill serve`:
 * stream, reload mid-reply and resume exactly, stop (issue 16).
 */
import { test, expect } from './fixtures';
import react from '@vitejs/plugin-react';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import type { APIRequestContext, Page } from '@playwright/test';

const PAGE = '/ai-sdk-page/';
const here = dirname(fileURLToPath(import.meta.url));
let outDir = '';

test.beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'rill-ai-sdk-page-'));
  await build({
    root: join(here, 'ai-sdk-page'),
    base: PAGE,
    configFile: false,
    logLevel: 'warn',
    plugins: [react()],
    build: { outDir, emptyOutDir: true },
  });
});

test.afterAll(() => rmSync(outDir, { recursive: true, force: true }));

/** Serve the built page under Rill's origin, so its fetches reach the real server. */
async function openPage(page: Page, chat: string, token: string): Promise<void> {
  await page.route(`**${PAGE}**`, (route) => {
    const path = new URL(route.request().url()).pathname.slice(PAGE.length) || 'index.html';
    const file = normalize(resolve(outDir, path));
    return file.startsWith(outDir) ? route.fulfill({ path: file }) : route.abort();
  });
  await page.goto(`${PAGE}index.html?chat=${chat}&token=${token}`);
}

async function newChat(request: APIRequestContext, bot: string): Promise<{ chat: string; token: string }> {
  const token = ((await (await request.post('/api/session')).json()) as { token: string }).token;
  const created = await request.post('/api/conversations', {
    data: { chatbotId: bot },
    headers: { Authorization: `Bearer ${token}` },
  });
  return { chat: ((await created.json()) as { id: string }).id, token };
}

const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ');

test('useChat streams a reply, and resumes it exactly after a reload', async ({ page, request }) => {
  const { chat, token } = await newChat(request, 'slow');
  await openPage(page, chat, token);
  const text = words(150); // ~9 s at the slow bot's pace: still streaming after the reload
  await page.getByLabel('message').fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
  const reply = page.locator('article[data-role="assistant"]');
  await expect(reply).toContainText('w5');
  const before = await reply.textContent();
  expect(before!.length).toBeLessThan(text.length);

  await page.reload();
  // `resume: true` reconnects through GET /api/ai-sdk/chat/{id}/stream: the reply is
  // replayed from its start, so it ends exactly as sent, with no repeated text.
  await expect(page.locator('article[data-role="assistant"]')).toHaveText(text, { timeout: 30_000 });
  await expect(page.locator('article[data-role="assistant"]')).toHaveAttribute('data-stop', 'end_turn');
  await expect(page.getByLabel('status')).toHaveText('ready');
});

test('Stop ends the reply as cancelled, and the text kept is the text shown', async ({ page, request }) => {
  const { chat, token } = await newChat(request, 'slow');
  await openPage(page, chat, token);
  await page.getByLabel('message').fill('/lorem 300');
  await page.getByRole('button', { name: 'Send' }).click();
  const reply = page.locator('article[data-role="assistant"]');
  await expect(reply).not.toHaveText('');
  await page.getByRole('button', { name: 'Stop' }).click();
  await expect(reply).toHaveAttribute('data-stop', 'cancelled');
  await expect(page.getByLabel('status')).toHaveText('ready');
  const id = await reply.getAttribute('data-id');
  const stored = await request.get(`/api/history?chatbotId=slow&conversationId=${chat}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  const messages = ((await stored.json()) as { messages: { id: string; status: string; content: string }[] }).messages;
  const saved = messages.find((m) => m.id === id)!;
  expect(saved.status).toBe('cancelled');
  expect(saved.content).toBe(await reply.textContent());
});
