import { useI18n } from '../i18n/I18n';
import type { HubStatus } from './useHubStream';

export function LiveStatus({ status }: { status: HubStatus }) {
  const { t } = useI18n();
  const label = status === 'open' ? t('liveConnected') : status === 'connecting' ? t('connecting') : t('liveReconnecting');
  return (
    <span className={`live-status ${status}`} role="status">
      <span className="live-dot" aria-hidden="true" />
      {label}
    </span>
  );
}
