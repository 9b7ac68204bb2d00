import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { I18nProvider } from '../i18n/I18n';
import { LiveStatus } from './LiveStatus';
import { addNote, type Note } from './NotificationBell';
import { freshness, STALE_MS } from './useHubStream';

const note = (id: string, ts: number, title = id): Note => ({ id, title, body: '', kind: 'info', ts });

describe('issue 17 bug 9: the bell', () => {
  it('keeps one copy of a notification published on the public and the private topic', () => {
    let list = addNote([], note('n1', 1, 'For you: Order shipped'));
    list = addNote(list, note('n1', 1, 'Order shipped'));
    list = addNote(list, note('n2', 2));
    expect(list.map((n) => [n.id, n.title])).toEqual([
      ['n2', 'n2'],
      ['n1', 'For you: Order shipped'],
    ]);
  });

  it('orders replayed and live notifications newest first and keeps the latest 50', () => {
    let list: readonly Note[] = [];
    for (let i = 0; i < 60; i++) list = addNote(list, note(`n${i}`, (i * 7) % 60));
    expect(list).toHaveLength(50);
    expect(list.map((n) => n.ts)).toEqual([...list.map((n) => n.ts)].sort((a, b) => b - a));
  });
});

describe('issue 17 bug 4: stale live data', () => {
  it('is stale when no update came for a while, or the connection is down after data arrived', () => {
    expect(freshness('open', null, 100_000)).toBe('open');
    expect(freshness('connecting', null, 100_000)).toBe('connecting');
    expect(freshness('open', 100_000, 100_000 + STALE_MS - 1)).toBe('open');
    expect(freshness('open', 100_000, 100_000 + STALE_MS + 1)).toBe('stale');
    expect(freshness('reconnecting', 100_000, 100_001)).toBe('stale');
  });

  it('says so with the time of the last update, in Korean too', () => {
    render(
      <I18nProvider lang="ko">
        <LiveStatus hub={{ status: 'stale', lastUpdate: Date.UTC(2026, 0, 1, 3, 4, 5) }} />
      </I18nProvider>,
    );
    expect(screen.getByRole('status')).toHaveTextContent(/^업데이트 멈춤 — 마지막 업데이트 .+/);
  });
});
