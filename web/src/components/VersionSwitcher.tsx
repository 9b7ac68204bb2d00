import type { ChatMessage } from '../chat/types';
import { useI18n } from '../i18n/I18n';
import { ChevronLeftIcon, ChevronRightIcon } from './icons';

export type VersionStep = 'prev' | 'next';

interface Props {
  message: ChatMessage;
  disabled: boolean;
  /** Shows the sibling `to` in place of `message` (`step`: which button asked, to keep focus on it). */
  onShow: (message: ChatMessage, to: string, step: VersionStep) => void;
}

/** "‹ 2 / 3 ›" under a message that has other versions (edits, regenerated replies). */
export function VersionSwitcher({ message, disabled, onShow }: Props) {
  const { t } = useI18n();
  const { versions } = message;
  const at = versions.indexOf(message.id);
  if (versions.length < 2 || at < 0) return null;
  const prev = versions[at - 1];
  const next = versions[at + 1];
  const where = { n: at + 1, m: versions.length };
  return (
    <div className="versions" role="group" aria-label={t('versions')} data-versions={`${where.n}/${where.m}`}>
      <button
        type="button"
        className="icon-btn small"
        data-version-step="prev"
        aria-label={t('previousVersion')}
        title={t('previousVersion')}
        disabled={disabled || prev === undefined}
        onClick={() => prev !== undefined && onShow(message, prev, 'prev')}
      >
        <ChevronLeftIcon width={16} height={16} />
      </button>
      <span className="versions-count" aria-hidden="true">
        {where.n} / {where.m}
      </span>
      <span className="sr-only">{t('versionOf', where)}</span>
      <button
        type="button"
        className="icon-btn small"
        data-version-step="next"
        aria-label={t('nextVersion')}
        title={t('nextVersion')}
        disabled={disabled || next === undefined}
        onClick={() => next !== undefined && onShow(message, next, 'next')}
      >
        <ChevronRightIcon width={16} height={16} />
      </button>
    </div>
  );
}
