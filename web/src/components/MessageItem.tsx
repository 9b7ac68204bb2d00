import { memo, useState } from 'react';
import type { ChatMessage } from '../chat/types';
import { useI18n } from '../i18n/I18n';
import { copyText } from './clipboard';
import { AlertIcon, CheckIcon, CopyIcon, RefreshIcon } from './icons';
import { Markdown } from './Markdown';
import { BotAvatar } from './BotAvatar';

interface Props {
  message: ChatMessage;
  botName: string;
  streaming: boolean;
  canRegenerate: boolean;
  onRegenerate: () => void;
}

export const MessageItem = memo(function MessageItem({ message, botName, streaming, canRegenerate, onRegenerate }: Props) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  const time = new Date(message.createdAt);
  const title = Number.isNaN(time.getTime()) ? undefined : time.toLocaleString();

  if (message.role === 'user') {
    return (
      <article className={`msg msg-user${message.status === 'failed' ? ' is-failed' : ''}`} data-id={message.id} data-role="user" aria-label={t('you')}>
        <div className="bubble" title={title} translate="no">
          {message.content}
        </div>
        {message.status === 'failed' && (
          <div className="msg-note msg-note-error">
            <AlertIcon width={14} height={14} /> {t('failed')}
          </div>
        )}
      </article>
    );
  }

  const copy = () => {
    void copyText(message.content).then(() => {
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    });
  };
  const badge =
    message.status === 'cancelled' ? t('stopped') : message.status === 'interrupted' ? t('interrupted') : null;

  return (
    <article
      className={`msg msg-bot${streaming ? ' is-streaming' : ''}`}
      data-id={message.id}
      data-role="assistant"
      data-status={message.status}
      aria-label={botName}
    >
      <BotAvatar botId={message.chatbotId} name={botName} />
      <div className="msg-body">
        <div className="msg-name" title={title} translate="no">
          {botName}
        </div>
        <div className="msg-content" translate="no" aria-live={streaming ? 'polite' : undefined} aria-busy={streaming || undefined} aria-atomic="false">
          {streaming && !message.content ? (
            <div className="typing" aria-label={t('generating')}>
              <span />
              <span />
              <span />
            </div>
          ) : (
            <Markdown text={message.content} streaming={streaming} />
          )}
        </div>
        {message.error && (
          <div className="msg-note msg-note-error" role="alert">
            <AlertIcon width={14} height={14} /> {t('replyError')}: {message.error}
          </div>
        )}
        {!streaming && (
          <div className="msg-actions">
            {badge && <span className="badge">{badge}</span>}
            {message.content && (
              <button type="button" className="icon-btn small" onClick={copy} aria-label={copied ? t('copied') : t('copy')} title={t('copy')}>
                {copied ? <CheckIcon width={16} height={16} /> : <CopyIcon width={16} height={16} />}
              </button>
            )}
            {canRegenerate && (
              <button type="button" className="icon-btn small" onClick={onRegenerate} aria-label={t('regenerate')} title={t('regenerate')}>
                <RefreshIcon width={16} height={16} />
              </button>
            )}
          </div>
        )}
      </div>
    </article>
  );
});
