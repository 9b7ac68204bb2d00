import { expect, shot, startDemo, test } from './fixtures';

test('live pages follow the hub: prices with sparklines, notifications bell, parcel timeline, inventory', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/#/live/prices');
  await expect(page.getByRole('heading', { level: 2, name: 'Prices' })).toBeVisible();
  // Empty until data comes, unless an earlier spec's demo left updates the hub replays
  // (the pages replay retained updates on open): then the tickers are there at once.
  await expect(page.getByText('Waiting for live data…').or(page.locator('article.ticker').first()))
    .toBeVisible();
  const me = (await (await page.request.get('/api/me')).json()) as { userId: string };
  const demo = startDemo(me.userId);
  const demos = [demo];
  try {
    // Prices: four tickers whose prices move, each with a sparkline.
    const tickers = page.locator('article.ticker');
    await expect(tickers).toHaveCount(4, { timeout: 15_000 });
    const btc = page.locator('article[data-symbol="BTC"] [data-testid="price"]');
    const first = await btc.innerText();
    await expect.poll(() => btc.innerText(), { timeout: 10_000 }).not.toBe(first);
    await expect(page.locator('article[data-symbol="BTC"] .sparkline path').nth(1)).toHaveAttribute('d', /L.*L.*L/);
    await expect(page.getByRole('status').filter({ hasText: 'Live' })).toBeVisible();

    // Notifications: public and this user's private ones raise the unread count.
    const unread = page.getByTestId('unread');
    await expect(unread).toBeVisible({ timeout: 15_000 });
    await expect.poll(async () => Number(await unread.innerText())).toBeGreaterThanOrEqual(1);
    await shot(page, 'live-prices');
    await page.getByRole('button', { name: /^Notifications/ }).click();
    const panel = page.getByRole('dialog', { name: 'Notifications' });
    await expect(panel.locator('.note-title').filter({ hasText: /^For you:/ }).first()).toBeVisible();
    await expect(unread).toHaveCount(0);
    await shot(page, 'live-notifications');
    await page.keyboard.press('Escape');

    // Issue 17 bug 9: after a reload the bell replays the recent ones, each once (the
    // public and private copies share an id), and what was read stays read.
    const ids = async () => panel.locator('li.note').evaluateAll((items) => items.map((li) => li.getAttribute('data-id')));
    await page.reload();
    await expect(page.getByRole('heading', { level: 2, name: 'Prices' })).toBeVisible();
    await page.getByRole('button', { name: /^Notifications/ }).click();
    await expect(panel.locator('li.note').first()).toBeVisible({ timeout: 10_000 });
    const replayed = await ids();
    expect(new Set(replayed).size).toBe(replayed.length);
    await page.keyboard.press('Escape');


    // Delivery tracking: a parcel advancing through its timeline.
    await page.locator('button[data-live="tracking"]').click();
    await expect(page.locator('article.parcel').first()).toBeVisible({ timeout: 10_000 });
    // A parcel advancing: the steps of every parcel on the page now, then one whose step grew.
    // (Parcels an earlier spec's demo left are replayed too, stuck where that demo stopped,
    // so "still on its way" alone does not mean "moving".)
    const steps = async () =>
      page.locator('article.parcel').evaluateAll((parcels) =>
        Object.fromEntries(
          parcels.map((p) => [p.getAttribute('data-parcel'), Number(p.querySelector('[role="progressbar"]')?.getAttribute('aria-valuenow'))]),
        ),
      );
    // Compared poll to poll: a replayed parcel whose id the new demo reuses starts again at step 1.
    let last = await steps();
    let moved: string | null = null;
    await expect
      .poll(async () => {
        const now = await steps();
        moved = Object.keys(now).find((id) => id in last && now[id] > last[id]) ?? null;
        last = now;
        return moved;
      }, { timeout: 15_000 })
      .not.toBeNull();
    const parcel = page.locator(`article.parcel[data-parcel="${moved}"]`);
    await expect(parcel.locator('li[aria-current="step"]')).toHaveCount(1);
    await shot(page, 'live-tracking');

    // Inventory: every product with its stock.
    await page.locator('button[data-live="inventory"]').click();
    await expect(page.locator('.stock-row').first()).toBeVisible({ timeout: 10_000 });
    await page.waitForTimeout(4000);
    await shot(page, 'live-inventory');

    await page.setViewportSize({ width: 375, height: 740 });
    await page.locator('.menu-btn').click();
    await page.locator('button[data-live="prices"]').click();
    await expect(page.locator('article.ticker')).toHaveCount(4);
    await page.waitForTimeout(1500);
    await shot(page, 'live-prices-phone');

    // Issue 17 bug 4: stale data is not shown as live. The demo stops: the prices say so;
    // a new demo starts: they are live again.
    demo.kill('SIGTERM');
    await expect(page.locator('.live-status.stale')).toBeVisible({ timeout: 20_000 });
    await expect(page.locator('.live-page[data-stale]')).toBeVisible();
    await shot(page, 'live-stale-phone');
    demos.push(startDemo(me.userId));
    await expect(page.locator('.live-status.open')).toBeVisible({ timeout: 15_000 });
    await expect(page.locator('.live-page[data-stale]')).toHaveCount(0);
  } finally {
    for (const d of demos) d.kill('SIGTERM');
  }
});
