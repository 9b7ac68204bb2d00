import { ApiError, NetworkError, type ApiClient } from '../api/client';
import type { ChatRequest } from '../api/types';
import { backoffDelay, waitToReconnect, type Backoff, type WakeSource } from './backoff';
import { parseStreamEvent } from './events';
import type { ReplyEvent } from './reducer';
import { readEventStream } from './sse';

/** Where a dropped reply resumes: the reply's server id and the last event folded in. */
export interface ReplyCursor {
  messageId: string | null;
  lastEventId: string | null;
}

export interface ReplyListener {
  /** A typed event of the reply, with its SSE id. */
  onEvent: (event: ReplyEvent, id: string | null) => void;
  onReconnecting: (reconnecting: boolean) => void;
  /** The listener's view of the reply (it owns the state the events were folded into). */
  cursor: () => ReplyCursor;
}

export type ReplyOutcome = { kind: 'finished' } | { kind: 'aborted' } | { kind: 'failed'; error: unknown };

export type OpenReply = (signal: AbortSignal) => Promise<Response>;

/** How often a stale saved event id may send us back to the reply's first event. */
const MAX_REPLAYS = 3;

/** A dropped connection, or a server briefly unable to answer: worth reconnecting. */
const isTransient = (error: unknown) => !(error instanceof ApiError) || error.status >= 500;

const isAbort = (error: unknown) => error instanceof DOMException && error.name === 'AbortError';

/**
 * The network side of a reply: opens it (a POST or a resume), reads its event
 * stream into typed events, and reconnects with Last-Event-ID when the
 * connection drops, until message_stop, an abort, or a failure.
 */
export class ChatTransport {
  constructor(
    private readonly api: ApiClient,
    private readonly backoff: Backoff,
    /** Cuts a reconnection wait short (the browser's `online` / `visibilitychange`). */
    private readonly wake: WakeSource,
  ) {}

  /** A new turn; the body may first need a request of its own (a new conversation). */
  start(body: () => Promise<ChatRequest>): OpenReply {
    return async (signal) => this.api.postChat(await body(), signal);
  }

  resume(messageId: string, lastEventId: string | null): OpenReply {
    return (signal) => this.api.resumeChat(messageId, lastEventId, signal);
  }

  /** Reads the reply to its end; `first` opens it, later attempts resume after the cursor. */
  async stream(first: OpenReply, signal: AbortSignal, listener: ReplyListener): Promise<ReplyOutcome> {
    let open = first;
    let attempt = 0;
    let replays = 0;
    let retryMs = 0;
    for (;;) {
      let finished = false;
      try {
        const response = await open(signal);
        // 204: nothing after our last event, the reply was already complete.
        if (response.status === 204 || !response.body) return { kind: 'finished' };
        listener.onReconnecting(false);
        // Why: Rill names the reply in a header before the first event, so a
        // connection that drops even before message_start can still be resumed.
        const named = response.headers.get('X-Rill-Message-Id');
        if (named) listener.onEvent({ type: 'rill_message_id', id: named }, null);
        const before = listener.cursor().lastEventId;
        await readEventStream(
          response.body,
          {
            onEvent: (message) => {
              const event = parseStreamEvent(message);
              if (!event) return;
              if (event.type === 'message_stop') finished = true;
              listener.onEvent(event, message.id || null);
            },
            onRetry: (ms) => {
              retryMs = ms;
            },
          },
          signal,
        );
        if (finished) return { kind: 'finished' };
        if (listener.cursor().lastEventId !== before) attempt = 0;
        throw new NetworkError('the stream ended before message_stop');
      } catch (error) {
        if (isAbort(error) || signal.aborted) return { kind: 'aborted' };
        const { messageId, lastEventId } = listener.cursor();
        if (error instanceof ApiError && error.status === 422 && messageId && lastEventId !== null && replays < MAX_REPLAYS) {
          // The server does not know our last event id (a stale saved one): replay the reply from its start.
          replays += 1;
          listener.onEvent({ type: 'rill_replay' }, null);
          open = (s) => this.api.resumeChat(messageId, null, s);
          continue;
        }
        // Why no attempt limit: the reply keeps being generated on the server, so a long
        // outage (issue 17: a 25 s drop used to end in "Failed to fetch") is waited out.
        if (!messageId || !isTransient(error)) return { kind: 'failed', error };
        listener.onReconnecting(true);
        try {
          await waitToReconnect(Math.max(retryMs, backoffDelay(attempt, this.backoff)), signal, this.wake);
        } catch {
          return { kind: 'aborted' };
        }
        attempt += 1;
        open = (s) => this.api.resumeChat(messageId, listener.cursor().lastEventId, s);
      }
    }
  }
}
