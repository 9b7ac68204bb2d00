export type StorageLike = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

/** What survives a reload mid-reply: a consistent (text, last event id) pair. */
export interface InFlight {
  messageId: string;
  lastEventId: string | null;
  content: string;
  conversationId: string | null;
  createdAt: string;
}

/** The in-flight reply of one bot, saved in sessionStorage so a reload can resume it. */
export class InFlightRecord {
  private readonly key: string;

  constructor(
    chatbotId: string,
    private readonly storage: StorageLike | null,
  ) {
    this.key = `rill:inflight:${chatbotId}`;
  }

  /** Returns false when the record could not be saved. */
  write(record: InFlight): boolean {
    if (!this.storage) return false;
    try {
      this.storage.setItem(this.key, JSON.stringify(record));
      return true;
    } catch {
      // Storage full or disabled: a reload then replays the reply from its start.
      return false;
    }
  }

  read(): InFlight | null {
    try {
      const raw = this.storage?.getItem(this.key);
      const record = raw ? (JSON.parse(raw) as InFlight) : null;
      return record && typeof record.messageId === 'string' && typeof record.content === 'string' ? record : null;
    } catch {
      return null;
    }
  }

  clear(): void {
    try {
      this.storage?.removeItem(this.key);
    } catch {
      // Storage disabled: nothing was saved either.
    }
  }
}

export function defaultStorage(): StorageLike | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage;
  } catch {
    return null;
  }
}
