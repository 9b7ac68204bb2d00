/** Edit & resend, regenerate and the version switcher (issue 17), in Chromium against a real `rill serve`. */
import type { Locator, Page } from '@playwright/test';
import { englishLeft, expect, lastReply, openChat, send, serverHistory, shot, test } from './fixtures';

/** The thread on screen: [role, text] of each message, top to bottom. */
function thread(page: Page): Promise<string[][]> {
  return page
    .locator('article[data-role]')
    .evaluateAll((nodes) =>
      nodes.map((n) => [(n as HTMLElement).dataset.role ?? '', (n.querySelector('.bubble, .markdown')?.textContent ?? '').trim()]),
    );
}

const userMessages = (page: Page) => page.locator('article[data-role="user"]');
const switcherOf = (message: Locator) => message.getByRole('group', { name: 'Versions' });

/** Presses Tab (or Shift+Tab) until `target` has the keyboard; fails after `max` presses. */
async function tabTo(page: Page, target: Locator, key: 'Tab' | 'Shift+Tab', max = 40): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (await target.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press(key);
  }
  await expect(target).toBeFocused();
}

async function turn(page: Page, text: string): Promise<void> {
  await send(page, text);
  await expect(lastReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
  await expect(lastReply(page).locator('.markdown')).toHaveText(text);
}

test('edit a message: the edit gets its own reply, and the old question and its replies come back exactly through the switcher', async ({ page }) => {
  test.setTimeout(90_000);
  await openChat(page, 'echo');
  await turn(page, 'alpha question one');
  await turn(page, 'beta question two');
  const before = await thread(page);
  expect(before).toHaveLength(4);
  // One version only: no switcher yet.
  await expect(page.getByRole('group', { name: 'Versions' })).toHaveCount(0);

  const first = userMessages(page).first();
  await first.hover();
  await first.getByRole('button', { name: 'Edit message' }).click();
  const field = page.getByRole('textbox', { name: 'Edited message' });
  await expect(field).toBeFocused();
  await expect(field).toHaveValue('alpha question one');
  await field.fill('gamma question three');
  await page.getByRole('button', { name: 'Save & send' }).click();
  await expect(lastReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
  await expect(lastReply(page).locator('.markdown')).toHaveText('gamma question three');
  // The edit replaced the rest of the thread: its own question and reply only.
  await expect.poll(() => thread(page)).toEqual([
    ['user', 'gamma question three'],
    ['assistant', 'gamma question three'],
  ]);
  const switcher = switcherOf(userMessages(page).first());
  await expect(switcher).toContainText('2 / 2');
  await expect(switcher.getByRole('button', { name: 'Next version' })).toBeDisabled();
  await shot(page, 'edit-versions');

  await switcher.getByRole('button', { name: 'Previous version' }).click();
  await expect(page.getByTestId('version-status')).toHaveText('Version 1 of 2');
  await expect.poll(() => thread(page)).toEqual(before);
  await expect(switcherOf(userMessages(page).first())).toContainText('1 / 2');
  // The keyboard stays on the switcher (Previous is disabled now: on Next).
  await expect(switcherOf(userMessages(page).first()).getByRole('button', { name: 'Next version' })).toBeFocused();

  // The server shows that path too: the history API and a reload agree.
  const history = await serverHistory(page.request, 'echo');
  expect(history.map((m) => [m.role, m.content])).toEqual(before);
  await page.reload();
  await expect.poll(() => thread(page)).toEqual(before);
  // An export writes the path shown, not the other versions.
  const [md] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export Markdown' }).click()]);
  const markdown = await (await md.createReadStream()).toArray().then((chunks) => Buffer.concat(chunks).toString('utf8'));
  expect(markdown).toContain('beta question two');
  expect(markdown).not.toContain('gamma');

  await switcherOf(userMessages(page).first()).getByRole('button', { name: 'Next version' }).click();
  await expect(page.getByTestId('version-status')).toHaveText('Version 2 of 2');
  await expect.poll(() => thread(page)).toEqual([
    ['user', 'gamma question three'],
    ['assistant', 'gamma question three'],
  ]);
});

test('regenerate keeps the old reply: the switcher appears on the reply and switching back restores it', async ({ page }) => {
  // ~12 s a reply at this bot's pace: long enough that the regenerated one is still
  // streaming when a loaded machine gets to look at it.
  test.setTimeout(90_000);
  await openChat(page, 'slow');
  await send(page, '/lorem 200');
  await expect(lastReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 40_000 });
  const old = (await lastReply(page).locator('.markdown').innerText()).trim();
  expect(old.split(/\s+/)).toHaveLength(200);

  await lastReply(page).hover();
  await lastReply(page).getByRole('button', { name: 'Regenerate' }).click();
  // Streaming, the new reply already says it is the second version; switching waits for it.
  const switcher = switcherOf(lastReply(page));
  await expect(switcher).toContainText('2 / 2');
  await expect(switcher.getByRole('button', { name: 'Previous version' })).toBeDisabled();
  await expect.poll(async () => (await lastReply(page).innerText()).split(/\s+/).length).toBeGreaterThan(5);
  await page.getByRole('button', { name: 'Stop', exact: true }).click();
  await expect(lastReply(page)).toHaveAttribute('data-status', 'cancelled', { timeout: 10_000 });
  const partial = (await lastReply(page).locator('.markdown').innerText()).trim();
  expect(partial.split(/\s+/).length).toBeLessThan(200);

  await expect(switcherOf(lastReply(page))).toContainText('2 / 2');
  await switcherOf(lastReply(page)).getByRole('button', { name: 'Previous version' }).click();
  await expect(page.getByTestId('version-status')).toHaveText('Version 1 of 2');
  await expect(lastReply(page)).toHaveAttribute('data-status', 'complete');
  await expect(lastReply(page).locator('.markdown')).toHaveText(old);
  await expect(switcherOf(lastReply(page))).toContainText('1 / 2');
  await expect(page.locator('article[data-role]')).toHaveCount(2);

  await switcherOf(lastReply(page)).getByRole('button', { name: 'Next version' }).click();
  await expect(page.getByTestId('version-status')).toHaveText('Version 2 of 2');
  await expect(lastReply(page)).toHaveAttribute('data-status', 'cancelled');
  await expect(lastReply(page).locator('.markdown')).toHaveText(partial);
});

test('Escape cancels an edit without sending; Enter is a new line and Ctrl+Enter sends', async ({ page }) => {
  await openChat(page, 'echo');
  await turn(page, 'keep me');
  const message = userMessages(page).first();
  await message.hover();
  await message.getByRole('button', { name: 'Edit message' }).click();
  await page.keyboard.press('End');
  await page.keyboard.type(' not sent');
  await page.keyboard.press('Escape');
  await expect(page.getByRole('textbox', { name: 'Edited message' })).toHaveCount(0);
  await expect(message.getByRole('button', { name: 'Edit message' })).toBeFocused();
  await expect(message.locator('.bubble')).toHaveText('keep me');

  await page.keyboard.press('Enter');
  const field = page.getByRole('textbox', { name: 'Edited message' });
  await field.fill('line one');
  await field.press('Enter');
  await page.keyboard.type('line two');
  await expect(field).toHaveValue('line one\nline two');
  await field.press('ControlOrMeta+Enter');
  await expect(lastReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
  await expect(userMessages(page).first().locator('.bubble')).toHaveText('line one\nline two');
  await expect(switcherOf(userMessages(page).first())).toContainText('2 / 2');
});

test.describe('phone', () => {
  test.use({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });

  test('edit and switch versions by keyboard alone at 375 px', async ({ page }) => {
    await openChat(page, 'echo');
    await turn(page, 'phone question one');
    const message = userMessages(page).first();
    const edit = message.getByRole('button', { name: 'Edit message' });
    // No hover on a phone: Edit is always shown.
    await expect(edit).toBeVisible();
    expect(await edit.evaluate((el) => getComputedStyle(el.closest('.msg-actions')!).opacity)).toBe('1');

    const composer = page.getByRole('textbox', { name: 'Your message' });
    await composer.focus();
    await tabTo(page, edit, 'Shift+Tab');
    await page.keyboard.press('Enter');
    const field = page.getByRole('textbox', { name: 'Edited message' });
    await expect(field).toBeFocused();
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type('phone question two');
    await page.keyboard.press('ControlOrMeta+Enter');
    await expect(composer).toBeFocused();
    await expect(lastReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
    await expect(lastReply(page).locator('.markdown')).toHaveText('phone question two');

    const previous = switcherOf(userMessages(page).first()).getByRole('button', { name: 'Previous version' });
    await tabTo(page, previous, 'Shift+Tab');
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('version-status')).toHaveText('Version 1 of 2');
    await expect.poll(() => thread(page)).toEqual([
      ['user', 'phone question one'],
      ['assistant', 'phone question one'],
    ]);
    await expect(switcherOf(userMessages(page).first()).getByRole('button', { name: 'Next version' })).toBeFocused();

    // Nothing wider than the phone: no sideways scrolling, the switcher and Edit on screen.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    for (const el of [switcherOf(userMessages(page).first()), userMessages(page).first().getByRole('button', { name: 'Edit message' })]) {
      const box = (await el.boundingBox())!;
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(375);
    }
    await shot(page, 'edit-versions-phone');
  });
});

test.describe('Korean', () => {
  test.use({ locale: 'ko-KR' });

  test('the editor and the switcher speak Korean', async ({ page }) => {
    await openChat(page, 'echo');
    await turn(page, '첫 질문');
    const message = userMessages(page).first();
    await message.hover();
    await message.getByRole('button', { name: '메시지 수정' }).click();
    await expect(page.getByRole('textbox', { name: '수정한 메시지' })).toBeFocused();
    await expect(page.getByRole('button', { name: '저장하고 보내기' })).toBeVisible();
    expect(await englishLeft(page)).toEqual([]);
    await page.getByRole('textbox', { name: '수정한 메시지' }).fill('두 번째 질문');
    await page.getByRole('button', { name: '저장하고 보내기' }).click();
    await expect(lastReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
    const switcher = userMessages(page).first().getByRole('group', { name: '버전' });
    await expect(switcher).toContainText('2 / 2');
    await switcher.getByRole('button', { name: '이전 버전' }).click();
    await expect(page.getByTestId('version-status')).toHaveText('2개 중 1번째 버전');
    expect(await englishLeft(page)).toEqual([]);
  });
});

test('a version chosen in one tab shows in the user’s other tab', async ({ browser, baseURL }) => {
  const first = await browser.newContext({ baseURL });
  const a = await first.newPage();
  await openChat(a, 'echo');
  await turn(a, 'tab question one');
  const m = userMessages(a).first();
  await m.hover();
  await m.getByRole('button', { name: 'Edit message' }).click();
  await a.getByRole('textbox', { name: 'Edited message' }).fill('tab question two');
  await a.getByRole('button', { name: 'Save & send' }).click();
  await expect(lastReply(a).locator('.markdown')).toHaveText('tab question two', { timeout: 20_000 });
  await expect(lastReply(a)).toHaveAttribute('data-status', 'complete');

  const second = await browser.newContext({ baseURL });
  await second.addCookies(await first.cookies());
  const b = await second.newPage();
  await openChat(b, 'echo');
  await expect(userMessages(b).first().locator('.bubble')).toHaveText('tab question two');

  await switcherOf(userMessages(a).first()).getByRole('button', { name: 'Previous version' }).click();
  await expect(userMessages(a).first().locator('.bubble')).toHaveText('tab question one');
  await expect(userMessages(b).first().locator('.bubble')).toHaveText('tab question one', { timeout: 10_000 });
  await expect(switcherOf(userMessages(b).first())).toContainText('1 / 2');
  await first.close();
  await second.close();
});
