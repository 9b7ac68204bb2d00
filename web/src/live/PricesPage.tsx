import { useRef } from 'react';
import { useI18n } from '../i18n/I18n';
import { LiveStatus } from './LiveStatus';
import { Sparkline } from './Sparkline';
import { useFrameRender, useHubStream } from './useHubStream';

interface PriceUpdate {
  symbol: string;
  price: number;
  change: number;
  changePct: number;
  ts: number;
}

interface Ticker {
  last: PriceUpdate;
  previous: number | null;
  history: number[];
}

const POINTS = 90;
const ORDER = ['BTC', 'ETH', 'AAPL', 'TSLA'];

export function PricesPage() {
  const { t, lang } = useI18n();
  const tickers = useRef(new Map<string, Ticker>());
  const render = useFrameRender();
  const hub = useHubStream<PriceUpdate>(['prices/:symbol'], (update) => {
    if (typeof update.symbol !== 'string' || typeof update.price !== 'number') return;
    const ticker = tickers.current.get(update.symbol);
    const history = [...(ticker?.history ?? []), update.price].slice(-POINTS);
    tickers.current.set(update.symbol, { last: update, previous: ticker?.last.price ?? null, history });
    render();
  }, { replay: true });
  const list = [...tickers.current.values()].sort(
    (a, b) => (ORDER.indexOf(a.last.symbol) + 1 || 99) - (ORDER.indexOf(b.last.symbol) + 1 || 99) || a.last.symbol.localeCompare(b.last.symbol),
  );
  const money = (n: number) => n.toLocaleString(lang === 'ko' ? 'ko-KR' : 'en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  return (
    <section className="live-page" data-stale={hub.status === 'stale' || undefined} aria-labelledby="prices-title">
      <header className="live-head">
        <h2 id="prices-title">{t('prices')}</h2>
        <LiveStatus hub={hub} />
      </header>
      {list.length === 0 ? (
        <Waiting />
      ) : (
        <div className="ticker-grid">
          {list.map(({ last, previous, history }) => {
            const up = last.change >= 0;
            const tick = previous === null ? '' : last.price > previous ? 'tick-up' : last.price < previous ? 'tick-down' : '';
            return (
              <article key={last.symbol} className="ticker card" data-symbol={last.symbol} aria-labelledby={`ticker-${last.symbol}`}>
                <div className="ticker-top" translate="no">
                  <span className="ticker-symbol" id={`ticker-${last.symbol}`}>{last.symbol}</span>
                  <span className={`ticker-change ${up ? 'up' : 'down'}`}>
                    {up ? '▲' : '▼'} {Math.abs(last.changePct).toFixed(2)}%
                  </span>
                </div>
                <div key={last.ts} className={`ticker-price ${tick}`} data-testid="price">
                  {money(last.price)}
                </div>
                <div className={`ticker-delta ${up ? 'up' : 'down'}`}>
                  {up ? '+' : '−'}
                  {money(Math.abs(last.change))}
                </div>
                <Sparkline values={history} up={up} />
              </article>
            );
          })}
        </div>
      )}
    </section>
  );
}

export function Waiting() {
  const { t } = useI18n();
  return (
    <div className="live-waiting">
      <span className="spinner" aria-hidden="true" />
      <p>{t('waitingForData')}</p>
      <p className="muted">{t('demoHint')}</p>
    </div>
  );
}
