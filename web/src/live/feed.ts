/** The live feed's pure logic (issue 17, the seed's 실시간 피드), apart from the page. */

export type Verb = 'commented' | 'liked' | 'shared' | 'followed' | 'ordered';
const VERBS: readonly Verb[] = ['commented', 'liked', 'shared', 'followed', 'ordered'];

export interface FeedItem {
  id: string;
  actor: string;
  verb: Verb;
  target: string;
  ts: number;
  /** Published to the reader's own topic: only they see it. */
  private: boolean;
}

/** Items kept on the page; the hub's retention bounds what a reload replays. */
export const KEEP = 200;

/** One update's data as a feed item, or null when it is not one (the hub carries anything). */
export function parseItem(data: unknown): FeedItem | null {
  if (typeof data !== 'object' || data === null) return null;
  const d = data as Record<string, unknown>;
  if (typeof d.id !== 'string' || typeof d.actor !== 'string' || typeof d.target !== 'string' || typeof d.ts !== 'number') return null;
  if (!(VERBS as readonly string[]).includes(d.verb as string)) return null;
  return { id: d.id, actor: d.actor, verb: d.verb as Verb, target: d.target, ts: d.ts, private: d.private === true };
}

/** Adds items newest first, each once (a reconnect may replay what was shown). */
export function addItems(list: readonly FeedItem[], items: readonly FeedItem[]): readonly FeedItem[] {
  const known = new Set(list.map((i) => i.id));
  const fresh = items.filter((i) => !known.has(i.id) && known.add(i.id));
  if (fresh.length === 0) return list;
  return [...fresh, ...list].sort((a, b) => b.ts - a.ts).slice(0, KEEP);
}
