import { useState, useSyncExternalStore } from 'react';
import type { Bot, Conversation } from '../api/types';
import { useChatRegistry } from '../hooks/ChatContext';
import { useConversationSearch } from '../hooks/useConversationSearch';
import { useStreamingChat } from '../hooks/useStreamingChat';
import { useI18n } from '../i18n/I18n';
import type { LiveView } from '../App';
import { BotAvatar } from './BotAvatar';
import { SearchField, SearchResults } from './ConversationSearch';
import { BoxIcon, ChartIcon, FeedIcon, PencilIcon, PlusIcon, TrashIcon, TruckIcon } from './icons';

function BotButton({ bot, active, onSelect }: { bot: Bot; active: boolean; onSelect: (id: string) => void }) {
  const session = useChatRegistry().get(bot.id);
  const streaming = useSyncExternalStore(session.subscribe, () => session.getSnapshot().isStreaming);
  const { t } = useI18n();
  return (
    <button
      type="button"
      className={`bot-item${active ? ' active' : ''}`}
      onClick={() => onSelect(bot.id)}
      aria-current={active ? 'page' : undefined}
      data-bot={bot.id}
    >
      <BotAvatar botId={bot.id} name={bot.name} small />
      <span className="bot-text">
        <span className="bot-name" translate="no">{bot.name}</span>
        <span className="bot-desc" translate="no">{bot.description}</span>
      </span>
      {streaming && <span className="activity-dot" title={t('replying', { bot: bot.name })} aria-label={t('replying', { bot: bot.name })} />}
    </button>
  );
}

function conversationLabel(conversation: Conversation, fallback: string, lang: string): string {
  if (conversation.title) return conversation.title;
  const date = new Date(conversation.updatedAt || conversation.createdAt);
  return Number.isNaN(date.getTime())
    ? fallback
    : `${fallback} · ${date.toLocaleString(lang, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })}`;
}

/** Inline title editor: Enter saves, Escape cancels, focus starts in the field. */
function RenameForm({ initial, onSave, onCancel }: { initial: string; onSave: (title: string) => Promise<void>; onCancel: () => void }) {
  const { t } = useI18n();
  const [title, setTitle] = useState(initial);
  return (
    <form
      className="conv-rename"
      onSubmit={(event) => {
        event.preventDefault();
        if (title.trim()) void onSave(title);
      }}
    >
      <input
        value={title}
        onChange={(event) => setTitle(event.target.value)}
        onKeyDown={(event) => {
          if (event.key === 'Escape') {
            event.stopPropagation();
            onCancel();
          }
        }}
        aria-label={t('renameConversation')}
        maxLength={200}
        autoFocus
      />
      <button type="submit" className="btn btn-small" disabled={!title.trim()}>
        {t('save')}
      </button>
    </form>
  );
}

