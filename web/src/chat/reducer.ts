import type { StreamEvent } from '../api/types';

/** What one streaming reply has told us so far: a pure function of its events. */
export interface ReplyState {
  /** Server id of the reply, from the X-Rill-Message-Id header or message_start. */
  messageId: string | null;
  /** Server id of the user message this reply answers. */
  userMessageId: string | null;
  conversationId: string | null;
  content: string;
  stopReason: string | null;
  error: string | null;
  /** Id of the last event folded into this state: where a reconnection resumes. */
  lastEventId: string | null;
  /** message_stop arrived: the reply is complete on the server. */
  finished: boolean;
}

/**
 * The reply's events: the server's stream events, plus two the transport adds —
 * the reply named by a response header before its first event, and a replay
 * from the start when the server no longer knows our last event id.
 */
export type ReplyEvent = StreamEvent | { type: 'rill_message_id'; id: string } | { type: 'rill_replay' };

export function initialReply(patch: Partial<ReplyState> = {}): ReplyState {
  return {
    messageId: null,
    userMessageId: null,
    conversationId: null,
    content: '',
    stopReason: null,
    error: null,
    lastEventId: null,
    finished: false,
    ...patch,
  };
}

/** Folds one event (and its SSE id) into the reply. Returns `state` itself when nothing changed. */
export function reduceReply(state: ReplyState, event: ReplyEvent, eventId: string | null = null): ReplyState {
  const s = eventId && eventId !== state.lastEventId ? { ...state, lastEventId: eventId } : state;
  switch (event.type) {
    case 'message_start':
      return {
        ...s,
        messageId: event.message.id,
        userMessageId: event.message.user_message_id ?? s.userMessageId,
        conversationId: event.message.conversation_id ?? s.conversationId,
      };
    case 'content_block_start':
      return event.content_block.text ? { ...s, content: s.content + event.content_block.text } : s;
    case 'content_block_delta':
      return event.delta.text ? { ...s, content: s.content + event.delta.text } : s;
    case 'error':
      return { ...s, error: event.error.message || event.error.type || 'error' };
    case 'message_delta': {
      // Rill's own reason (cancelled, error, interrupted) rides beside Anthropic's.
      const reason = event.delta.rill_stop_reason ?? event.delta.stop_reason;
      return reason ? { ...s, stopReason: reason } : s;
    }
    case 'message_stop':
      return { ...s, finished: true };
    case 'rill_message_id':
      return s.messageId ? s : { ...s, messageId: event.id };
    case 'rill_replay':
      return { ...s, content: '', lastEventId: null, stopReason: null, error: null, finished: false };
    case 'content_block_stop':
    case 'ping':
      return s;
  }
}
