import { useEffect } from 'react';
import type { Bot } from '../api/types';
import { useStreamingChat } from '../hooks/useStreamingChat';
import { useI18n } from '../i18n/I18n';
import { Composer } from './Composer';
import { AlertIcon, CloseIcon } from './icons';
import { MessageList } from './MessageList';

export function ChatView({ bot }: { bot: Bot }) {
  const { t } = useI18n();
  const chat = useStreamingChat({ name: bot.id });
  const { isStreaming, stop } = chat;

  useEffect(() => {
    if (!isStreaming) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape' && !event.isComposing) stop();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [isStreaming, stop]);

  const status = chat.isReconnecting ? t('reconnecting') : chat.isStopping ? t('stopping') : t('generating');

  return (
    <div className="chat">
      <MessageList chat={chat} bot={bot} onSuggestion={chat.send} />
      <div className="chat-bottom">
        {chat.error && (
          <div className="error-banner" role="alert">
            <AlertIcon width={18} height={18} />
            <span className="error-text">{chat.error.message}</span>
            {chat.error.retry && (
              <button type="button" className="btn btn-small" onClick={chat.retry}>
                {t('retry')}
              </button>
            )}
            <button type="button" className="icon-btn small" onClick={chat.dismissError} aria-label={t('dismiss')}>
              <CloseIcon width={16} height={16} />
            </button>
          </div>
        )}
        {isStreaming && (
          <div className="streaming-pill" aria-hidden="true">
            <span className="pulse" />
            {status}
          </div>
        )}
        <div className="sr-only" role="status" aria-live="polite">
          {isStreaming ? status : ''}
        </div>
        <Composer
          botName={bot.name}
          streaming={isStreaming}
          stopping={chat.isStopping}
          disabled={!chat.isReady && !chat.error}
          onSend={chat.send}
          onStop={stop}
        />
      </div>
    </div>
  );
}
