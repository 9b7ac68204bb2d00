import { useCallback, useEffect, useState } from 'react';
import type { ApiClient } from './api/client';
import type { Bot } from './api/types';
import { ChatView } from './components/ChatView';
import { CloseIcon, MenuIcon } from './components/icons';
import { LangSwitch, ThemeToggle } from './components/Settings';
import { Sidebar } from './components/Sidebar';
import { useI18n } from './i18n/I18n';
import { InventoryPage } from './live/InventoryPage';
import { NotificationBell } from './live/NotificationBell';
import { PricesPage } from './live/PricesPage';
import { TrackingPage } from './live/TrackingPage';
import { useHashRoute } from './route';

type Boot = { state: 'loading' } | { state: 'failed'; message: string } | { state: 'ready'; bots: Bot[]; userId: string };

const LIVE_VIEWS = { prices: PricesPage, tracking: TrackingPage, inventory: InventoryPage } as const;
export type LiveView = keyof typeof LIVE_VIEWS;

export function App({ api }: { api: ApiClient }) {
  const { t } = useI18n();
  const [boot, setBoot] = useState<Boot>({ state: 'loading' });
  const [route, navigate] = useHashRoute();
  const [drawerOpen, setDrawerOpen] = useState(false);

  const start = useCallback(async () => {
    setBoot({ state: 'loading' });
    try {
      const session = await api.createSession();
      setBoot({ state: 'ready', bots: await api.listBots(), userId: session.userId });
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
            <p className="muted">{boot.message}</p>
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
  const liveTitle = { prices: t('prices'), tracking: t('tracking'), inventory: t('inventory') };

  return (
    <div className={`app${drawerOpen ? ' drawer-open' : ''}`}>
      <aside className="sidebar" id="sidebar" aria-label={t('menu')}>
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
                <h1>{bot.name}</h1>
                <span className="model">{bot.model || bot.provider}</span>
              </div>
            )
          )}
          <div className="topbar-actions">
            <NotificationBell userId={boot.userId} />
            <LangSwitch />
            <ThemeToggle />
          </div>
        </header>
        {Live ? (
          <div className="live-scroll">
            <Live />
          </div>
        ) : (
          bot && <ChatView key={bot.id} bot={bot} />
        )}
      </main>
    </div>
  );
}
