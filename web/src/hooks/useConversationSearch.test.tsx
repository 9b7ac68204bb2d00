/** Conversation search (issue 17): one request per typing pause, and never a stale answer. */
import { act, renderHook, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { ApiClient } from '../api/client';
import { SEARCH_DEBOUNCE_MS, useConversationSearch } from './useConversationSearch';

const hit = (id: string, snippet: string) => ({
  id, chatbotId: 'echo', title: id, createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z', snippet,
});

/** A server whose answer to each query arrives after that query's delay (ms). */
function server(delays: Record<string, number>) {
  const asked: string[] = [];
  const fetch = (input: string, init?: RequestInit) => {
    const q = new URL(input, 'http://x').searchParams.get('q') ?? '';
    asked.push(q);
    return new Promise<Response>((resolve, reject) => {
      const timer = setTimeout(
        () => resolve(new Response(JSON.stringify({ conversations: [hit(`conv_${q}`, q)] }), { status: 200 })),
        delays[q] ?? 0,
      );
      init?.signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(new DOMException('aborted', 'AbortError'));
      });
    });
  };
  return { api: new ApiClient({ fetch }), asked };
}

describe('useConversationSearch', () => {
  it('asks once per pause in typing, with the last query', async () => {
    const { api, asked } = server({});
    const { result } = renderHook(() => useConversationSearch(api, 'echo'));
    for (const q of ['k', 'ka', 'kak', 'kakao']) act(() => result.current.setQuery(q));
    expect(result.current.status).toBe('searching');
    await waitFor(() => expect(result.current.status).toBe('done'));
    expect(asked).toEqual(['kakao']);
    expect(result.current.hits.map((h) => h.id)).toEqual(['conv_kakao']);
  });

  it('never shows a slow answer to an earlier query', async () => {
    const { api, asked } = server({ slow: 600, fast: 0 });
    const { result } = renderHook(() => useConversationSearch(api, 'echo'));
    act(() => result.current.setQuery('slow'));
    await waitFor(() => expect(asked).toEqual(['slow']), { timeout: SEARCH_DEBOUNCE_MS * 4 });
    act(() => result.current.setQuery('fast'));
    await waitFor(() => expect(result.current.status).toBe('done'));
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(result.current.hits.map((h) => h.id)).toEqual(['conv_fast']);
  });

  it('a blank query clears the hits without asking', async () => {
    const { api, asked } = server({});
    const { result } = renderHook(() => useConversationSearch(api, 'echo'));
    act(() => result.current.setQuery('tofu'));
    await waitFor(() => expect(result.current.hits).toHaveLength(1));
    act(() => result.current.setQuery('   '));
    expect(result.current.status).toBe('idle');
    expect(result.current.hits).toEqual([]);
    expect(asked).toEqual(['tofu']);
  });
});
