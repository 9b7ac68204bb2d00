import { useEffect, useState } from 'react';
import type { ApiClient } from '../api/client';
import type { ConversationHit } from '../api/types';

export type SearchStatus = 'idle' | 'searching' | 'done' | 'error';

export interface ConversationSearch {
  query: string;
  setQuery: (query: string) => void;
  hits: ConversationHit[];
  status: SearchStatus;
}

/** Typing pauses this long before the server is asked (one request per pause, not per key). */
export const SEARCH_DEBOUNCE_MS = 250;

/**
 * Searches the user's conversations with one bot on the server (issue 17) as the
 * query changes. Why abort the previous request: answers can arrive out of order,
 * and a slow answer to "ka" must not replace the answer to "kakao".
 */
export function useConversationSearch(api: ApiClient, chatbotId: string): ConversationSearch {
  const [query, setQuery] = useState('');
  const [hits, setHits] = useState<ConversationHit[]>([]);
  const [status, setStatus] = useState<SearchStatus>('idle');

  useEffect(() => {
    const q = query.trim();
    if (!q) {
      setHits([]);
      setStatus('idle');
      return;
    }
    setStatus('searching');
    const controller = new AbortController();
    const timer = setTimeout(() => {
      api.searchConversations(q, chatbotId, controller.signal).then(
        (found) => {
          setHits(found);
          setStatus('done');
        },
        (error: unknown) => {
          if (error instanceof DOMException && error.name === 'AbortError') return;
          setHits([]);
          setStatus('error');
        },
      );
    }, SEARCH_DEBOUNCE_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [api, chatbotId, query]);

  return { query, setQuery, hits, status };
}
