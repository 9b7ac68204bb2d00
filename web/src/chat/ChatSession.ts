import type { EventSourceMessage } from 'eventsource-parser';
import { ApiClient, ApiError, NetworkError } from '../api/client';
import type { Conversation, Message, StreamEvent } from '../api/types';
import { frameScheduler, type Scheduler } from './schedule';
import { readEventStream } from './sse';
import type { ChatError, ChatMessage, ChatState } from './types';

export type StorageLike = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

export interface ChatSessionOptions {
  chatbotId: string;
  api: ApiClient;
  /** Where the in-flight reply is remembered across a page reload (sessionStorage). */
  storage?: StorageLike | null;
  /** Coalesces state updates; default: once per animation frame. */
  schedule?: Scheduler;
  /** Waits between reconnection attempts after a dropped stream, in ms. */
  reconnectDelays?: readonly number[];
  /** After Stop, how long to wait for the server's final events before aborting. */
  stopTimeoutMs?: number;
  pageSize?: number;
  /** The UI language, sent with each turn (the guide bot answers in it). */
  language?: () => 'en' | 'ko';
}

/** What survives a reload mid-reply: a consistent (text, last event id) pair. */
interface InFlight {
  messageId: string;
  lastEventId: string | null;
  content: string;
  conversationId: string | null;
  createdAt: string;
}

/** One streaming reply: a POST or a resume, plus its reconnections. */
interface Run {
  controller: AbortController;
  /** Key of the assistant message in the message map (local id until message_start). */
  botKey: string;
  userKey: string | null;
  /** Server id of the assistant message, known from message_start. */
  messageId: string | null;
  lastEventId: string | null;
  retryMs: number;
  finished: boolean;
  cancelRequested: boolean;
  stopTimer: ReturnType<typeof setTimeout> | null;
  /** The user's text, to send again when the POST never reached the server. */
  text: string | null;
  /** Regenerate: the reply being replaced, restored if the request fails. */
  replaced: ChatMessage | null;
}

const STATUS_BY_STOP_REASON: Record<string, ChatMessage['status']> = {
  end_turn: 'complete',
  max_tokens: 'complete',
  stop_sequence: 'complete',
  cancelled: 'cancelled',
  error: 'error',
  interrupted: 'interrupted',
};

let localCounter = 0;
const localId = (kind: string) => `local-${kind}-${Date.now().toString(36)}-${(localCounter++).toString(36)}`;

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(new DOMException('Aborted', 'AbortError'));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new DOMException('Aborted', 'AbortError'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });

const isAbort = (error: unknown) => error instanceof DOMException && error.name === 'AbortError';

function fromServer(message: Message): ChatMessage {
  return {
    id: message.id,
    role: message.role,
    content: message.content,
    createdAt: message.createdAt,
    chatbotId: message.chatbotId,
    conversationId: message.conversationId,
    status: message.status,
    stopReason: message.stopReason,
    error: message.error ?? null,
  };
}

/**
 * The streaming state of one chatbot, independent of any UI framework.
 *
 * Holds the merged message list (history pages + live messages, by id, in time
 * order), runs one reply at a time (send, resume, stop, regenerate), and
 * publishes immutable snapshots at most once per scheduled frame.
 */
export class ChatSession {
  readonly chatbotId: string;
  private readonly api: ApiClient;
  private readonly storage: StorageLike | null;
  private readonly schedule: Scheduler;
  private readonly reconnectDelays: readonly number[];
  private readonly stopTimeoutMs: number;
  private readonly pageSize: number;
  private readonly language: (() => 'en' | 'ko') | null;

  private readonly messages = new Map<string, ChatMessage>();
  /** Sort time of each message; local messages get one after everything known. */
  private readonly sortTime = new Map<string, number>();
  private maxTime = 0;
  private order: readonly ChatMessage[] = [];
  private orderDirty = false;
  private readonly replaced = new Set<string>();

  private state: Omit<ChatState, 'messages'>;
  private snapshot: ChatState;
  private readonly listeners = new Set<() => void>();
  private flushScheduled = false;

  private run: Run | null = null;
  private cursor: string | null = null;
  /** Bumped when the shown conversation changes, so late history pages are dropped. */
  private generation = 0;
  private initPromise: Promise<void> | null = null;
  private pendingResume: { messageId: string; lastEventId: string | null } | null = null;
  private failedText: string | null = null;
  private lastPersist = 0;

