/**
 * Chat sync (issue 17): the server publishes each user's chat events to the private
 * hub topic `users/{id}/chat`; every tab and device of that user subscribes and applies
 * them, so a turn sent elsewhere shows here live (its reply joined through the resume
 * stream), and renames and deletions follow.
 */

/** `versions`: another version of a message was chosen (‹ 2 / 3 ›), the conversation's path changed. */
export type SyncKind = 'turn_started' | 'reply_finished' | 'reply_stopped' | 'conversation_renamed' | 'conversation_deleted' | 'versions';

export const SYNC_KINDS: readonly SyncKind[] = [
  'turn_started',
  'reply_finished',
  'reply_stopped',
  'conversation_renamed',
  'conversation_deleted',
  'versions',
];

export interface SyncEvent {
  kind: SyncKind;
  conversationId: string;
  chatbotId: string | null;
  messageId: string | null;
  title: string | null;
  status: string | null;
  /** Epoch ms the reply ended (reply events), for the bell. */
  ts: number | null;
}

export function syncTopic(userId: string): string {
  return `users/${userId}/chat`;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** Parses one update's data (untrusted: the hub carries whatever was published). */
export function parseSync(kind: string, data: unknown): SyncEvent | null {
  if (!(SYNC_KINDS as readonly string[]).includes(kind) || typeof data !== 'object' || data === null) return null;
  const d = data as Record<string, unknown>;
  const conversationId = str(d.conversation_id);
  if (!conversationId) return null;
  return {
    kind: kind as SyncKind,
    conversationId,
    chatbotId: str(d.chatbot_id),
    messageId: str(d.message_id),
    title: str(d.title),
    status: str(d.status),
    ts: typeof d.ts === 'number' ? d.ts : null,
  };
}
