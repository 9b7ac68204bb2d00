/** Searching conversations (issue 17), in Chromium against a real `rill serve`. */
import { expect, lastReply, openChat, send, shot, test } from './fixtures';
import type { Page } from '@playwright/test';

/** A word no other test writes, so only this run's conversations can match it. */
const unique = (stem: string) => `${stem}${Date.now().toString(36)}`;

async function chatIn(page: Page, text: string): Promise<void> {
  await page.getByRole('button', { name: /New chat|새 대화/ }).click();
  await send(page, text);
  await expect(lastReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
}

test('search finds a conversation by its text, shows the snippet, and opens it by keyboard', async ({ page }) => {
  const word = unique('gyeongju');
  await openChat(page, 'echo');
  await chatIn(page, `Our spring trip to ${word} with the family`);
  await chatIn(page, 'Groceries for the week: rice, tofu, kimchi');
  await expect(page.locator('.conv-list [aria-current="true"]')).toContainText('Groceries');

  const box = page.getByRole('searchbox', { name: 'Search conversations' });
  await box.fill(word.toUpperCase());
  const hits = page.getByRole('list', { name: 'Search results' }).getByRole('button');
  await expect(hits).toHaveCount(1);
  await expect(hits.first()).toContainText(`Our spring trip to ${word}`);
  await expect(page.getByRole('status').filter({ hasText: '1 found' })).toBeVisible();
  await shot(page, 'search-hit');

  // Keyboard only: into the hits with ArrowDown, open with Enter.
  await box.press('ArrowDown');
  await expect(hits.first()).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(box).toHaveValue('');
  await expect(page.locator('.conv-list [aria-current="true"]')).toContainText(`Our spring trip to ${word}`);
  await expect(page.locator('article[data-role="user"]').last()).toContainText(word);

  // Operators are not syntax; a query that matches nothing says so; Escape clears it.
  await box.fill(`"${word}*:^ (`);
  await expect(hits).toHaveCount(1);
  await box.fill(unique('nothing'));
  await expect(page.getByText('No matching conversations')).toBeVisible();
  await box.press('Escape');
  await expect(box).toHaveValue('');
  await expect(page.locator('.conv-list').first()).toBeVisible();
});

test.describe('in Korean', () => {
  test.use({ locale: 'ko-KR' });

  test('search finds Korean text with a particle attached, in a Korean UI', async ({ page }) => {
    const word = unique('경주여행');
    await openChat(page, 'echo');
    await chatIn(page, `${word}을 다녀왔어요. 불국사가 멋졌습니다`);
    const box = page.getByRole('searchbox', { name: '대화 검색' });
    await box.fill(word);
    const hits = page.getByRole('list', { name: '검색 결과' }).getByRole('button');
    await expect(hits).toHaveCount(1);
    await expect(hits.first()).toContainText(`${word}을 다녀왔어요`);
    await expect(page.getByRole('status').filter({ hasText: '1개 찾음' })).toBeVisible();
    await shot(page, 'search-hit-ko');
  });
});

test.describe('phone', () => {
  test.use({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });

  test('in the drawer at 375 px: search, open the hit with the keyboard, the drawer closes on it', async ({ page }) => {
    const word = unique('hallasan');
    await openChat(page, 'echo');
    await send(page, `Hiking ${word} at dawn`);
    await expect(lastReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
    await page.getByRole('button', { name: 'Menu', exact: true }).click();
    await page.getByRole('button', { name: 'New chat' }).click();

    await page.getByRole('button', { name: 'Menu', exact: true }).click();
    const box = page.getByRole('searchbox', { name: 'Search conversations' });
    await box.fill(word);
    const hit = page.getByRole('list', { name: 'Search results' }).getByRole('button');
    await expect(hit).toHaveCount(1);
    const rect = (await hit.boundingBox())!;
    expect(rect.x).toBeGreaterThanOrEqual(0);
    expect(rect.x + rect.width).toBeLessThanOrEqual(375);
    await shot(page, 'search-phone');
    await box.press('ArrowDown');
    await page.keyboard.press('Enter');
    await expect(page.getByRole('button', { name: 'Menu', exact: true })).toHaveAttribute('aria-expanded', 'false');
    await expect(box).toHaveValue('');
    await expect(page.locator('article[data-role="user"]').last()).toContainText(word);
  });
});