function Conversations({ botId, onPicked }: { botId: string; onPicked: () => void }) {
  const { t, lang } = useI18n();
  const chat = useStreamingChat({ name: botId });
  const search = useConversationSearch(useChatRegistry().api, botId);
  // While a query is typed, the server's hits stand in for the list.
  const searching = search.query.trim() !== '';
  const [confirming, setConfirming] = useState<string | null>(null);
  const [renaming, setRenaming] = useState<string | null>(null);
  return (
    <section className="side-section" aria-label={t('conversations')}>
      <div className="side-heading">
        <span>{t('conversations')}</span>
        <button
          type="button"
          className="btn btn-small btn-ghost"
          onClick={() => {
            void chat.newChat();
            onPicked();
          }}
        >
          <PlusIcon width={16} height={16} /> {t('newChat')}
        </button>
      </div>
      <SearchField search={search} />
      {searching && (
        <SearchResults
          search={search}
          onOpen={(hit) => {
            search.setQuery('');
            void chat.selectConversation(hit.id);
            onPicked();
          }}
        />
      )}
      {!searching && chat.conversations.length === 0 && <p className="side-empty">{t('noConversations')}</p>}
      <ul className="conv-list" hidden={searching}>
        {chat.conversations.map((c) => (
          <li key={c.id} className={c.id === chat.conversationId ? 'active' : undefined}>
            {renaming === c.id ? (
              <RenameForm
                initial={c.title}
                onCancel={() => setRenaming(null)}
                onSave={async (title) => {
                  if (await chat.renameConversation(c.id, title)) setRenaming(null);
                }}
              />
            ) : confirming === c.id ? (
              <div className="conv-confirm">
                <span>{t('confirmDelete')}</span>
                <button
                  type="button"
                  className="btn btn-small btn-danger"
                  onClick={() => {
                    setConfirming(null);
                    void chat.deleteConversation(c.id);
                  }}
                >
                  {t('delete')}
                </button>
                <button type="button" className="btn btn-small btn-ghost" onClick={() => setConfirming(null)}>
                  {t('cancel')}
                </button>
              </div>
            ) : (
              <>
                <button
                  type="button"
                  className="conv-item"
                  translate="no"
                  onClick={() => {
                    void chat.selectConversation(c.id);
                    onPicked();
                  }}
                  aria-current={c.id === chat.conversationId ? 'true' : undefined}
                >
                  {conversationLabel(c, t('untitled'), lang)}
                </button>
                {chat.isStreaming && c.id === chat.streamingConversationId && (
                  <span className="activity-dot conv-generating" role="img" aria-label={t('generatingInConversation')} title={t('generatingInConversation')} />
                )}
                <button type="button" className="icon-btn small conv-action" onClick={() => setRenaming(c.id)} aria-label={t('renameConversation')} title={t('renameConversation')}>
                  <PencilIcon width={15} height={15} />
                </button>
                <button type="button" className="icon-btn small conv-action" onClick={() => setConfirming(c.id)} aria-label={t('deleteConversation')} title={t('deleteConversation')}>
                  <TrashIcon width={15} height={15} />
                </button>
              </>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

interface SidebarProps {
  bots: Bot[];
  botId: string | null;
  liveView: LiveView | null;
  onSelectBot: (id: string) => void;
  onSelectLive: (view: LiveView) => void;
  onClose: () => void;
  children?: React.ReactNode;
}

export function Sidebar({ bots, botId, liveView, onSelectBot, onSelectLive, onClose, children }: SidebarProps) {
  const { t } = useI18n();
  const live: { view: LiveView; label: string; Icon: typeof ChartIcon }[] = [
    { view: 'prices', label: t('prices'), Icon: ChartIcon },
    { view: 'tracking', label: t('tracking'), Icon: TruckIcon },
    { view: 'inventory', label: t('inventory'), Icon: BoxIcon },
    { view: 'feed', label: t('feed'), Icon: FeedIcon },
  ];
  return (
    <div className="sidebar-inner">
      <div className="brand">
        <svg viewBox="0 0 32 32" width="26" height="26" aria-hidden="true">
          <path d="M4 20c4-8 8 8 12 0s8 8 12 0" stroke="currentColor" strokeWidth="3.5" fill="none" strokeLinecap="round" />
          <path d="M4 12c4-8 8 8 12 0s8 8 12 0" stroke="currentColor" strokeWidth="3.5" fill="none" strokeLinecap="round" opacity=".45" />
        </svg>
        <span>Rill</span>
      </div>
      {children}
      <section className="side-section" aria-label={t('chatbots')}>
        <div className="side-heading">
          <span>{t('chatbots')}</span>
        </div>
        <nav className="bot-list">
          {bots.map((bot) => (
            <BotButton
              key={bot.id}
              bot={bot}
              active={!liveView && bot.id === botId}
              onSelect={(id) => {
                onSelectBot(id);
                onClose();
              }}
            />
          ))}
        </nav>
      </section>
      {botId && !liveView && <Conversations botId={botId} onPicked={onClose} />}
      <section className="side-section" aria-label={t('live')}>
        <div className="side-heading">
          <span>{t('live')}</span>
        </div>
        <nav className="live-nav">
          {live.map(({ view, label, Icon }) => (
            <button
              key={view}
              type="button"
              className={`live-item${liveView === view ? ' active' : ''}`}
              aria-current={liveView === view ? 'page' : undefined}
              data-live={view}
              onClick={() => {
                onSelectLive(view);
                onClose();
              }}
            >
              <Icon width={18} height={18} />
              {label}
            </button>
          ))}
        </nav>
      </section>
    </div>
  );
}
