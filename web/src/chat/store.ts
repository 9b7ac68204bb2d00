import type { Scheduler } from './schedule';
import type { ChatMessage, ChatState } from './types';

export type SessionState = Omit<ChatState, 'messages'>;

/**
 * A chat's state for the UI: the merged message list (history pages and live
 * messages, by id, in time order) plus the session flags. Publishes immutable
 * snapshots for `useSyncExternalStore`, at most once per scheduled frame.
 */
export class ChatStore {
  private readonly messages = new Map<string, ChatMessage>();
  /** Sort time of each message; local messages get one after everything known. */
  private readonly sortTime = new Map<string, number>();
  private maxTime = 0;
  private order: readonly ChatMessage[] = [];
  private orderDirty = false;
  private readonly replaced = new Set<string>();

  private current: SessionState;
  private snapshot: ChatState;
  private readonly listeners = new Set<() => void>();
  private flushScheduled = false;

  constructor(
    initial: SessionState,
    private readonly schedule: Scheduler,
    /** Runs before each publication (the session saves the in-flight reply there). */
    private readonly beforeFlush: () => void = () => undefined,
  ) {
    this.current = initial;
    this.snapshot = { ...initial, messages: this.order };
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): ChatState => this.snapshot;

  /** Publishes pending changes now (tests, and before the page goes away). */
  flush = (): void => {
    this.flushScheduled = false;
    if (this.orderDirty) {
      this.order = this.sorted();
      this.orderDirty = false;
    } else if (this.replaced.size > 0) {
      this.order = this.order.map((m) => (this.replaced.has(m.id) ? (this.messages.get(m.id) ?? m) : m));
    }
    this.replaced.clear();
    this.snapshot = { ...this.current, messages: this.order };
    this.beforeFlush();
    for (const listener of this.listeners) listener();
  };

  get state(): SessionState {
    return this.current;
  }

  patch(patch: Partial<SessionState> = {}): void {
    this.current = { ...this.current, ...patch };
    this.changed();
  }

  clearListeners(): void {
    this.listeners.clear();
  }

  private changed(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.schedule(this.flush);
  }

  // ---- messages ----

  get(id: string): ChatMessage | undefined {
    return this.messages.get(id);
  }

  values(): IterableIterator<ChatMessage> {
    return this.messages.values();
  }

  timeOf(id: string): number | undefined {
    return this.sortTime.get(id);
  }

  sorted(): ChatMessage[] {
    const time = (m: ChatMessage) => this.sortTime.get(m.id) ?? 0;
    return [...this.messages.values()].sort(
      (a, b) =>
        time(a) - time(b) ||
        (a.role === b.role ? 0 : a.role === 'user' ? -1 : 1) ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
  }

  /** Adds or replaces a message; a new one sorts at `time` (default: its createdAt). */
  put(message: ChatMessage, time?: number): void {
    const isNew = !this.messages.has(message.id);
    this.messages.set(message.id, message);
    if (isNew) {
      const t = time ?? Date.parse(message.createdAt);
      const sortTime = Number.isFinite(t) ? t : this.maxTime + 1;
      this.sortTime.set(message.id, sortTime);
      this.maxTime = Math.max(this.maxTime, sortTime);
      this.orderDirty = true;
    } else {
      // Same position, new object: swapped into the published order at the next flush.
      this.replaced.add(message.id);
    }
    this.changed();
  }

  update(id: string, patch: Partial<ChatMessage>): void {
    const current = this.messages.get(id);
    if (current) this.put({ ...current, ...patch });
  }

  remove(id: string): void {
    if (this.messages.delete(id)) {
      this.sortTime.delete(id);
      this.orderDirty = true;
      this.changed();
    }
  }

  /** A local message gets its server id, keeping its place. */
  rename(oldId: string, newId: string): void {
    if (oldId === newId) return;
    const message = this.messages.get(oldId);
    if (!message) return;
    const time = this.sortTime.get(oldId);
    this.remove(oldId);
    this.remove(newId);
    // A new version lists itself among its siblings under its local id until now.
    const versions = message.versions.map((v) => (v === oldId ? newId : v));
    this.put({ ...message, id: newId, versions }, time);
  }

  /** A local message sorts after everything known so far, whatever the clock says. */
  nextLocalTime(): number {
    return Math.max(Date.now(), this.maxTime + 1);
  }

  clearMessages(): void {
    this.messages.clear();
    this.sortTime.clear();
    this.maxTime = 0;
    this.orderDirty = true;
    this.changed();
  }
}
