import type { Conversation, Message } from '../api/types';

const encoder = new TextEncoder();

/** A response body the test writes to chunk by chunk. */
export class ControlledStream {
  readonly stream: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  closed = false;

  constructor() {
    this.stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.controller = controller;
      },
      cancel: () => {
        this.closed = true;
      },
    });
  }

  push(chunk: string | Uint8Array): void {
    if (this.closed) return;
    this.controller.enqueue(typeof chunk === 'string' ? encoder.encode(chunk) : chunk);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.controller.close();
  }

  fail(error: Error = new TypeError('network error')): void {
    if (this.closed) return;
    this.closed = true;
    this.controller.error(error);
  }
}

export function sseEvent(id: string | null, type: string, data: unknown): string {
  return `event: ${type}\n${id ? `id: ${id}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

/** The events of one reply, as Rill writes them (docs/api.md). */
export const events = {
  start: (messageId: string, conversationId = 'conv_1', userMessageId = `${messageId}_user`) =>
    sseEvent('1-0', 'message_start', {
      type: 'message_start',
      message: {
        id: messageId,
        type: 'message',
        role: 'assistant',
        content: [],
        model: 'echo',
        conversation_id: conversationId,
        user_message_id: userMessageId,
        chatbot_id: 'echo',
      },
    }) + sseEvent('2-0', 'content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
  delta: (id: string, text: string) =>
    sseEvent(id, 'content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }),
  end: (seq: number, offset: number, stopReason = 'end_turn') =>
    sseEvent(`${seq}-${offset}`, 'content_block_stop', { type: 'content_block_stop', index: 0 }) +
    sseEvent(`${seq + 1}-${offset}`, 'message_delta', { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: 1 } }) +
    sseEvent(`${seq + 2}-${offset}`, 'message_stop', { type: 'message_stop' }),
  error: (id: string, message: string) => sseEvent(id, 'error', { type: 'error', error: { type: 'api_error', message } }),
};

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Headers;
  body: unknown;
}

type ChatHandler = (request: RecordedRequest) => Response | Promise<Response>;

/** An in-memory stand-in for Rill's HTTP API, with test-controlled chat streams. */
export class FakeServer {
  readonly requests: RecordedRequest[] = [];
  conversations: Conversation[] = [];
  history: Message[] = [];
  /** Streams handed out for POST /api/chat and GET …/stream, in order. */
  readonly streams: ControlledStream[] = [];
  onChat: ChatHandler | null = null;
  onResume: ChatHandler | null = null;
  /** POST /api/conversations/{id}/versions; default: the conversation's history, newest 50. */
  onVersions: ChatHandler | null = null;
  cancelled: string[] = [];

  fetch = async (input: string, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input, 'http://rill.test');
    const method = (init.method ?? 'GET').toUpperCase();
    const body = typeof init.body === 'string' ? (JSON.parse(init.body) as unknown) : null;
    const request: RecordedRequest = { method, path: url.pathname + url.search, headers: new Headers(init.headers), body };
    this.requests.push(request);
    const path = url.pathname;
    if (path === '/api/session') return json({ userId: 'u1', token: 't', expiresAt: '2100-01-01T00:00:00Z' });
    if (path === '/api/conversations' && method === 'GET')
      return json({ conversations: this.conversations.filter((c) => c.chatbotId === url.searchParams.get('chatbotId')) });
    if (path === '/api/conversations' && method === 'POST') {
      const conversation = conversation_(`conv_${this.conversations.length + 1}`, (body as { chatbotId: string }).chatbotId);
      this.conversations.unshift(conversation);
      return json(conversation, 201);
    }
    if (path === '/api/history') return json(this.page(url.searchParams));
    const versions = path.match(/^\/api\/conversations\/([^/]+)\/versions$/);
    if (versions?.[1] && method === 'POST') {
      if (this.onVersions) return this.onVersions(request);
      const chatbotId = this.history.find((m) => m.conversationId === versions[1])?.chatbotId ?? 'echo';
      return json(this.page(new URLSearchParams({ chatbotId, conversationId: versions[1], limit: '50' })));
    }
    if (path === '/api/chat' && method === 'POST') {
      if (this.onChat) return this.onChat(request);
      return this.streamResponse(init.signal);
    }
    const cancel = path.match(/^\/api\/chat\/([^/]+)\/cancel$/);
    if (cancel?.[1]) {
      this.cancelled.push(cancel[1]);
      return json({ id: cancel[1], status: 'cancelled' }, 202);
    }
    const resume = path.match(/^\/api\/chat\/([^/]+)\/stream$/);
    if (resume) {
      if (this.onResume) return this.onResume(request);
      return this.streamResponse(init.signal);
    }
    return json({ title: 'Not Found', status: 404, detail: `no route ${path}` }, 404);
  };

  streamResponse(signal?: AbortSignal | null): Response {
    const stream = new ControlledStream();
    this.streams.push(stream);
    signal?.addEventListener('abort', () => stream.fail(new DOMException('Aborted', 'AbortError')));
    return new Response(stream.stream, { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
  }

  get lastStream(): ControlledStream {
    const stream = this.streams.at(-1);
    if (!stream) throw new Error('no stream opened yet');
    return stream;
  }

  private page(params: URLSearchParams) {
    const limit = Number(params.get('limit') ?? 20);
    const conversationId = params.get('conversationId');
    const all = this.history.filter(
      (m) => m.chatbotId === params.get('chatbotId') && (!conversationId || m.conversationId === conversationId),
    );
    const before = params.get('before');
    const end = before ? all.findIndex((m) => m.id === before) : all.length;
    const start = Math.max(0, end - limit);
    const messages = all.slice(start, end);
    return { messages, hasMore: start > 0, nextCursor: start > 0 ? (messages[0]?.id ?? null) : null };
  }
}

export function json(body: unknown, status = 200): Response {
  const type = status >= 400 ? 'application/problem+json' : 'application/json';
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': type } });
}

export function conversation_(id: string, chatbotId: string): Conversation {
  return { id, chatbotId, title: '', createdAt: '2025-01-01T00:00:00Z', updatedAt: '2025-01-01T00:00:00Z' };
}

export function message_(n: number, overrides: Partial<Message> = {}): Message {
  const role = n % 2 === 0 ? 'user' : 'assistant';
  const id = overrides.id ?? `msg_${String(n).padStart(5, '0')}`;
  return {
    id,
    parentId: n > 0 ? `msg_${String(n - 1).padStart(5, '0')}` : null,
    versions: [id],
    conversationId: 'conv_1',
    chatbotId: 'echo',
    role,
    content: `message ${n}`,
    createdAt: new Date(Date.UTC(2025, 0, 1, 0, 0, n)).toISOString(),
    status: 'complete',
    stopReason: role === 'assistant' ? 'end_turn' : null,
    usage: null,
    ...overrides,
  };
}
