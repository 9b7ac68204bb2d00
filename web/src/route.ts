import { useCallback, useEffect, useState } from 'react';

export type Route = { page: 'chat'; botId: string | null } | { page: 'live'; view: string };

export function parseHash(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'live') return { page: 'live', view: parts[1] ?? 'prices' };
  return { page: 'chat', botId: parts[0] === 'chat' ? (parts[1] ?? null) : null };
}

export function formatRoute(route: Route): string {
  return route.page === 'live' ? `#/live/${encodeURIComponent(route.view)}` : `#/chat/${encodeURIComponent(route.botId ?? '')}`;
}

/** The page and bot live in the URL hash, so reload and the back button keep them. */
export function useHashRoute(): [Route, (route: Route) => void] {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  const navigate = useCallback((next: Route) => {
    window.location.hash = formatRoute(next);
  }, []);
  return [route, navigate];
}
