import { useI18n } from '../i18n/I18n';
import type { HubState } from './useHubStream';

export function LiveStatus({ hub }: { hub: HubState }) {
  const { t, lang } = useI18n();
  const { status, lastUpdate } = hub;
  const label =
    status === 'open'
      ? t('liveConnected')
      : status === 'connecting'
        ? t('connecting')
        : status === 'stale'
          ? lastUpdate === null
            ? t('staleNever')
            : t('stale', { time: new Date(lastUpdate).toLocaleTimeString(lang === 'ko' ? 'ko-KR' : 'en-US') })
          : t('liveReconnecting');
  return (
    <span className={`live-status ${status}`} role="status">
      <span className="live-dot" aria-hidden="true" />
      {label}
    </span>
  );
}
