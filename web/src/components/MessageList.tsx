import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { Bot } from '../api/types';
import type { ChatMessage } from '../chat/types';
import type { StreamingChat } from '../hooks/useStreamingChat';
import { useI18n } from '../i18n/I18n';
import { ArrowDownIcon } from './icons';
import { MessageItem } from './MessageItem';
import { EmptyState } from './EmptyState';
import type { VersionStep } from './VersionSwitcher';

/** Distance from the bottom (px) under which the view counts as "at the bottom". */
const BOTTOM_SLACK = 48;
/** Distance from the top (px) under which older history is fetched. */
const TOP_THRESHOLD = 400;

interface Anchor {
  id: string;
  offset: number;
  /**
   * A version switch: the anchor waits for its (new) message to be rendered, and is
   * dropped once the switch is over (`settled`) if that message never shows.
   */
  version?: { settled: boolean };
}

/** After a version switch, the switcher button to give the keyboard back to. */
interface FocusAfter {
  id: string;
  step: VersionStep;
}

export function MessageList({ chat, bot, onSuggestion }: { chat: StreamingChat; bot: Bot; onSuggestion: (text: string) => void }) {
  const { t } = useI18n();
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const anchor = useRef<Anchor | null>(null);
  const [showJump, setShowJump] = useState(false);
  const [announcement, setAnnouncement] = useState('');
  const focusAfter = useRef<FocusAfter | null>(null);
  const { messages, isLoadingHistory, hasMoreHistory, isReady, loadOlder, conversationId, showVersion, edit } = chat;

  /** Remembers the first visible message and where it sits, to keep it there after a prepend. */
  const captureAnchor = useCallback(() => {
    const el = scroller.current;
    if (!el) return;
    for (const node of el.querySelectorAll<HTMLElement>('[data-id]')) {
      if (node.offsetTop + node.offsetHeight > el.scrollTop) {
        anchor.current = { id: node.dataset.id!, offset: node.offsetTop - el.scrollTop };
        return;
      }
    }
  }, []);

  const loadOlderKeepingPosition = useCallback(() => {
    if (!isReady || isLoadingHistory || !hasMoreHistory) return;
    captureAnchor();
    void loadOlder();
  }, [isReady, isLoadingHistory, hasMoreHistory, captureAnchor, loadOlder]);

  const onScroll = useCallback(() => {
    const el = scroller.current;
    if (!el) return;
    const bottom = el.scrollHeight - el.scrollTop - el.clientHeight < BOTTOM_SLACK;
    atBottom.current = bottom;
    setShowJump(!bottom);
    if (el.scrollTop < TOP_THRESHOLD) loadOlderKeepingPosition();
  }, [loadOlderKeepingPosition]);

  // After every commit: keep the anchored message in place (history prepended above),
  // or follow the reply when the reader is at the bottom.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const a = anchor.current;
    if (a) {
      const node = el.querySelector<HTMLElement>(`[data-id="${CSS.escape(a.id)}"]`);
      if (node) el.scrollTop = node.offsetTop - a.offset;
      if (a.version ? node || a.version.settled : !isLoadingHistory) anchor.current = null;
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
    const f = focusAfter.current;
    if (f) {
      const node = el.querySelector<HTMLElement>(`[data-id="${CSS.escape(f.id)}"]`);
      if (node) {
        focusAfter.current = null;
        // The pressed button, or its twin when this is the first or last version.
        const buttons = [...node.querySelectorAll<HTMLButtonElement>('[data-version-step]')].filter((b) => !b.disabled);
        (buttons.find((b) => b.dataset.versionStep === f.step) ?? buttons[0])?.focus({ preventScroll: true });
      }
    }
  }, [messages, isLoadingHistory]);

  // A conversation is shown: start at its newest message.
  useLayoutEffect(() => {
    atBottom.current = true;
    anchor.current = null;
    focusAfter.current = null;
    setAnnouncement('');
    setShowJump(false);
    const el = scroller.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [conversationId]);

  // Short pages do not fill the screen: keep loading until they do (or history ends).
  useEffect(() => {
    const el = scroller.current;
    if (el && isReady && hasMoreHistory && !isLoadingHistory && el.scrollHeight <= el.clientHeight + TOP_THRESHOLD) {
      loadOlderKeepingPosition();
    }
  }, [messages, isReady, hasMoreHistory, isLoadingHistory, loadOlderKeepingPosition]);

  const jumpToLatest = () => {
    const el = scroller.current;
    if (!el) return;
    atBottom.current = true;
    el.scrollTop = el.scrollHeight;
    setShowJump(false);
  };

  /** ‹ › pressed: the chosen version takes the old one's place on screen, and the keyboard stays on the switcher. */
  const onShowVersion = useCallback(
    (from: ChatMessage, to: string, step: VersionStep) => {
      const el = scroller.current;
      const node = el?.querySelector<HTMLElement>(`[data-id="${CSS.escape(from.id)}"]`);
      const version = { settled: false };
      if (el && node) anchor.current = { id: to, offset: node.offsetTop - el.scrollTop, version };
      const where = { n: from.versions.indexOf(to) + 1, m: from.versions.length };
      void showVersion(to).then((shown) => {
        version.settled = true;
        if (!shown) {
          if (anchor.current?.version === version) anchor.current = null;
          return;
        }
        focusAfter.current = { id: to, step };
        setAnnouncement(t('versionOf', where));
      });
    },
    [showVersion, t],
  );

  /** An edit was sent: its message is replaced (new ids), so the keyboard goes to the composer. */
  const onEdit = useCallback(
    (messageId: string, text: string) => {
      const started = edit(messageId, text);
      if (started) scroller.current?.closest('.chat')?.querySelector<HTMLTextAreaElement>('.composer textarea')?.focus({ preventScroll: true });
      return started;
    },
    [edit],
  );

  const lastAssistant = [...messages].reverse().find((m) => m.role === 'assistant');
  const canRegenerate = !chat.isStreaming && !!lastAssistant && !lastAssistant.id.startsWith('local-');
  const canEdit = isReady && !chat.isStreaming && !chat.isSwitchingVersion;
  // (Not disabled while a switch is under way: the pressed button keeps the keyboard; the session ignores a second press.)
  const canSwitch = isReady && !(chat.isStreaming && chat.streamingConversationId === conversationId);

  return (
    <div className="messages-wrap">
      <div className="messages" ref={scroller} onScroll={onScroll} role="region" aria-label={t('messages')} tabIndex={0} data-testid="messages">
        <div className="messages-inner">
          {isLoadingHistory && (
            <div className="history-loading" role="status">
              <span className="spinner" aria-hidden="true" />
              <span>{t('loadingHistory')}</span>
            </div>
          )}
          {isReady && messages.length === 0 && !isLoadingHistory && <EmptyState bot={bot} onSuggestion={onSuggestion} />}
          {messages.map((message) => (
            <MessageItem
              key={message.id}
              message={message}
              botName={bot.name}
              streaming={chat.isStreaming && message.id === chat.streamingMessageId}
              canRegenerate={canRegenerate && message === lastAssistant}
              onRegenerate={chat.regenerate}
              canEdit={canEdit}
              onEdit={onEdit}
              canSwitch={canSwitch}
              onShowVersion={onShowVersion}
            />
          ))}
        </div>
      </div>
      <div className="sr-only" role="status" aria-live="polite" data-testid="version-status">
        {announcement}
      </div>
      {showJump && messages.length > 0 && (
        <button type="button" className="jump-btn" onClick={jumpToLatest}>
          <ArrowDownIcon width={16} height={16} />
          {t('jumpToLatest')}
        </button>
      )}
    </div>
  );
}
