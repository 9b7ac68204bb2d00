import type { Conversation, MessageStatus } from '../api/types';

/** One message as the UI sees it: server messages plus the local, not yet acknowledged ones. */
export interface ChatMessage {
  /** Server id, or `local-…` until the server names it (message_start). */
  id: string;
  role: 'user' | 'assistant';
  content: string;
  createdAt: string;
  chatbotId: string;
  conversationId: string | null;
  /** `failed`: a user message the server never accepted (see `error`). */
  status: MessageStatus | 'failed';
  stopReason: string | null;
  /** Error shown under the message (an `error` event, or the send failure). */
  error: string | null;
  /** The previous message on the conversation's shown path; null for the first. */
  parentId: string | null;
  /**
   * Ids of this message and its siblings (other versions: edits of a user message,
   * regenerated replies), oldest first; just `[id]` when it has none.
   */
  versions: readonly string[];
}

export type RetryKind = 'send' | 'resume' | 'history' | 'init';

/** What went wrong, so the UI can say it in the user's language. */
export type ErrorKind = 'network' | 'rateLimited' | 'tooLarge' | 'server' | 'refused';

export interface ChatError {
  /** The server's problem detail, or the browser's message (shown in English only). */
  message: string;
  kind: ErrorKind;
  /** What the retry button does; null when retrying cannot help. */
  retry: RetryKind | null;
  /** Epoch ms before which retrying is refused anyway (429 Retry-After). */
  retryAt: number | null;
}

export interface ChatState {
  chatbotId: string;
  messages: readonly ChatMessage[];
  /** A reply of this bot is being generated (possibly in the background). */
  isStreaming: boolean;
  /** The connection dropped and the session is reconnecting with Last-Event-ID. */
  isReconnecting: boolean;
  isStopping: boolean;
  streamingMessageId: string | null;
  /** The conversation the reply is being generated in (the user may be reading another). */
  streamingConversationId: string | null;
  hasMoreHistory: boolean;
  isLoadingHistory: boolean;
  /** The first page of history (or its absence) is known. */
  isReady: boolean;
  /** Another version of a message is being shown (the thread below it is reloading). */
  isSwitchingVersion: boolean;
  error: ChatError | null;
  conversationId: string | null;
  conversations: readonly Conversation[];
}
