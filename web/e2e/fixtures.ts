import { test as base, expect, type Page, type APIRequestContext } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SCREENSHOTS = resolve(dirname(fileURLToPath(import.meta.url)), '../test-results/screenshots');
mkdirSync(SCREENSHOTS, { recursive: true });

/** Base URL of the server started by global-setup (read at run time, in the worker). */
export const test = base.extend({
  baseURL: async ({}, use) => {
    await use(process.env.RILL_E2E_URL);
  },
});

export { expect };

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

export interface ServerMessage {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  status: string;
  conversationId: string;
}

/** Every message of the user with a bot, oldest first (the API pages newest first). */
export async function serverHistory(request: APIRequestContext, chatbotId: string): Promise<ServerMessage[]> {
  const all: ServerMessage[] = [];
  let before: string | null = null;
  for (;;) {
    const query = new URLSearchParams({ chatbotId, limit: '100' });
    if (before) query.set('before', before);
    const response = await request.get(`/api/history?${query}`);
    expect(response.ok()).toBeTruthy();
    const page = (await response.json()) as { messages: ServerMessage[]; hasMore: boolean; nextCursor: string | null };
    all.unshift(...page.messages);
    if (!page.hasMore || !page.nextCursor) return all;
    before = page.nextCursor;
  }
}

/** The text of the last bot reply on screen. */
export function lastReply(page: Page) {
  return page.locator('article[data-role="assistant"]').last();
}

export async function openChat(page: Page, botId: string): Promise<void> {
  await page.goto(`/#/chat/${botId}`);
  await expect(page.getByRole('textbox', { name: /your message|메시지 입력/i })).toBeEnabled();
}

export async function send(page: Page, text: string): Promise<void> {
  const box = page.getByRole('textbox', { name: /your message|메시지 입력/i });
  await box.fill(text);
  await box.press('Enter');
}

/** Latin words a Korean reader sees in the UI chrome (content marked translate="no" is skipped). */
export async function englishLeft(page: Page): Promise<string[]> {
  // Bot names are the operator's proper names, shown as configured in every language.
  const bots = (await (await page.request.get('/api/bots')).json()) as { name: string }[];
  const names = bots.flatMap((b) => b.name.split(/\s+/));
  return page.evaluate((names) => {
    const allowed = new Set(['SSE', 'JSON', 'Rill', 'Enter', 'Shift', 'Ctrl', 'Esc', 'KB', 'EN', 'ETA', 'rill', 'demo', ...names]);
    const found = new Set<string>();
    const visible = (el: Element) => {
      const box = el.getBoundingClientRect();
      return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility !== 'hidden';
    };
    const check = (text: string, where: string) => {
      for (const word of text.match(/[A-Za-z]{2,}/g) ?? []) if (!allowed.has(word)) found.add(`${word} (${where})`);
    };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parent = node.parentElement;
      if (!parent || parent.closest('[translate="no"], script, style, code') || !visible(parent)) continue;
      check(node.textContent ?? '', parent.className || parent.tagName);
    }
    for (const el of document.querySelectorAll('[aria-label], [title], [placeholder]')) {
      if (el.closest('[translate="no"]')) continue;
      for (const name of ['aria-label', 'title', 'placeholder']) {
        const value = el.getAttribute(name);
        if (value) check(value, `${name} of ${el.tagName.toLowerCase()}`);
      }
    }
    return [...found].sort();
  }, names);
}

const rill = process.env.RILL_BIN ?? resolve(process.cwd(), '../.venv/bin/rill');

/** `rill demo` publishing prices, inventory, parcels, notifications and the feed to the e2e server's hub. */
export function startDemo(userId: string): ChildProcess {
  const dir = process.env.RILL_E2E_DIR!;
  return spawn(
    rill,
    ['demo', '--url', process.env.RILL_E2E_URL!, '--data-dir', join(dir, 'data'), '--config', join(dir, 'rill.toml'), '--user', userId, '--duration', '90', '--rate', '4'],
    { stdio: 'ignore' },
  );
}
