/**
 * Wire types of Rill's HTTP API. The JSON shapes come from the OpenAPI document
 * (`make api-client` → openapi.json → schema.d.ts); the event stream is not
 * described by OpenAPI, so its events are typed here from docs/api.md.
 */
import type { components } from './schema';

type Schemas = components['schemas'];

export type Session = Schemas['SessionOut'];
export type Bot = Schemas['BotOut'];
export type Message = Schemas['MessageOut'];
export type MessageStatus = Message['status'];
export type Usage = Schemas['UsageOut'];
export type HistoryPage = Schemas['HistoryOut'];
export type Conversation = Schemas['ConversationOut'];
export type ConversationHit = Schemas['ConversationHitOut'];
export type ChatRequest = Schemas['ChatRequest'];
export type CancelResponse = Schemas['CancelOut'];
export type Limits = Schemas['LimitsOut'];
export type StopReason = 'end_turn' | 'max_tokens' | 'cancelled' | 'error' | 'interrupted';

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
  /** ``rill_stop_reason``: Rill's own reason (``cancelled``, ``error``, ``interrupted`` or
   *  Anthropic's); ``stop_reason`` is always one of Anthropic's values. */
  delta: { stop_reason: string | null; stop_sequence?: string | null; rill_stop_reason?: string };
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
