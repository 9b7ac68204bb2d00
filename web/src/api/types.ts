/**
 * Wire types of Rill's HTTP API (docs/api.md). Written by hand from the contract
 * until `rill openapi` exists; then `npm run generate-api` produces schema.d.ts
 * and these aliases point at it.
 */

export interface Session {
  userId: string;
  token: string;
  expiresAt: string;
}

export interface Bot {
  id: string;
  name: string;
  description: string;
  provider: string;
  model: string;
}

export type MessageStatus = 'streaming' | 'complete' | 'cancelled' | 'error' | 'interrupted';
export type StopReason = 'end_turn' | 'max_tokens' | 'cancelled' | 'error' | 'interrupted';

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export interface Message {
  id: string;
  conversationId: string;
  chatbotId: string;
  role: 'user' | 'assistant';
  content: string;
  createdAt: string;
  status: MessageStatus;
  stopReason: string | null;
  usage: Usage | null;
}

export interface HistoryPage {
  messages: Message[];
  hasMore: boolean;
  nextCursor: string | null;
}

export interface Conversation {
  id: string;
  chatbotId: string;
  title: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface ChatRequest {
  chatbotId: string;
  message?: string;
  conversationId?: string;
  regenerate?: boolean;
}

export interface CancelResponse {
  id: string;
  status: MessageStatus;
}

/** RFC 9457 problem details. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  [extra: string]: unknown;
}

// ---- Anthropic Messages streaming events, as Rill sends them ----

export interface MessageStartEvent {
  type: 'message_start';
  message: {
    id: string;
    role: 'assistant';
    model: string;
    conversation_id: string;
    user_message_id: string | null;
    chatbot_id: string;
    [k: string]: unknown;
  };
}
export interface ContentBlockStartEvent {
  type: 'content_block_start';
  index: number;
  content_block: { type: string; text?: string };
}
export interface ContentBlockDeltaEvent {
  type: 'content_block_delta';
  index: number;
  delta: { type: string; text?: string };
}
export interface ContentBlockStopEvent {
  type: 'content_block_stop';
  index: number;
}
export interface MessageDeltaEvent {
  type: 'message_delta';
  delta: { stop_reason: string | null; stop_sequence?: string | null };
  usage?: { output_tokens?: number };
}
export interface MessageStopEvent {
  type: 'message_stop';
}
export interface PingEvent {
  type: 'ping';
}
export interface ErrorEvent {
  type: 'error';
  error: { type: string; message: string };
}

export type StreamEvent =
  | MessageStartEvent
  | ContentBlockStartEvent
  | ContentBlockDeltaEvent
  | ContentBlockStopEvent
  | MessageDeltaEvent
  | MessageStopEvent
  | PingEvent
  | ErrorEvent;