  constructor(options: ChatSessionOptions) {
    this.chatbotId = options.chatbotId;
    this.api = options.api;
    this.storage = options.storage === undefined ? defaultStorage() : options.storage;
    this.schedule = options.schedule ?? frameScheduler;
    this.reconnectDelays = options.reconnectDelays ?? [250, 1000, 2000, 4000, 8000];
    this.stopTimeoutMs = options.stopTimeoutMs ?? 3000;
    this.pageSize = options.pageSize ?? 20;
    this.language = options.language ?? null;
    this.state = {
      chatbotId: this.chatbotId,
      isStreaming: false,
      isReconnecting: false,
      isStopping: false,
      streamingMessageId: null,
      hasMoreHistory: false,
      isLoadingHistory: false,
      isReady: false,
      error: null,
      conversationId: null,
      conversations: [],
    };
    this.snapshot = { ...this.state, messages: this.order };
  }

  // ---- subscription (useSyncExternalStore) ----

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): ChatState => this.snapshot;

  /** Publishes pending changes now (tests, and before the page goes away). */
  flush = (): void => {
    this.flushScheduled = false;
    if (this.orderDirty) {
      this.order = this.sortedMessages();
      this.orderDirty = false;
    } else if (this.replaced.size > 0) {
      this.order = this.order.map((m) => (this.replaced.has(m.id) ? (this.messages.get(m.id) ?? m) : m));
    }
    this.replaced.clear();
    this.snapshot = { ...this.state, messages: this.order };
    if (this.run && Date.now() - this.lastPersist >= 200) this.persist();
    for (const listener of this.listeners) listener();
  };

  private changed(patch: Partial<Omit<ChatState, 'messages'>> = {}): void {
    this.state = { ...this.state, ...patch };
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.schedule(this.flush);
  }

  // ---- messages ----

  private sortedMessages(): ChatMessage[] {
    const time = (m: ChatMessage) => this.sortTime.get(m.id) ?? 0;
    return [...this.messages.values()].sort(
      (a, b) =>
        time(a) - time(b) ||
        (a.role === b.role ? 0 : a.role === 'user' ? -1 : 1) ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
  }

  private put(message: ChatMessage, time?: number): void {
    const isNew = !this.messages.has(message.id);
    this.messages.set(message.id, message);
    if (isNew) {
      const t = time ?? Date.parse(message.createdAt);
      const sortTime = Number.isFinite(t) ? t : this.maxTime + 1;
      this.sortTime.set(message.id, sortTime);
      this.maxTime = Math.max(this.maxTime, sortTime);
      this.orderDirty = true;
    } else {
      // Same position, new object: swapped into the published order at the next flush.
      this.replaced.add(message.id);
    }
  }

  private update(id: string, patch: Partial<ChatMessage>): void {
    const current = this.messages.get(id);
    if (current) this.put({ ...current, ...patch });
  }

  private remove(id: string): void {
    if (this.messages.delete(id)) {
      this.sortTime.delete(id);
      this.orderDirty = true;
    }
  }

  private rename(oldId: string, newId: string): void {
    if (oldId === newId) return;
    const message = this.messages.get(oldId);
    if (!message) return;
    const time = this.sortTime.get(oldId);
    this.remove(oldId);
    this.remove(newId);
    this.put({ ...message, id: newId }, time);
  }

  /** A local message sorts after everything known so far, whatever the clock says. */
  private nextLocalTime(): number {
    return Math.max(Date.now(), this.maxTime + 1);
  }

  private merge(messages: readonly Message[]): void {
    for (const message of messages) {
      if (this.run && (message.id === this.run.botKey || message.id === this.run.userKey)) continue;
      if (this.pendingResume?.messageId === message.id) continue;
      this.put(fromServer(message));
    }
  }

  private clearMessages(): void {
    this.messages.clear();
    this.sortTime.clear();
    this.maxTime = 0;
    this.orderDirty = true;
  }

  // ---- history and conversations ----

  /** Loads conversations and the newest history page, then resumes a reply left mid-stream. */
  init(): Promise<void> {
    if (!this.initPromise) {
      this.initPromise = this.loadInitial().catch((error: unknown) => {
        this.initPromise = null;
        this.changed({ error: { message: messageOf(error), retry: 'init' }, isLoadingHistory: false });
      });
    }
    return this.initPromise;
  }

  private async loadInitial(): Promise<void> {
    this.changed({ isLoadingHistory: true, error: null });
    const conversations = await this.api.listConversations(this.chatbotId);
    const stored = this.readInFlight();
    const storedConversation =
      stored && conversations.some((c) => c.id === stored.conversationId) ? stored.conversationId : null;
    const conversationId = storedConversation ?? conversations[0]?.id ?? null;
    this.changed({ conversations, conversationId });
    if (conversationId) await this.loadPage(this.generation, true);
    else this.changed({ isLoadingHistory: false, hasMoreHistory: false });
    this.changed({ isReady: true });
    if (!this.run) this.resumeLeftover(stored && stored.conversationId === conversationId ? stored : null);
  }

  /** After a reload: continue the reply this tab was receiving, or any reply still streaming. */
  private resumeLeftover(stored: InFlight | null): void {
    if (stored && stored.conversationId === this.state.conversationId) {
      const known = this.messages.get(stored.messageId);
      if (!known || known.status === 'streaming') {
        this.put(
          {
            id: stored.messageId,
            role: 'assistant',
            content: stored.content,
            createdAt: stored.createdAt,
            chatbotId: this.chatbotId,
            conversationId: stored.conversationId,
            status: 'streaming',
            stopReason: null,
            error: null,
          },
          known ? undefined : this.nextLocalTime(),
        );
        this.startResume(stored.messageId, stored.lastEventId);
        return;
      }
    }
    this.clearInFlight();
    const streaming = [...this.messages.values()].find((m) => m.role === 'assistant' && m.status === 'streaming');
    if (streaming) {
      // Unknown position: replay the reply from its first event.
      this.update(streaming.id, { content: '' });
      this.startResume(streaming.id, null);
    }
  }

  private async loadPage(generation: number, first: boolean): Promise<void> {
    this.changed({ isLoadingHistory: true });
    try {
      const page = await this.api.history({
        chatbotId: this.chatbotId,
        conversationId: this.state.conversationId,
        before: first ? null : this.cursor,
        limit: this.pageSize,
      });
      if (generation !== this.generation) return;
      this.merge(page.messages);
      this.cursor = page.nextCursor;
      this.changed({ hasMoreHistory: page.hasMore && page.nextCursor !== null, isLoadingHistory: false });
    } catch (error) {
      if (generation !== this.generation) return;
      this.changed({ isLoadingHistory: false });
      throw error;
    }
  }

  /** Loads the next older page (infinite scroll upward). */
  async loadOlder(): Promise<void> {
    const s = this.state;
    if (!s.isReady || s.isLoadingHistory || !s.hasMoreHistory) return;
    try {
      await this.loadPage(this.generation, false);
    } catch (error) {
      this.changed({ error: { message: messageOf(error), retry: 'history' } });
    }
  }

  async refreshConversations(): Promise<void> {
    try {
      this.changed({ conversations: await this.api.listConversations(this.chatbotId) });
    } catch {
      // The list is a convenience; the chat itself still works.
    }
  }

  private async show(conversationId: string | null): Promise<void> {
    this.generation += 1;
    this.cursor = null;
    this.pendingResume = null;
    this.failedText = null;
    this.clearMessages();
    this.changed({ conversationId, hasMoreHistory: false, error: null, isReady: false });
    if (conversationId) {
      try {
        await this.loadPage(this.generation, true);
      } catch (error) {
        this.changed({ error: { message: messageOf(error), retry: 'init' } });
      }
    }
    this.changed({ isReady: true });
  }

  /** Starts a fresh conversation with this bot. */
  async newChat(): Promise<void> {
    if (this.run) return;
    try {
      const conversation = await this.api.createConversation(this.chatbotId);
      this.changed({ conversations: [conversation, ...this.state.conversations.filter((c) => c.id !== conversation.id)] });
      await this.show(conversation.id);
    } catch (error) {
      this.changed({ error: { message: messageOf(error), retry: null } });
    }
  }

  async selectConversation(id: string): Promise<void> {
    if (this.run || id === this.state.conversationId) return;
    await this.show(id);
  }

  async deleteConversation(id: string): Promise<void> {
    try {
      await this.api.deleteConversation(id);
    } catch (error) {
      this.changed({ error: { message: messageOf(error), retry: null } });
      return;
    }
    const conversations = this.state.conversations.filter((c) => c.id !== id);
    this.changed({ conversations });
    if (id === this.state.conversationId) await this.show(conversations[0]?.id ?? null);
  }

  // ---- a reply ----

  /** Sends a user message and streams the reply. Returns false when busy or empty. */
  send(text: string): boolean {
    const message = text.trim();
    if (!message || this.run) return false;
    this.failedText = null;
    const userKey = localId('user');
    const now = this.nextLocalTime();
    this.put(
      {
        id: userKey,
        role: 'user',
        content: message,
        createdAt: new Date(now).toISOString(),
        chatbotId: this.chatbotId,
        conversationId: this.state.conversationId,
        status: 'complete',
        stopReason: null,
        error: null,
      },
      now,
    );
    const run = this.startRun(userKey, message, null);
    const body = {
      chatbotId: this.chatbotId,
      message,
      ...(this.state.conversationId ? { conversationId: this.state.conversationId } : {}),
      ...(this.language ? { language: this.language() } : {}),
    };
    void this.drive(run, () => this.api.postChat(body, run.controller.signal));
    return true;
  }

  /** Replaces the last reply of the conversation with a new one. */
  regenerate(): boolean {
    if (this.run || !this.state.conversationId) return false;
    const last = this.sortedMessages().reverse().find((m) => m.role === 'assistant');
    if (!last || last.id.startsWith('local-')) return false;
    const time = this.sortTime.get(last.id);
    this.remove(last.id);
    const run = this.startRun(null, null, last, time);
    const body = {
      chatbotId: this.chatbotId,
      conversationId: this.state.conversationId,
      regenerate: true,
      ...(this.language ? { language: this.language() } : {}),
    };
    void this.drive(run, () => this.api.postChat(body, run.controller.signal));
    return true;
  }

  /** Stops the reply: the server cancels the generation, the partial text stays. */
  stop(): void {
    const run = this.run;
    if (!run || run.cancelRequested) return;
    run.cancelRequested = true;
    this.changed({ isStopping: true });
    if (run.messageId) this.requestCancel(run.messageId);
    // Why: normally the stream ends by itself with stop reason "cancelled"; if the
    // server does not answer in time, abort locally so the UI never hangs.
    run.stopTimer = setTimeout(() => run.controller.abort(), this.stopTimeoutMs);
  }

  /** The action behind the error's retry button. */
  retry(): void {
    const error = this.state.error;
    if (!error?.retry || this.run) return;
    this.changed({ error: null });
    switch (error.retry) {
      case 'send': {
        const text = this.failedText;
        const failed = [...this.messages.values()].filter((m) => m.status === 'failed');
        for (const m of failed) this.remove(m.id);
        if (text) this.send(text);
        break;
      }
      case 'resume':
        if (this.pendingResume) this.startResume(this.pendingResume.messageId, this.pendingResume.lastEventId);
        break;
      case 'history':
        void this.loadOlder();
        break;
      case 'init':
        if (this.initPromise || this.state.isReady) void this.show(this.state.conversationId);
        else void this.init();
        break;
    }
  }

  dismissError(): void {
    this.changed({ error: null });
  }

  private requestCancel(messageId: string): void {
    this.api.cancel(messageId).catch(() => {
      // The stop timer still ends the stream locally.
    });
  }

  private startRun(userKey: string | null, text: string | null, replaced: ChatMessage | null, time?: number): Run {
    const botKey = localId('bot');
    const t = time ?? this.nextLocalTime();
    this.put(
      {
        id: botKey,
        role: 'assistant',
        content: '',
        createdAt: new Date(t).toISOString(),
        chatbotId: this.chatbotId,
        conversationId: this.state.conversationId,
        status: 'streaming',
        stopReason: null,
        error: null,
      },
      t,
    );
    const run: Run = {
      controller: new AbortController(),
      botKey,
      userKey,
      messageId: null,
      lastEventId: null,
      retryMs: 0,
      finished: false,
      cancelRequested: false,
      stopTimer: null,
      text,
      replaced,
    };
    this.run = run;
    this.changed({ isStreaming: true, isStopping: false, isReconnecting: false, streamingMessageId: botKey, error: null });
    return run;
  }

  private startResume(messageId: string, lastEventId: string | null): void {
    if (this.run) return;
    this.pendingResume = null;
    const run: Run = {
      controller: new AbortController(),
      botKey: messageId,
      userKey: null,
      messageId,
      lastEventId,
      retryMs: 0,
      finished: false,
      cancelRequested: false,
      stopTimer: null,
      text: null,
      replaced: null,
    };
    this.run = run;
    this.update(messageId, { status: 'streaming', error: null });
    this.changed({ isStreaming: true, isStopping: false, isReconnecting: true, streamingMessageId: messageId, error: null });
    void this.drive(run, () => this.api.resumeChat(messageId, run.lastEventId, run.controller.signal));
  }

  /** Reads the reply to its end, reconnecting with Last-Event-ID when the connection drops. */
  private async drive(run: Run, firstOpen: () => Promise<Response>): Promise<void> {
    let open = firstOpen;
    let attempt = 0;
    for (;;) {
      try {
        const response = await open();
        if (response.status === 204 || !response.body) {
          // Nothing after our last event: the reply was already complete.
          run.finished = true;
          break;
        }
        this.changed({ isReconnecting: false });
        this.learnMessageId(run, response);
        const before = run.lastEventId;
        await readEventStream(
          response.body,
          {
            onEvent: (event) => this.applyEvent(run, event),
            onRetry: (ms) => {
              run.retryMs = ms;
            },
          },
          run.controller.signal,
        );
        if (run.finished) break;
        if (run.lastEventId !== before) attempt = 0;
        throw new NetworkError('the stream ended before message_stop');
      } catch (error) {
        if (isAbort(error) || run.controller.signal.aborted) return this.end(run, 'aborted');
        if (error instanceof ApiError && error.status === 422 && run.messageId && run.lastEventId !== null && attempt < this.reconnectDelays.length) {
          // The server does not know our last event id (a stale saved one): replay the reply from its start.
          attempt += 1;
          run.lastEventId = null;
          this.update(run.botKey, { content: '' });
          this.changed();
          const messageId = run.messageId;
          open = () => this.api.resumeChat(messageId, null, run.controller.signal);
          continue;
        }
        if (error instanceof ApiError) return this.fail(run, error);
        if (!run.messageId || attempt >= this.reconnectDelays.length) return this.fail(run, error);
        this.changed({ isReconnecting: true });
        try {
          await sleep(Math.max(run.retryMs, this.reconnectDelays[attempt] ?? 0), run.controller.signal);
        } catch {
          return this.end(run, 'aborted');
        }
        attempt += 1;
        const messageId = run.messageId;
        open = () => this.api.resumeChat(messageId, run.lastEventId, run.controller.signal);
      }
    }
    this.end(run, 'finished');
  }

  /**
   * Rill names the reply in a response header before the first event, so a
   * connection that drops even before message_start can still be resumed.
   */
  private learnMessageId(run: Run, response: Response): void {
    const id = response.headers.get('X-Rill-Message-Id');
    if (!id || run.messageId) return;
    this.rename(run.botKey, id);
    run.botKey = id;
    run.messageId = id;
    if (run.cancelRequested) this.requestCancel(id);
    this.changed({ streamingMessageId: id });
  }

  private applyEvent(run: Run, event: EventSourceMessage): void {
    if (this.run !== run) return;
    if (event.id) run.lastEventId = event.id;
    let data: StreamEvent;
    try {
      data = JSON.parse(event.data) as StreamEvent;
    } catch {
      console.warn('rill: skipped a malformed event', event.event, event.data.slice(0, 200));
      return;
    }
    if (!data || typeof data !== 'object') return;
    const bot = this.messages.get(run.botKey);
    switch (data.type ?? event.event) {
      case 'message_start':
        this.onMessageStart(run, data as Extract<StreamEvent, { type: 'message_start' }>);
        break;
      case 'content_block_start': {
        const text = (data as Extract<StreamEvent, { type: 'content_block_start' }>).content_block?.text;
        if (bot && typeof text === 'string' && text) this.put({ ...bot, content: bot.content + text });
        break;
      }
      case 'content_block_delta': {
        const text = (data as Extract<StreamEvent, { type: 'content_block_delta' }>).delta?.text;
        if (bot && typeof text === 'string') this.put({ ...bot, content: bot.content + text });
        break;
      }
      case 'error': {
        const error = (data as Extract<StreamEvent, { type: 'error' }>).error;
        if (bot) this.put({ ...bot, error: error?.message || error?.type || 'error' });
        break;
      }
      case 'message_delta': {
        const delta = (data as Extract<StreamEvent, { type: 'message_delta' }>).delta;
        const reason = delta?.rill_stop_reason ?? delta?.stop_reason ?? null;
        if (bot && reason) this.put({ ...bot, stopReason: reason });
        break;
      }
      case 'message_stop':
        run.finished = true;
        break;
      default:
        return;
    }
    this.changed();
  }

  private onMessageStart(run: Run, data: Extract<StreamEvent, { type: 'message_start' }>): void {
    const info = data.message;
    if (!info?.id) return;
    if (run.botKey !== info.id) {
      this.rename(run.botKey, info.id);
      run.botKey = info.id;
    }
    if (run.messageId !== info.id && run.cancelRequested) this.requestCancel(info.id);
    run.messageId = info.id;
    if (run.userKey && info.user_message_id && run.userKey !== info.user_message_id) {
      this.rename(run.userKey, info.user_message_id);
      run.userKey = info.user_message_id;
    }
    const conversationId = info.conversation_id ?? this.state.conversationId;
    for (const key of [run.botKey, run.userKey]) if (key) this.update(key, { conversationId });
    const isNewConversation = conversationId !== this.state.conversationId;
    this.changed({ streamingMessageId: info.id, conversationId });
    if (isNewConversation || !this.state.conversations.some((c) => c.id === conversationId)) void this.refreshConversations();
    this.persist();
  }

  private fail(run: Run, error: unknown): void {
    const accepted = run.messageId !== null;
    const message = messageOf(error);
    if (accepted) {
      // The reply exists on the server: offer to reconnect to it.
      this.pendingResume = { messageId: run.messageId!, lastEventId: run.lastEventId };
      this.finishRun(run);
      this.changed({ error: { message, retry: 'resume' } });
      return;
    }
    this.remove(run.botKey);
    if (run.replaced) this.put(run.replaced, this.sortTime.get(run.replaced.id));
    if (run.userKey) this.update(run.userKey, { status: 'failed', error: message });
    this.failedText = run.text;
    const retryable =
      !(error instanceof ApiError) || error.status >= 500 || error.status === 429 || error.status === 408;
    const retry: ChatError['retry'] = run.text && retryable ? 'send' : null;
    this.finishRun(run);
    this.changed({ error: { message, retry } });
  }

  private end(run: Run, how: 'finished' | 'aborted'): void {
    const bot = this.messages.get(run.botKey);
    if (bot) {
      let stopReason = bot.stopReason;
      if (how === 'aborted' && !stopReason) stopReason = 'cancelled';
      const status = (stopReason && STATUS_BY_STOP_REASON[stopReason]) || (bot.error ? 'error' : 'complete');
      this.put({ ...bot, stopReason, status });
    }
    this.finishRun(run);
    if (how === 'finished') void this.refreshConversations();
  }

  private finishRun(run: Run): void {
    if (run.stopTimer) clearTimeout(run.stopTimer);
    if (this.run !== run) return;
    this.run = null;
    this.clearInFlight();
    this.changed({ isStreaming: false, isStopping: false, isReconnecting: false, streamingMessageId: null });
  }

  /** Ends the session's network activity (tests, hot reload). The server keeps generating. */
  dispose(): void {
    this.persist();
    this.run?.controller.abort();
    this.listeners.clear();
  }

  // ---- reload survival ----

  private get storageKey(): string {
    return `rill:inflight:${this.chatbotId}`;
  }

  /** Saves the in-flight reply's text with the id of the last event it includes. */
  persist(): void {
    const run = this.run;
    if (!this.storage || !run?.messageId) return;
    const bot = this.messages.get(run.botKey);
    if (!bot) return;
    const record: InFlight = {
      messageId: run.messageId,
      lastEventId: run.lastEventId,
      content: bot.content,
      conversationId: bot.conversationId,
      createdAt: bot.createdAt,
    };
    try {
      this.storage.setItem(this.storageKey, JSON.stringify(record));
      this.lastPersist = Date.now();
    } catch {
      // Storage full or disabled: a reload then replays the reply from its start.
    }
  }

  private readInFlight(): InFlight | null {
    try {
      const raw = this.storage?.getItem(this.storageKey);
      const record = raw ? (JSON.parse(raw) as InFlight) : null;
      return record && typeof record.messageId === 'string' && typeof record.content === 'string' ? record : null;
    } catch {
      return null;
    }
  }

  private clearInFlight(): void {
    try {
      this.storage?.removeItem(this.storageKey);
    } catch {
      // ignore
    }
  }
}

function defaultStorage(): StorageLike | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage;
  } catch {
    return null;
  }
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

export type { Conversation };
