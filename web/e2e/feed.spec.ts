import { expect, shot, startDemo, test } from './fixtures';

test('live feed: items arrive on top, a pill holds new ones while scrolled, replay on reload', async ({ page }) => {
  test.setTimeout(120_000);
  await page.setViewportSize({ width: 1280, height: 500 });
  await page.goto('/#/live/feed');
  await expect(page.getByRole('heading', { level: 2, name: 'Live feed' })).toBeVisible();
  const me = (await (await page.request.get('/api/me')).json()) as { userId: string };
  const demo = startDemo(me.userId);
  try {
    const items = page.locator('li.feed-item');
    // Enough items to scroll, at the top while the reader is at the top.
    await expect.poll(() => items.count(), { timeout: 40_000 }).toBeGreaterThanOrEqual(12);
    // Public and this user's private items, the private ones marked.
    await expect(page.locator('li.feed-item.private').first()).toBeVisible({ timeout: 30_000 });
    await expect(page.locator('li.feed-item.private .feed-private').first()).toHaveText('Only you');
    await shot(page, 'live-feed');

    // Scrolled down, what the reader looks at stays put while items arrive.
    const scroller = page.locator('.live-scroll');
    await scroller.evaluate((el) => el.scrollTo({ top: 300 }));
    const reading = page.locator('li.feed-item').nth(6);
    const id = await reading.getAttribute('data-id');
    const before = await reading.boundingBox();
    const pill = page.getByTestId('new-items');
    await expect(pill).toBeVisible({ timeout: 15_000 });
    await expect(pill).toHaveText(/^(1 new item|\d+ new items)$/);
    await expect.poll(async () => Number((await pill.innerText()).split(' ')[0]), { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
    const after = await page.locator(`li.feed-item[data-id="${id}"]`).boundingBox();
    expect(after?.y).toBe(before?.y);
    await shot(page, 'live-feed-pill');

    // The pill shows them and scrolls up to them.
    const waiting = Number((await pill.innerText()).split(' ')[0]);
    const count = await items.count();
    await pill.click();
    await expect.poll(() => scroller.evaluate((el) => el.scrollTop)).toBe(0);
    await expect(pill).toHaveCount(0);
    expect(await items.count()).toBeGreaterThanOrEqual(count + waiting);

    // A reload replays the latest items from the hub.
    const shown = await items.evaluateAll((els) => els.slice(0, 5).map((el) => el.getAttribute('data-id')));
    demo.kill('SIGTERM');
    await page.reload();
    await expect(page.getByRole('heading', { level: 2, name: 'Live feed' })).toBeVisible();
    for (const shownId of shown) await expect(page.locator(`li.feed-item[data-id="${shownId}"]`)).toHaveCount(1);
  } finally {
    demo.kill('SIGTERM');
  }
});

test('live feed in Korean: the sentences are Korean, the names are data', async ({ page }) => {
  await page.addInitScript(() => localStorage.setItem('rill:lang', 'ko'));
  await page.goto('/#/live/feed');
  await expect(page.getByRole('heading', { level: 2, name: '실시간 피드' })).toBeVisible();
  // The items the first test's demo published, replayed by the hub.
  const first = page.locator('li.feed-item .feed-text').first();
  await expect(first).toBeVisible({ timeout: 10_000 });
  const words = await first.evaluate((el) => {
    const copy = el.cloneNode(true) as HTMLElement;
    copy.querySelectorAll('[translate="no"]').forEach((n) => n.remove());
    return copy.textContent ?? '';
  });
  expect(words).toMatch(/[가-힣]/);
  expect(words).not.toMatch(/[A-Za-z]/);
});
