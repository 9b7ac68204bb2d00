import { useEffect, useReducer, useRef, useState } from 'react';

export type HubStatus = 'connecting' | 'open' | 'reconnecting' | 'stale';

export interface HubState {
  status: HubStatus;
  /** When the last update arrived (epoch ms), null before the first. */
  lastUpdate: number | null;
}

/** No update for this long while "open" means the publisher stopped: the numbers are old. */
export const STALE_MS = 10_000;

/**
 * What the page should claim about its data. Why not just the connection state: after
 * a server restart the EventSource reconnects by itself and says "open", while the
 * publisher may be gone and the numbers frozen (issue 17).
 */
export function freshness(connection: HubStatus, lastUpdate: number | null, now: number, staleMs = STALE_MS): HubStatus {
  if (lastUpdate === null) return connection;
  if (connection === 'reconnecting' || now - lastUpdate > staleMs) return 'stale';
  return connection;
}

/** Event types `rill demo` publishes (an update without a type arrives as "message"). */
export const HUB_TYPES = ['message', 'price', 'inventory', 'parcel', 'notification'];

/** An entry with a `:name` segment (`prices/:symbol`) is a URL pattern, not a topic. */
const PATTERN = /(^|\/):[A-Za-z_]/;

/**
 * Subscribes to Mercure topics (exact topics, or URL patterns such as
 * `prices/:symbol`) with a plain EventSource; the browser reconnects by
 * itself and sends Last-Event-ID, so the hub replays what was missed.
 * With `replay`, the page starts from everything the hub still retains.
 */
export function useHubStream<T>(
  topics: readonly string[],
  onUpdate: (data: T, type: string) => void,
  options: { replay?: boolean; types?: readonly string[] } = {},
): HubState {
  const replay = options.replay ?? false;
  const types = (options.types ?? HUB_TYPES).join(',');
  const [status, setStatus] = useState<HubStatus>('connecting');
  const lastUpdate = useRef<number | null>(null);
  const [now, setNow] = useState(() => Date.now());
  const handler = useRef(onUpdate);
  handler.current = onUpdate;
  const key = topics.join('\n');

  useEffect(() => {
    if (!key) return;
    const url = new URL('/.well-known/mercure', window.location.origin);
    for (const topic of key.split('\n')) {
      url.searchParams.append(PATTERN.test(topic) ? 'match_urlpattern' : 'match', topic);
    }
    // Replay what the hub retains so the page opens with state; on a reconnect the
    // browser's Last-Event-ID header takes precedence over this parameter.
    if (replay) url.searchParams.set('last_event_id', 'earliest');
    const source = new EventSource(url, { withCredentials: true });
    setStatus('connecting');
    const listen = (event: MessageEvent<string>) => {
      let data: T;
      try {
        data = JSON.parse(event.data) as T;
      } catch {
        return; // not JSON: not one of ours
      }
      lastUpdate.current = Date.now();
      handler.current(data, event.type);
    };
    for (const type of types.split(',')) source.addEventListener(type, listen as EventListener);
    source.onopen = () => setStatus('open');
    source.onerror = () => setStatus('reconnecting');
    // Re-check freshness now and then: staleness is the absence of events.
    const clock = setInterval(() => setNow(Date.now()), 2000);
    return () => {
      clearInterval(clock);
      source.close();
    };
  }, [key, replay, types]);

  return { status: freshness(status, lastUpdate.current, Math.max(now, lastUpdate.current ?? 0)), lastUpdate: lastUpdate.current };
}

/** Re-renders at most once per animation frame, however many updates arrive. */
export function useFrameRender(): () => void {
  const [, force] = useReducer((n: number) => n + 1, 0);
  const pending = useRef(false);
  return useRef(() => {
    if (pending.current) return;
    pending.current = true;
    requestAnimationFrame(() => {
      pending.current = false;
      force();
    });
  }).current;
}
