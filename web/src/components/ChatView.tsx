import { useEffect } from 'react';
import type { Bot, Limits } from '../api/types';
import { useStreamingChat } from '../hooks/useStreamingChat';
import { useI18n } from '../i18n/I18n';
import { Composer } from './Composer';
import type { ApiClient } from '../api/client';
import { ErrorBanner } from './ErrorBanner';
import { ExportButtons } from './ExportButtons';
import { MessageList } from './MessageList';

export function ChatView({ bot, limits, api }: { bot: Bot; limits: Limits; api: ApiClient }) {
  const { t } = useI18n();
  const chat = useStreamingChat({ name: bot.id });
  const { stop } = chat;
  // A reply of this bot may be streaming in another conversation than the one shown.
  const isStreaming = chat.isStreaming && chat.streamingConversationId === chat.conversationId;
  const busyElsewhere = chat.isStreaming && !isStreaming;

  useEffect(() => {
    if (!isStreaming) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape' && !event.isComposing) stop();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [isStreaming, stop]);

  const status = chat.isReconnecting ? t('reconnectingCalm') : chat.isStopping ? t('stopping') : t('generating');

  const shown = chat.conversations.find((c) => c.id === chat.conversationId);
  return (
    <div className="chat">
      {shown && chat.messages.length > 0 && <ExportButtons api={api} bot={bot} conversation={shown} />}
      <MessageList chat={chat} bot={bot} onSuggestion={chat.send} />
      <div className="chat-bottom">
        {chat.error && <ErrorBanner error={chat.error} onRetry={chat.retry} onDismiss={chat.dismissError} />}
        {isStreaming && (
          <div className={`streaming-pill${chat.isReconnecting ? ' is-reconnecting' : ''}`} aria-hidden="true">
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
          disabled={!chat.isReady || busyElsewhere}
          limits={limits}
          onSend={chat.send}
          onStop={stop}
        />
      </div>
    </div>
  );
}
