import { useEffect, useState } from 'react';
import type { ChatError, ErrorKind } from '../chat/types';
import { useI18n } from '../i18n/I18n';
import type { StringKey } from '../i18n/strings';
import { AlertIcon, CloseIcon } from './icons';

const TEXT: Record<ErrorKind, StringKey> = {
  network: 'errNetwork',
  rateLimited: 'errRateLimited',
  tooLarge: 'errTooLarge',
  server: 'errServer',
  refused: 'errRefused',
};

/** Seconds left before `at` (epoch ms), re-rendering every second until then. */
function useSecondsUntil(at: number | null): number {
  const left = () => (at === null ? 0 : Math.max(0, Math.ceil((at - Date.now()) / 1000)));
  const [seconds, setSeconds] = useState(left);
  useEffect(() => {
    setSeconds(left());
    if (at === null) return;
    const timer = setInterval(() => {
      const next = left();
      setSeconds(next);
      if (next === 0) clearInterval(timer);
    }, 250);
    return () => clearInterval(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- `left` only reads `at`
  }, [at]);
  return seconds;
}

/**
 * A chat error in the user's language. The server's problem detail (English) is
 * shown to English readers; a browser's network message ("Failed to fetch") never.
 */
export function ErrorBanner({ error, onRetry, onDismiss }: { error: ChatError; onRetry: () => void; onDismiss: () => void }) {
  const { t, lang } = useI18n();
  const wait = useSecondsUntil(error.retryAt);
  const text = lang === 'en' && error.kind !== 'network' ? error.message : t(TEXT[error.kind]);
  return (
    <div className="error-banner" role="alert" data-kind={error.kind}>
      <AlertIcon width={18} height={18} />
      <span className="error-text">{text}</span>
      {error.retry && (
        <button type="button" className="btn btn-small" onClick={onRetry} disabled={wait > 0}>
          {wait > 0 ? t('retryIn', { n: wait }) : t('retry')}
        </button>
      )}
      <button type="button" className="icon-btn small" onClick={onDismiss} aria-label={t('dismiss')}>
        <CloseIcon width={16} height={16} />
      </button>
    </div>
  );
}
