import { memo, useEffect, useRef, useState } from 'react';
import type { ChatMessage } from '../chat/types';
import { useI18n } from '../i18n/I18n';
import { copyText } from './clipboard';
import { AlertIcon, CheckIcon, CopyIcon, PencilIcon, RefreshIcon } from './icons';
import { Markdown } from './Markdown';
import { BotAvatar } from './BotAvatar';
import { MessageEditor } from './MessageEditor';
import { VersionSwitcher, type VersionStep } from './VersionSwitcher';

interface Props {
  message: ChatMessage;
  botName: string;
  streaming: boolean;
  canRegenerate: boolean;
  onRegenerate: () => void;
  /** Editing a user message is possible now (no reply of this bot streams). */
  canEdit: boolean;
  onEdit: (messageId: string, text: string) => boolean;
  /** Another version can be shown now (no reply streams in this conversation). */
  canSwitch: boolean;
  onShowVersion: (message: ChatMessage, to: string, step: VersionStep) => void;
}

export const MessageItem = memo(function MessageItem({
  message,
  botName,
  streaming,
  canRegenerate,
  onRegenerate,
  canEdit,
  onEdit,
  canSwitch,
  onShowVersion,
}: Props) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  const [editing, setEditing] = useState(false);
  const editButton = useRef<HTMLButtonElement>(null);
  const refocusEdit = useRef(false);
  const time = new Date(message.createdAt);
  const title = Number.isNaN(time.getTime()) ? undefined : time.toLocaleString();

  // Cancel gives the keyboard back to the Edit button it came from.
  useEffect(() => {
    if (!editing && refocusEdit.current) {
      refocusEdit.current = false;
      editButton.current?.focus();
    }
  }, [editing]);

  if (message.role === 'user') {
    const sent = message.status !== 'failed' && !message.id.startsWith('local-');
    const cancel = () => {
      refocusEdit.current = true;
      setEditing(false);
    };
    return (
      <article
        className={`msg msg-user${message.status === 'failed' ? ' is-failed' : ''}${editing ? ' is-editing' : ''}`}
        data-id={message.id}
        data-role="user"
        aria-label={t('you')}
      >
        {editing ? (
          <MessageEditor
            initial={message.content}
            canSave={canEdit}
            onSave={(text) => {
              const started = onEdit(message.id, text);
              if (started) setEditing(false);
              return started;
            }}
            onCancel={cancel}
          />
        ) : (
          <div className="bubble" title={title} translate="no">
            {message.content}
          </div>
        )}
        {message.status === 'failed' && (
          <div className="msg-note msg-note-error">
            <AlertIcon width={14} height={14} /> {t('failed')}
          </div>
        )}
        {!editing && (sent || message.versions.length > 1) && (
          <div className={`msg-actions${message.versions.length > 1 ? ' has-versions' : ''}`}>
            <VersionSwitcher message={message} disabled={!canSwitch} onShow={onShowVersion} />
            {sent && (
              <button
                ref={editButton}
                type="button"
                className="icon-btn small msg-edit-btn"
                onClick={() => setEditing(true)}
                disabled={!canEdit}
                aria-label={t('editMessage')}
                title={t('editMessage')}
              >
                <PencilIcon width={16} height={16} />
              </button>
            )}
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
        {streaming && message.versions.length > 1 && (
          <div className="msg-actions has-versions">
            <VersionSwitcher message={message} disabled onShow={onShowVersion} />
          </div>
        )}
        {!streaming && (
          <div className={`msg-actions${message.versions.length > 1 ? ' has-versions' : ''}`}>
            <VersionSwitcher message={message} disabled={!canSwitch} onShow={onShowVersion} />
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
