import { useCallback, useEffect, useRef, useState } from 'react';
import { useI18n } from '../i18n/I18n';
import { addItems, parseItem, type FeedItem } from './feed';
import { LiveStatus } from './LiveStatus';
import { Waiting } from './PricesPage';
import { useHubStream } from './useHubStream';

/** Scrolled less than this from the top, the reader is "at the top": new items show at once. */
const AT_TOP_PX = 40;

/** The localised sentence with the names as data: marked so they are not translated. */
function sentence(template: string, item: FeedItem) {
  return template.split(/(\{actor\}|\{target\})/).map((part, i) =>
    part === '{actor}' || part === '{target}' ? (
      <b key={i} translate="no">
        {part === '{actor}' ? item.actor : item.target}
      </b>
    ) : (
      part
    ),
  );
}

/**
 * The live activity feed. New items go on top; while the reader is scrolled down they
 * wait behind a "3 new items" pill, so what is being read never moves. The hub replays
 * what it retains, so the page opens with the latest items. Public items on `feed`,
 * the reader's own on `users/{id}/feed` (private, like the bell's).
 */
export function FeedPage({ userId }: { userId: string }) {
  const { t, lang } = useI18n();
  const [items, setItems] = useState<readonly FeedItem[]>([]);
  // Held while the reader is scrolled down; a ref, since the hub handler and the
  // scroll listener both read it between renders.
  const pending = useRef<FeedItem[]>([]);
  const [pendingCount, setPendingCount] = useState(0);
  const section = useRef<HTMLElement>(null);
  const scroller = useCallback(() => section.current?.closest('.live-scroll') ?? null, []);
  const atTop = useCallback(() => (scroller()?.scrollTop ?? 0) < AT_TOP_PX, [scroller]);

  const hub = useHubStream<unknown>(
    ['feed', `users/${userId}/feed`],
    (data) => {
      const item = parseItem(data);
      if (!item) return;
      if (atTop()) setItems((list) => addItems(list, [item]));
      else if (!pending.current.some((p) => p.id === item.id)) {
        pending.current.push(item);
        setPendingCount(pending.current.length);
      }
    },
    { replay: true, types: ['activity'] },
  );

  const showPending = useCallback(() => {
    const waiting = pending.current;
    if (waiting.length === 0) return;
    pending.current = [];
    setPendingCount(0);
    setItems((list) => addItems(list, waiting));
  }, []);

  // Back at the top by hand: what waited is shown, as the pill would.
  useEffect(() => {
    const el = scroller();
    if (!el) return;
    const onScroll = () => {
      if (el.scrollTop < AT_TOP_PX) showPending();
    };
    el.addEventListener('scroll', onScroll, { passive: true });
    return () => el.removeEventListener('scroll', onScroll);
  }, [scroller, showPending]);

  const jumpToTop = () => {
    showPending();
    scroller()?.scrollTo({ top: 0, behavior: 'smooth' });
  };

  const time = (ts: number) => new Date(ts).toLocaleTimeString(lang === 'ko' ? 'ko-KR' : 'en-US');
  return (
    <section ref={section} className="live-page feed-page" data-stale={hub.status === 'stale' || undefined} aria-labelledby="feed-title">
      <header className="live-head">
        <h2 id="feed-title">{t('feed')}</h2>
        <LiveStatus hub={hub} />
      </header>
      {/* Why a zero-height holder: the pill appearing must not push the list down. */}
      <div className="feed-pill-holder">
        {pendingCount > 0 && (
          <button type="button" className="feed-pill" onClick={jumpToTop} data-testid="new-items">
            {pendingCount === 1 ? t('newItem') : t('newItems', { n: pendingCount })}
          </button>
        )}
      </div>
      {items.length === 0 ? (
        <Waiting />
      ) : (
        <ol className="feed-list card" aria-live="off">
          {items.map((item) => (
            <li key={item.id} className={`feed-item${item.private ? ' private' : ''}`} data-id={item.id}>
              <span className="feed-avatar" aria-hidden="true">
                {item.actor.slice(0, 1)}
              </span>
              <div>
                <div className="feed-text">{sentence(t(`feed_${item.verb}`), item)}</div>
                <div className="feed-meta">
                  <time dateTime={new Date(item.ts).toISOString()}>{time(item.ts)}</time>
                  {item.private && <span className="feed-private">{t('onlyYou')}</span>}
                </div>
              </div>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
