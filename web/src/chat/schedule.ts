/** Runs `flush` later; several requests before it runs are coalesced by the caller. */
export type Scheduler = (flush: () => void) => void;

/**
 * At most one UI update per animation frame. Why the timeout: browsers pause
 * requestAnimationFrame in background tabs, and a background reply must still
 * advance (and be saved for a reload).
 */
export const frameScheduler: Scheduler = (flush) => {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    flush();
  };
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(once);
  setTimeout(once, 100);
};
