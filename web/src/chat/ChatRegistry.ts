import type { ApiClient } from '../api/client';
import { ChatSession, type ChatSessionOptions } from './ChatSession';
import type { SyncEvent } from './sync';

/**
 * One ChatSession per chatbot, kept alive for the life of the page: a reply keeps
 * streaming into its own session while another bot is on screen.
 */
export class ChatRegistry {
  private readonly sessions = new Map<string, ChatSession>();

  constructor(
    readonly api: ApiClient,
    private readonly options: Omit<ChatSessionOptions, 'chatbotId' | 'api'> = {},
  ) {}

  get(chatbotId: string): ChatSession {
    let session = this.sessions.get(chatbotId);
    if (!session) {
      session = new ChatSession({ ...this.options, chatbotId, api: this.api });
      this.sessions.set(chatbotId, session);
    }
    return session;
  }

  /** Sessions with a reply in progress (for the switcher's activity dots). */
  all(): ChatSession[] {
    return [...this.sessions.values()];
  }

  /** Hands a chat event from another tab to the sessions it concerns (only ones already open). */
  applySync(event: SyncEvent): void {
    for (const session of this.sessions.values()) {
      if (event.chatbotId === null || session.chatbotId === event.chatbotId) void session.applySync(event);
    }
  }

  /** Saves every in-flight reply (called when the page is being hidden or unloaded). */
  persistAll(): void {
    for (const session of this.sessions.values()) session.persist();
  }

  dispose(): void {
    for (const session of this.sessions.values()) session.dispose();
    this.sessions.clear();
  }
}
