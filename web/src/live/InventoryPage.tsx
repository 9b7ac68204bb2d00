import { useRef } from 'react';
import { useI18n } from '../i18n/I18n';
import { LiveStatus } from './LiveStatus';
import { Waiting } from './PricesPage';
import { useFrameRender, useHubStream } from './useHubStream';

interface StockUpdate {
  sku: string;
  name: string;
  stock: number;
  delta: number;
  ts: number;
}

const LOW = 5;

export function InventoryPage() {
  const { t } = useI18n();
  const items = useRef(new Map<string, StockUpdate>());
  const render = useFrameRender();
  const hub = useHubStream<StockUpdate>(['inventory/:sku'], (update) => {
    if (typeof update.sku !== 'string' || typeof update.stock !== 'number') return;
    items.current.set(update.sku, update);
    render();
  }, { replay: true });
  const list = [...items.current.values()].sort((a, b) => a.sku.localeCompare(b.sku));
  const max = Math.max(40, ...list.map((i) => i.stock));

  return (
    <section className="live-page" data-stale={hub.status === 'stale' || undefined} aria-labelledby="inventory-title">
      <header className="live-head">
        <h2 id="inventory-title">{t('inventory')}</h2>
        <LiveStatus hub={hub} />
      </header>
      {list.length === 0 ? (
        <Waiting />
      ) : (
        <div className="stock-list card">
          {list.map((item) => {
            const level = item.stock === 0 ? 'out' : item.stock <= LOW ? 'low' : 'ok';
            return (
              <div key={item.sku} className={`stock-row ${level}`} data-sku={item.sku}>
                <div className="stock-name" translate="no">
                  <span>{item.name}</span>
                  <span className="muted mono">{item.sku}</span>
                </div>
                <div className="stock-bar" aria-hidden="true">
                  <div style={{ width: `${(item.stock / max) * 100}%` }} />
                </div>
                <div className="stock-count" data-testid="stock">
                  {item.stock}
                </div>
                <span key={item.ts} className={`stock-delta ${item.delta >= 0 ? 'up' : 'down'}`}>
                  {item.delta >= 0 ? `+${item.delta}` : `−${Math.abs(item.delta)}`}
                </span>
                <span className="stock-label">{level === 'out' ? t('outOfStock') : level === 'low' ? t('lowStock') : t('inStock')}</span>
              </div>
            );
          })}
        </div>
      )}
    </section>
  );
}
