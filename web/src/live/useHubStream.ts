import { useEffect, useReducer, useRef, useState } from 'react';

export type HubStatus = 'connecting' | 'open' | 'reconnecting';

/** Event types `rill demo` publishes (an update without a type arrives as "message"). */
const TYPES = ['message', 'price', 'inventory', 'parcel', 'notification'];

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
  options: { replay?: boolean } = {},
): HubStatus {
  const replay = options.replay ?? false;
  const [status, setStatus] = useState<HubStatus>('connecting');
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
      handler.current(data, event.type);
    };
    for (const type of TYPES) source.addEventListener(type, listen as EventListener);
    source.onopen = () => setStatus('open');
    source.onerror = () => setStatus('reconnecting');
    return () => source.close();
  }, [key, replay]);

  return status;
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
