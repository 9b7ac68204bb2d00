export interface Backoff {
  /** First wait after a drop, in ms; doubled at each attempt … */
  baseMs: number;
  /** … up to this cap, so a long outage is retried every few seconds, not given up. */
  capMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 500, capMs: 10_000 };

/**
 * The wait before reconnection attempt `attempt` (0-based): exponential, capped,
 * with "equal jitter" (half fixed, half random) so tabs that lost the same
 * server do not all come back in the same millisecond.
 */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.capMs, backoff.baseMs * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + random() * (ceiling / 2);
}

/** Calls `wake` when reconnecting now is worth a try; returns the unsubscribe. */
export type WakeSource = (wake: () => void) => () => void;

/** The browser says the network is back, or the tab is visible again. */
export const browserWake: WakeSource = (wake) => {
  if (typeof window === 'undefined') return () => undefined;
  const onVisible = () => {
    if (document.visibilityState === 'visible') wake();
  };
  window.addEventListener('online', wake);
  document.addEventListener('visibilitychange', onVisible);
  return () => {
    window.removeEventListener('online', wake);
    document.removeEventListener('visibilitychange', onVisible);
  };
};

/** Waits `ms`, or less when `wakeSource` fires; rejects with AbortError on abort. */
export function waitToReconnect(ms: number, signal: AbortSignal, wakeSource: WakeSource): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(new DOMException('Aborted', 'AbortError'));
    const done = (error?: DOMException) => {
      clearTimeout(timer);
      unsubscribe();
      signal.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve();
    };
    const onAbort = () => done(new DOMException('Aborted', 'AbortError'));
    const timer = setTimeout(() => done(), ms);
    const unsubscribe = wakeSource(() => done());
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
