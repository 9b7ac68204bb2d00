import { useRef, type KeyboardEvent } from 'react';
import type { ConversationHit } from '../api/types';
import { useI18n } from '../i18n/I18n';
import type { ConversationSearch } from '../hooks/useConversationSearch';

/** The search field above the conversation list: Escape clears it, ArrowDown moves into the hits. */
export function SearchField({ search }: { search: ConversationSearch }) {
  const { t } = useI18n();
  return (
    <input
      type="search"
      className="conv-search"
      value={search.query}
      onChange={(event) => search.setQuery(event.target.value)}
      onKeyDown={(event) => {
        if (event.key === 'Escape' && search.query) {
          event.stopPropagation();
          search.setQuery('');
        } else if (event.key === 'ArrowDown') {
          const first = event.currentTarget.parentElement?.querySelector<HTMLButtonElement>('.conv-hit');
          if (first) {
            event.preventDefault();
            first.focus();
          }
        }
      }}
      placeholder={t('searchConversations')}
      aria-label={t('searchConversations')}
      maxLength={200}
    />
  );
}

/** Hits in place of the list while a query is typed; each opens its conversation. */
export function SearchResults({ search, onOpen }: { search: ConversationSearch; onOpen: (hit: ConversationHit) => void }) {
  const { t } = useI18n();
  const list = useRef<HTMLUListElement>(null);
  const move = (event: KeyboardEvent<HTMLButtonElement>) => {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    event.preventDefault();
    const buttons = [...(list.current?.querySelectorAll<HTMLButtonElement>('.conv-hit') ?? [])];
    const at = buttons.indexOf(event.currentTarget) + (event.key === 'ArrowDown' ? 1 : -1);
    buttons[Math.max(0, Math.min(at, buttons.length - 1))]?.focus();
  };
  const status =
    search.status === 'searching'
      ? t('searching')
      : search.status === 'error'
        ? t('searchFailed')
        : search.status === 'done'
          ? search.hits.length
            ? t('searchResults', { count: String(search.hits.length) })
            : t('noSearchResults')
          : '';
  return (
    <>
      <p className="side-empty" role="status" aria-live="polite">
        {status}
      </p>
      <ul className="conv-list" ref={list} aria-label={t('searchResultsLabel')}>
        {search.hits.map((hit) => (
          <li key={hit.id}>
            <button type="button" className="conv-item conv-hit" onClick={() => onOpen(hit)} onKeyDown={move}>
              <span className="conv-hit-title" translate="no">
                {hit.title || t('untitled')}
              </span>
              {hit.snippet !== hit.title && (
                <span className="conv-hit-snippet" translate="no">
                  {hit.snippet}
                </span>
              )}
            </button>
          </li>
        ))}
      </ul>
    </>
  );
}
