/** Issue 17 features, in Chromium against a real `rill serve`. */
import { expect, lastReply, openChat, send, test } from './fixtures';
import type { Page } from '@playwright/test';

const SCREENS = process.env.RILL_SCREENS_DIR;
async function screen(page: Page, name: string) {
  if (SCREENS) await page.screenshot({ path: `${SCREENS}/${name}.png` });
}

test('rename a conversation: inline, saved on the server, kept after a reload', async ({ page }) => {
  await openChat(page, 'echo');
  await page.getByRole('button', { name: 'New chat' }).click();
  await send(page, 'a conversation to rename');
  await expect(lastReply(page)).toHaveAttribute('data-status', 'complete');
  const item = page.locator('.conv-list li.active');
  await expect(item.locator('.conv-item')).toHaveText('a conversation to rename');

  await item.getByRole('button', { name: 'Rename conversation' }).click();
  const field = page.getByRole('textbox', { name: 'Rename conversation' });
  await expect(field).toBeFocused();
  await field.fill('Trip to Busan');
  await screen(page, 'rename-desktop');
  await field.press('Enter');
  await expect(item.locator('.conv-item')).toHaveText('Trip to Busan');

  await page.reload();
  await expect(page.locator('.conv-list li.active .conv-item')).toHaveText('Trip to Busan');

  // Escape cancels without saving.
  await page.locator('.conv-list li.active').getByRole('button', { name: 'Rename conversation' }).click();
  await page.getByRole('textbox', { name: 'Rename conversation' }).fill('not this');
  await page.keyboard.press('Escape');
  await expect(page.locator('.conv-list li.active .conv-item')).toHaveText('Trip to Busan');
});

test.describe('phone', () => {
  test.use({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });

  test('rename by keyboard alone at 375 px, in the drawer', async ({ page }) => {
    await openChat(page, 'echo');
    await send(page, 'phone conversation');
    await expect(lastReply(page)).toHaveAttribute('data-status', 'complete');
    const menu = page.getByRole('button', { name: 'Menu', exact: true });
    await menu.focus();
    await page.keyboard.press('Enter');
    const rename = page.locator('.conv-list li.active').getByRole('button', { name: 'Rename conversation' });
    await expect(rename).toBeInViewport();
    // Tab from the menu into the drawer until the rename button has focus.
    for (let i = 0; i < 30 && !(await rename.evaluate((el) => el === document.activeElement)); i++) await page.keyboard.press('Tab');
    await expect(rename).toBeFocused();
    await page.keyboard.press('Enter');
    const field = page.getByRole('textbox', { name: 'Rename conversation' });
    await expect(field).toBeFocused();
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type('폰에서 바꾼 이름');
    await page.keyboard.press('Enter');
    await expect(page.locator('.conv-list li.active .conv-item')).toHaveText('폰에서 바꾼 이름');
    const box = (await page.locator('.conv-list li.active').boundingBox())!;
    expect(box.x + box.width).toBeLessThanOrEqual(375);
    await screen(page, 'rename-phone');
  });
});

test('browse other conversations while a reply streams: it goes on in the background and its conversation shows it', async ({ page }) => {
  await openChat(page, 'slow');
  await page.getByRole('button', { name: 'New chat' }).click();
  await send(page, 'a short earlier question');
  await expect(lastReply(page)).toHaveAttribute('data-status', 'complete');

  await page.getByRole('button', { name: 'New chat' }).click();
  await send(page, '/lorem 200');
  await expect.poll(async () => (await lastReply(page).innerText()).split(/\s+/).length).toBeGreaterThan(5);

  const list = page.locator('.conv-list li');
  await list.filter({ hasText: 'a short earlier question' }).locator('.conv-item').click();
  await expect(lastReply(page).locator('.markdown')).toHaveText('a short earlier question');
  const streamingItem = list.filter({ hasText: '/lorem 200' });
  await expect(streamingItem.getByRole('img', { name: 'Generating a reply' })).toBeVisible();
  await expect(page.locator('button[data-bot="slow"] .activity-dot')).toBeVisible();
  await screen(page, 'browse-while-streaming');

  await streamingItem.locator('.conv-item').click();
  await expect(lastReply(page)).toHaveAttribute('data-status', 'streaming');
  await expect(lastReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  const words = (await lastReply(page).locator('.markdown').innerText()).trim().split(/\s+/);
  expect(words).toHaveLength(200);
  await expect(streamingItem.getByRole('img', { name: 'Generating a reply' })).toHaveCount(0);
});

test('bot avatars tell bots apart by colour; the user bubble is light and readable', async ({ page }) => {
  await openChat(page, 'echo');
  await send(page, 'A longer message to see the bubble: '.repeat(6));
  await expect(lastReply(page)).toHaveAttribute('data-status', 'complete');
  const hues = await page.locator('.bot-list [data-hue]').evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-hue'))));
  expect(hues).toHaveLength(4);
  // Far apart on the colour wheel, each pair.
  for (const a of hues) for (const b of hues) if (a !== b) expect(Math.min(Math.abs(a - b), 360 - Math.abs(a - b))).toBeGreaterThan(40);
  // The reply's avatar is its bot's.
  const echoHue = await page.locator('button[data-bot="echo"] [data-hue]').getAttribute('data-hue');
  await expect(lastReply(page).locator('[data-hue]')).toHaveAttribute('data-hue', echoHue!);

  const [bg, fg] = await page
    .locator('article[data-role="user"] .bubble')
    .last()
    .evaluate((el) => [getComputedStyle(el).backgroundColor, getComputedStyle(el).color]);
  const luminance = (rgb: string) => {
    const [r, g, b] = rgb.match(/\d+/g)!.slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  };
  expect(luminance(bg!)).toBeGreaterThan(0.8);
  const contrast = (luminance(bg!) + 0.05) / (luminance(fg!) + 0.05);
  expect(contrast).toBeGreaterThan(7);
  await screen(page, 'avatars-light-bubble');
});

test('export a conversation as Markdown and JSON: every message, in order', async ({ page }) => {
  await openChat(page, 'echo');
  await page.getByRole('button', { name: 'New chat' }).click();
  await send(page, 'first question');
  await expect(lastReply(page)).toHaveAttribute('data-status', 'complete');
  await send(page, 'second **question**');
  await expect(lastReply(page)).toHaveAttribute('data-status', 'complete');
  await screen(page, 'export');

  const [md] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export Markdown' }).click()]);
  expect(md.suggestedFilename()).toBe('first-question.md');
  const markdown = await (await md.createReadStream()).toArray().then((chunks) => Buffer.concat(chunks).toString('utf8'));
  expect(markdown).toBe('# first question\n\n## You\n\nfirst question\n\n## Echo\n\nfirst question\n\n## You\n\nsecond **question**\n\n## Echo\n\nsecond **question**\n');

  const [json] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export JSON' }).click()]);
  const data = JSON.parse(await (await json.createReadStream()).toArray().then((chunks) => Buffer.concat(chunks).toString('utf8'))) as {
    conversation: { title: string };
    messages: { role: string; content: string; status: string }[];
  };
  expect(data.conversation.title).toBe('first question');
  expect(data.messages.map((m) => [m.role, m.content, m.status])).toEqual([
    ['user', 'first question', 'complete'],
    ['assistant', 'first question', 'complete'],
    ['user', 'second **question**', 'complete'],
    ['assistant', 'second **question**', 'complete'],
  ]);
});
