import { useRef } from 'react';
import { useI18n } from '../i18n/I18n';
import type { Lang } from '../i18n/strings';
import { LiveStatus } from './LiveStatus';
import { Waiting } from './PricesPage';
import { useFrameRender, useHubStream } from './useHubStream';

interface ParcelUpdate {
  id: string;
  status: string;
  location: string;
  eta: number | string;
  ts: number;
  step: number;
  steps: number;
}

const STEP_LABELS: Record<Lang, Record<string, string>> = {
  en: {
    label_created: 'Label created',
    picked_up: 'Picked up',
    in_transit: 'In transit',
    at_hub: 'At sorting hub',
    out_for_delivery: 'Out for delivery',
    delivered: 'Delivered',
  },
  ko: {
    label_created: '송장 생성',
    picked_up: '집하 완료',
    in_transit: '배송 중',
    at_hub: '허브 도착',
    out_for_delivery: '배달 출발',
    delivered: '배달 완료',
  },
};
const STEPS = Object.keys(STEP_LABELS.en);

export function TrackingPage() {
  const { t, lang } = useI18n();
  const parcels = useRef(new Map<string, ParcelUpdate[]>());
  const render = useFrameRender();
  const hub = useHubStream<ParcelUpdate>(['parcels/:id'], (update) => {
    if (typeof update.id !== 'string' || typeof update.step !== 'number') return;
    const events = parcels.current.get(update.id) ?? [];
    if (!events.some((e) => e.step === update.step)) parcels.current.set(update.id, [...events, update].sort((a, b) => a.step - b.step));
    render();
  }, { replay: true });
  const label = (s: string) => STEP_LABELS[lang][s] ?? s.replaceAll('_', ' ');
  const time = (ms: number | string) => new Date(ms).toLocaleTimeString(lang === 'ko' ? 'ko-KR' : 'en-US', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const list = [...parcels.current.entries()].sort((a, b) => (b[1].at(-1)?.ts ?? 0) - (a[1].at(-1)?.ts ?? 0)).slice(0, 6);

  return (
    <section className="live-page" data-stale={hub.status === 'stale' || undefined} aria-labelledby="tracking-title">
      <header className="live-head">
        <h2 id="tracking-title">{t('tracking')}</h2>
        <LiveStatus hub={hub} />
      </header>
      {list.length === 0 ? (
        <Waiting />
      ) : (
        <div className="parcel-list">
          {list.map(([id, events]) => {
            const last = events.at(-1)!;
            const steps = last.steps || STEPS.length;
            const delivered = last.step >= steps;
            return (
              <article key={id} className="parcel card" data-parcel={id} aria-labelledby={`parcel-${id}`}>
                <div className="parcel-head">
                  <div>
                    <div className="parcel-id" translate="no" id={`parcel-${id}`}>{id}</div>
                    <div className={`parcel-status${delivered ? ' done' : ''}`}>{label(last.status)}</div>
                  </div>
                  <div className="parcel-meta">
                    <div>{t('step', { n: last.step, m: steps })}</div>
                    {!delivered && (
                      <div className="muted">
                        {t('eta')} {time(last.eta)}
                      </div>
                    )}
                  </div>
                </div>
                <div className="progress" role="progressbar" aria-valuemin={0} aria-valuemax={steps} aria-valuenow={last.step} aria-labelledby={`parcel-${id}`}>
                  <div style={{ width: `${(last.step / steps) * 100}%` }} />
                </div>
                <ol className="timeline">
                  {STEPS.slice(0, steps).map((step, i) => {
                    const event = events.find((e) => e.step === i + 1);
                    const state = i + 1 < last.step ? 'done' : i + 1 === last.step ? 'current' : 'todo';
                    return (
                      <li key={step} className={state} aria-current={state === 'current' ? 'step' : undefined}>
                        <span className="tl-dot" aria-hidden="true" />
                        <span className="tl-label">{label(step)}</span>
                        {event && (
                          <span className="tl-detail" translate="no">
                            {event.location} · {time(event.ts)}
                          </span>
                        )}
                      </li>
                    );
                  })}
                </ol>
              </article>
            );
          })}
        </div>
      )}
    </section>
  );
}
