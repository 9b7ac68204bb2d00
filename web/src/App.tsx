import { useCallback, useEffect, useState, type ComponentType } from 'react';
import type { ApiClient } from './api/client';
import type { Bot, Limits } from './api/types';
import { ChatView } from './components/ChatView';
import { CloseIcon, MenuIcon } from './components/icons';
import { LangSwitch, ThemeToggle } from './components/Settings';
import { setBotOrder } from './components/BotAvatar';
import { Sidebar } from './components/Sidebar';
import { useI18n } from './i18n/I18n';
import { FeedPage } from './live/FeedPage';
import { InventoryPage } from './live/InventoryPage';
import type { SyncEvent } from './chat/sync';
import { useChatRegistry } from './hooks/ChatContext';
import { NotificationBell, type Note } from './live/NotificationBell';
import { PricesPage } from './live/PricesPage';
import { TrackingPage } from './live/TrackingPage';
import { useHashRoute } from './route';
import { useMediaQuery } from './useMediaQuery';

/** The width below which the sidebar is a drawer (styles.css uses the same). */
const PHONE = '(max-width: 760px)';

type Boot =
  | { state: 'loading' }
  | { state: 'failed'; message: string }
  | { state: 'ready'; bots: Bot[]; userId: string; limits: Limits };

/** Rill's defaults, used if the server does not say its own. */
const DEFAULT_LIMITS: Limits = { maxBodyBytes: 64 * 1024, maxMessageChars: 32_000 };

/** Sync events stamped this long before the page loaded are taken as already loaded. */
const SYNC_SLACK_MS = 60_000;

export type LiveView = 'prices' | 'tracking' | 'inventory' | 'feed';
const LIVE_VIEWS: Record<LiveView, ComponentType<{ userId: string }>> = {
  prices: PricesPage,
  tracking: TrackingPage,
  inventory: InventoryPage,
  feed: FeedPage,
};

export function App({ api }: { api: ApiClient }) {
  const { t, lang } = useI18n();
  const [boot, setBoot] = useState<Boot>({ state: 'loading' });
  const [route, navigate] = useHashRoute();
  const [drawerOpen, setDrawerOpen] = useState(false);
  const isPhone = useMediaQuery(PHONE);
  const registry = useChatRegistry();
  const [openedAt] = useState(() => Date.now());

  const start = useCallback(async () => {
    setBoot({ state: 'loading' });
    try {
      const session = await api.createSession();
      const [bots, limits] = await Promise.all([api.listBots(), api.limits().catch(() => null)]);
      setBotOrder(bots.map((b) => b.id));
      setBoot({ state: 'ready', bots, userId: session.userId, limits: limits ?? DEFAULT_LIMITS });
    } catch (error) {
      setBoot({ state: 'failed', message: error instanceof Error ? error.message : String(error) });
    }
  }, [api]);

  useEffect(() => {
    void start();
  }, [start]);

  useEffect(() => {
    if (!drawerOpen) return;
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && setDrawerOpen(false);
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [drawerOpen]);

  if (boot.state !== 'ready') {
    return (
      <div className="boot">
        {boot.state === 'loading' ? (
          <>
            <span className="spinner" aria-hidden="true" />
            <span role="status">{t('connecting')}</span>
          </>
        ) : (
          <div className="boot-error" role="alert">
            <p>{t('connectFailed')}</p>
            {lang === 'en' && <p className="muted">{boot.message}</p>}
            <button type="button" className="btn" onClick={() => void start()}>
              {t('retry')}
            </button>
          </div>
        )}
      </div>
    );
  }

  const bots = boot.bots;
  const routeBot = route.page === 'chat' ? route.botId : null;
  const bot = bots.find((b) => b.id === routeBot) ?? bots[0] ?? null;
  const liveView: LiveView | null = route.page === 'live' && route.view in LIVE_VIEWS ? (route.view as LiveView) : null;
  const Live = liveView ? LIVE_VIEWS[liveView] : null;
  const onChatEvent = (event: SyncEvent): Note | null => {
    // Why a minute of slack: the server's clock stamps the event, this page's clock
    // the load; what happened well before the load is already in what it loaded.
    if (event.ts === null || event.ts > openedAt - SYNC_SLACK_MS) registry.applySync(event);
    // Notes only for replies finished since this page opened: a replayed one is history.
    if (event.kind !== 'reply_finished' || !event.messageId || event.ts === null || event.ts < openedAt) return null;
    const here =
      document.visibilityState === 'visible' &&
      !liveView &&
      bot?.id === event.chatbotId &&
      registry.get(bot.id).getSnapshot().conversationId === event.conversationId;
    if (here) return null;
    const name = bots.find((b) => b.id === event.chatbotId)?.name ?? event.chatbotId ?? '';
    return { id: event.messageId, title: t('replyReady'), body: name, kind: 'chat', ts: event.ts };
  };
  const liveTitle = { prices: t('prices'), tracking: t('tracking'), inventory: t('inventory'), feed: t('feed') };

  return (
    <div className={`app${drawerOpen ? ' drawer-open' : ''}`}>
      {/* Why inert: off-screen, the closed drawer's buttons must not take focus (issue 17). */}
      <aside className="sidebar" id="sidebar" aria-label={t('menu')} inert={isPhone && !drawerOpen}>
        <button type="button" className="icon-btn drawer-close" onClick={() => setDrawerOpen(false)} aria-label={t('closeMenu')}>
          <CloseIcon />
        </button>
        <Sidebar
          bots={bots}
          botId={bot?.id ?? null}
          liveView={liveView}
          onSelectBot={(id) => navigate({ page: 'chat', botId: id })}
          onSelectLive={(view) => navigate({ page: 'live', view })}
          onClose={() => setDrawerOpen(false)}
        />
      </aside>
      <div className="backdrop" onClick={() => setDrawerOpen(false)} aria-hidden="true" />
      <main className="main">
        <header className="topbar">
          <button type="button" className="icon-btn menu-btn" onClick={() => setDrawerOpen(true)} aria-label={t('menu')} aria-controls="sidebar" aria-expanded={drawerOpen}>
            <MenuIcon />
          </button>
          {liveView ? (
            <div className="topbar-title">
              <h1>{liveTitle[liveView]}</h1>
            </div>
          ) : (
            bot && (
              <div className="topbar-title">
                <h1 translate="no">{bot.name}</h1>
                <span className="model" translate="no">{bot.model || bot.provider}</span>
              </div>
            )
          )}
          <div className="topbar-actions">
            <NotificationBell userId={boot.userId} onChatEvent={onChatEvent} />
            <LangSwitch />
            <ThemeToggle />
          </div>
        </header>
        {Live ? (
          <div className="live-scroll">
            <Live userId={boot.userId} />
          </div>
        ) : (
          bot && <ChatView key={bot.id} bot={bot} limits={boot.limits} api={api} />
        )}
      </main>
    </div>
  );
}
