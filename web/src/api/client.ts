import type {
  Bot,
  CancelResponse,
  ChatRequest,
  Conversation,
  ConversationHit,
  HistoryPage,
  Limits,
  Problem,
  Session,
} from './types';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** A non-OK HTTP answer; `message` is the problem+json detail when there is one. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem | null;
  /** Seconds the server asks us to wait (`Retry-After`), when it says. */
  readonly retryAfterS: number | null;

  constructor(status: number, problem: Problem | null, fallback: string, retryAfterS: number | null = null) {
    super(problem?.detail || problem?.title || fallback);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
    this.retryAfterS = retryAfterS;
  }
}

/** A request that never got an HTTP answer (offline, connection reset, DNS…). */
export class NetworkError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'NetworkError';
  }
}

export async function problemOf(response: Response): Promise<ApiError> {
  let problem: Problem | null = null;
  try {
    const text = await response.text();
    if (text) problem = JSON.parse(text) as Problem;
  } catch {
    problem = null;
  }
  const retryAfter = Number(response.headers.get('Retry-After'));
  return new ApiError(
    response.status,
    problem,
    `HTTP ${response.status} ${response.statusText}`.trim(),
    Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null,
  );
}

export interface ApiClientOptions {
  baseUrl?: string;
  fetch?: FetchLike;
}

/** Thin typed wrapper over Rill's JSON endpoints; the session cookie carries identity. */
export class ApiClient {
  readonly baseUrl: string;
  private readonly fetchImpl: FetchLike;

  constructor(options: ApiClientOptions = {}) {
    this.baseUrl = options.baseUrl ?? '';
    // Why: calling a bare `fetch` reference detached from window throws "Illegal invocation".
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /**
   * Raw request with the session cookie; network failures become NetworkError.
   * An expired anonymous session (401) is renewed once and the request repeated.
   */
  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const response = await this.send(path, init);
    if (response.status !== 401 || path === '/api/session') return response;
    const renewed = await this.send('/api/session', { method: 'POST', headers: { Accept: 'application/json' } });
    return renewed.ok ? this.send(path, init) : response;
  }

  private async send(path: string, init: RequestInit): Promise<Response> {
    try {
      return await this.fetchImpl(this.baseUrl + path, { credentials: 'include', ...init });
    } catch (error) {
      if (error instanceof DOMException && error.name === 'AbortError') throw error;
      throw new NetworkError(error);
    }
  }

  private async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    const headers = new Headers(init.headers);
    headers.set('Accept', 'application/json');
    if (init.body) headers.set('Content-Type', 'application/json');
    const response = await this.request(path, { ...init, headers });
    if (!response.ok) throw await problemOf(response);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  createSession(): Promise<Session> {
    return this.json<Session>('/api/session', { method: 'POST' });
  }

  listBots(): Promise<Bot[]> {
    return this.json<Bot[]>('/api/bots');
  }

  history(params: {
    chatbotId: string;
    conversationId?: string | null;
    before?: string | null;
    limit?: number;
  }): Promise<HistoryPage> {
    const query = new URLSearchParams({ chatbotId: params.chatbotId, limit: String(params.limit ?? 20) });
    if (params.conversationId) query.set('conversationId', params.conversationId);
    if (params.before) query.set('before', params.before);
    return this.json<HistoryPage>(`/api/history?${query}`);
  }

  async listConversations(chatbotId: string): Promise<Conversation[]> {
    const body = await this.json<{ conversations: Conversation[] }>(
      `/api/conversations?${new URLSearchParams({ chatbotId })}`,
    );
    return body.conversations;
  }

  /** The user's conversations with `chatbotId` whose title or text match `q`, best first. */
  async searchConversations(q: string, chatbotId: string, signal?: AbortSignal): Promise<ConversationHit[]> {
    const body = await this.json<{ conversations: ConversationHit[] }>(
      `/api/conversations/search?${new URLSearchParams({ q, chatbotId })}`,
      { signal },
    );
    return body.conversations;
  }

  createConversation(chatbotId: string, title?: string): Promise<Conversation> {
    return this.json<Conversation>('/api/conversations', {
      method: 'POST',
      body: JSON.stringify(title ? { chatbotId, title } : { chatbotId }),
    });
  }

  deleteConversation(id: string): Promise<void> {
    return this.json<void>(`/api/conversations/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  /** The server's limits the composer checks before sending. */
  limits(): Promise<Limits> {
    return this.json<Limits>('/api/limits');
  }

  renameConversation(id: string, title: string): Promise<Conversation> {
    return this.json<Conversation>(`/api/conversations/${encodeURIComponent(id)}`, {
      method: 'PATCH',
      body: JSON.stringify({ title }),
    });
  }

  /**
   * Shows another version of a message (an edit, a regenerated reply): the server makes
   * it and what was below it last time the shown path, and answers the newest page of it.
   */
  showVersion(conversationId: string, messageId: string): Promise<HistoryPage> {
    return this.json<HistoryPage>(`/api/conversations/${encodeURIComponent(conversationId)}/versions`, {
      method: 'POST',
      body: JSON.stringify({ messageId }),
    });
  }

  cancel(messageId: string): Promise<CancelResponse> {
    return this.json<CancelResponse>(`/api/chat/${encodeURIComponent(messageId)}/cancel`, { method: 'POST' });
  }

  /** Starts a chat turn; the caller reads the event stream from the body. */
  async postChat(body: ChatRequest, signal: AbortSignal): Promise<Response> {
    const response = await this.request('/api/chat', {
      method: 'POST',
      headers: { Accept: 'text/event-stream', 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      signal,
    });
    if (!response.ok) throw await problemOf(response);
    return response;
  }

  /** Resumes a reply's event stream after `lastEventId` (204: nothing after it). */
  async resumeChat(messageId: string, lastEventId: string | null, signal: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'text/event-stream' };
    if (lastEventId) headers['Last-Event-ID'] = lastEventId;
    const response = await this.request(`/api/chat/${encodeURIComponent(messageId)}/stream`, {
      method: 'GET',
      headers,
      signal,
    });
    if (!response.ok) throw await problemOf(response);
    return response;
  }
}
