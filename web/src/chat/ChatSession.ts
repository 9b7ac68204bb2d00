import { ApiError, type ApiClient } from '../api/client';
import type { ChatRequest, Message } from '../api/types';
import { browserWake, DEFAULT_BACKOFF, type Backoff, type WakeSource } from './backoff';
import { chatError } from './errors';
import { defaultStorage, InFlightRecord, type InFlight, type StorageLike } from './inflight';
import { initialReply, reduceReply, type ReplyEvent, type ReplyState } from './reducer';
import { frameScheduler, type Scheduler } from './schedule';
import { ChatStore } from './store';
import type { SyncEvent } from './sync';
import { ChatTransport, type OpenReply, type ReplyOutcome } from './transport';
import type { ChatError, ChatMessage, ChatState } from './types';

export type { StorageLike };

export interface ChatSessionOptions {
  chatbotId: string;
  api: ApiClient;
  /** Where the in-flight reply is remembered across a page reload (sessionStorage). */
  storage?: StorageLike | null;
  /** Coalesces state updates; default: once per animation frame. */
  schedule?: Scheduler;
  /** Waits between reconnection attempts after a dropped stream. */
  backoff?: Backoff;
  /** What cuts a reconnection wait short; default: the browser's online / visible events. */
  wake?: WakeSource;
  /** After Stop, how long to wait for the server's final events before aborting. */
  stopTimeoutMs?: number;
  pageSize?: number;
  /** The UI language, sent with each turn (the guide bot answers in it). */
  language?: () => 'en' | 'ko';
}

/** One streaming reply: a POST or a resume, plus its reconnections. */
interface Run {
  controller: AbortController;
  /** Key of the assistant message in the store (local id until the server names it). */
  botKey: string;
  userKey: string | null;
  reply: ReplyState;
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

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A new conversation's title: the start of its first message, on one line. */
function titleFrom(message: string): string {
  const line = message.replace(/\s+/g, ' ').trim();
  return line.length > 60 ? `${line.slice(0, 59)}…` : line;
}

/**
 * The chat of one chatbot, independent of any UI framework: a thin orchestrator
 * that runs one reply at a time (send, resume, stop, regenerate) through the
 * transport, folds its events with the pure reducer, and mirrors the result
 * into the store, which the UI subscribes to. Also pages history and manages
 * the bot's conversations.
 */
export class ChatSession {
  readonly chatbotId: string;
  private readonly api: ApiClient;
  private readonly transport: ChatTransport;
  private readonly store: ChatStore;
  private readonly inFlight: InFlightRecord;
  private readonly stopTimeoutMs: number;
  private readonly pageSize: number;
  private readonly language: (() => 'en' | 'ko') | null;

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
    this.transport = new ChatTransport(options.api, options.backoff ?? DEFAULT_BACKOFF, options.wake ?? browserWake);
    this.inFlight = new InFlightRecord(this.chatbotId, options.storage === undefined ? defaultStorage() : options.storage);
    this.stopTimeoutMs = options.stopTimeoutMs ?? 3000;
    this.pageSize = options.pageSize ?? 20;
    this.language = options.language ?? null;
    this.store = new ChatStore(
      {
        chatbotId: this.chatbotId,
        isStreaming: false,
        isReconnecting: false,
        isStopping: false,
        streamingMessageId: null,
        streamingConversationId: null,
        hasMoreHistory: false,
        isLoadingHistory: false,
        isReady: false,
        error: null,
        conversationId: null,
        conversations: [],
      },
      options.schedule ?? frameScheduler,
      () => {
        if (this.run && Date.now() - this.lastPersist >= 200) this.persist();
      },
    );
  }

  // ---- subscription (useSyncExternalStore) ----

  get subscribe(): ChatStore['subscribe'] {
    return this.store.subscribe;
  }

  get getSnapshot(): () => ChatState {
    return this.store.getSnapshot;
  }

  /** Publishes pending changes now (tests, and before the page goes away). */
  flush(): void {
    this.store.flush();
  }

  private get state() {
    return this.store.state;
  }

  private setError(error: ChatError | null): void {
    this.store.patch({ error });
  }

  // ---- history and conversations ----

  /** Loads conversations and the newest history page, then resumes a reply left mid-stream. */
  init(): Promise<void> {
    if (!this.initPromise) {
      this.initPromise = this.loadInitial().catch((error: unknown) => {
        this.initPromise = null;
        this.store.patch({ error: chatError(error, 'init'), isLoadingHistory: false });
      });
    }
    return this.initPromise;
  }

  private async loadInitial(): Promise<void> {
    this.store.patch({ isLoadingHistory: true, error: null });
    const conversations = await this.api.listConversations(this.chatbotId);
    const stored = this.inFlight.read();
    const storedConversation =
      stored && conversations.some((c) => c.id === stored.conversationId) ? stored.conversationId : null;
    const conversationId = storedConversation ?? conversations[0]?.id ?? null;
    this.store.patch({ conversations, conversationId });
    if (conversationId) await this.loadPage(this.generation, true);
    else this.store.patch({ isLoadingHistory: false, hasMoreHistory: false });
    this.store.patch({ isReady: true });
    if (!this.run) this.resumeLeftover(stored && stored.conversationId === conversationId ? stored : null);
  }

  /** After a reload: continue the reply this tab was receiving, or any reply still streaming. */
  private resumeLeftover(stored: InFlight | null): void {
    if (stored && stored.conversationId === this.state.conversationId) {
      const known = this.store.get(stored.messageId);
      if (!known || known.status === 'streaming') {
        this.store.put(
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
          known ? undefined : this.store.nextLocalTime(),
        );
        this.startResume(stored.messageId, stored.lastEventId, stored.content);
        return;
      }
    }
    this.inFlight.clear();
    const streaming = [...this.store.values()].find((m) => m.role === 'assistant' && m.status === 'streaming');
    // Unknown position: replay the reply from its first event.
    if (streaming) this.startResume(streaming.id, null, '');
  }

  private merge(messages: readonly Message[]): void {
    const run = this.run;
    for (const message of messages) {
      if (run && message.id === run.botKey) {
        // Back in the conversation of a reply streaming in the background: the run's
        // text is fresher than the page's.
        if (!this.store.get(message.id)) this.store.put({ ...fromServer(message), content: run.reply.content, status: 'streaming' });
        continue;
      }
      if (run && message.id === run.userKey) {
        if (!this.store.get(message.id)) this.store.put(fromServer(message));
        continue;
      }
      if (this.pendingResume?.messageId === message.id) continue;
      this.store.put(fromServer(message));
    }
  }

  private async loadPage(generation: number, first: boolean): Promise<void> {
    this.store.patch({ isLoadingHistory: true });
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
      this.store.patch({ hasMoreHistory: page.hasMore && page.nextCursor !== null, isLoadingHistory: false });
    } catch (error) {
      if (generation !== this.generation) return;
      this.store.patch({ isLoadingHistory: false });
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
      this.setError(chatError(error, 'history'));
    }
  }

  async refreshConversations(): Promise<void> {
    try {
      this.store.patch({ conversations: await this.api.listConversations(this.chatbotId) });
    } catch {
      // The list is a convenience; the chat itself still works.
    }
  }

  private async show(conversationId: string | null): Promise<void> {
    this.generation += 1;
    this.cursor = null;
    this.pendingResume = null;
    this.failedText = null;
    this.store.clearMessages();
    this.store.patch({ conversationId, hasMoreHistory: false, error: null, isReady: false });
    if (conversationId) {
      try {
        await this.loadPage(this.generation, true);
      } catch (error) {
        this.setError(chatError(error, 'init'));
      }
    }
    this.store.patch({ isReady: true });
  }

  /**
   * Shows a blank chat; the conversation is created with its first message
   * (issue 17: each click used to leave an empty conversation behind). A reply
   * streaming elsewhere continues in the background.
   */
  async newChat(): Promise<void> {
    await this.show(null);
  }

  /** The conversation a new turn goes to: the shown one, or one created now for it. */
  private async conversationFor(firstMessage: string): Promise<string> {
    const shown = this.state.conversationId;
    if (shown) return shown;
    const conversation = await this.api.createConversation(this.chatbotId, titleFrom(firstMessage));
    if (this.state.conversationId === null) {
      this.store.patch({ conversationId: conversation.id, conversations: [conversation, ...this.state.conversations] });
      for (const m of [...this.store.values()]) if (m.conversationId === null) this.store.update(m.id, { conversationId: conversation.id });
    }
    return conversation.id;
  }

  /** Shows another conversation; a reply streaming elsewhere continues in the background. */
  async selectConversation(id: string): Promise<void> {
    if (id === this.state.conversationId) return;
    await this.show(id);
  }

  /** Renames a conversation; returns false (with the error shown) when the server refused. */
  async renameConversation(id: string, title: string): Promise<boolean> {
    try {
      const renamed = await this.api.renameConversation(id, title);
      this.store.patch({ conversations: this.state.conversations.map((c) => (c.id === id ? renamed : c)) });
      return true;
    } catch (error) {
      this.setError(chatError(error, null));
      return false;
    }
  }

  async deleteConversation(id: string): Promise<void> {
    try {
      await this.api.deleteConversation(id);
    } catch (error) {
      this.setError(chatError(error, null));
      return;
    }
    const conversations = this.state.conversations.filter((c) => c.id !== id);
    this.store.patch({ conversations });
    if (id === this.state.conversationId) await this.show(conversations[0]?.id ?? null);
  }

  // ---- sync from the user's other tabs and devices ----

  /** Applies a chat event published by the server for this user (chat/sync.ts). */
  async applySync(event: SyncEvent): Promise<void> {
    if (!this.state.isReady) return;
    const shown = event.conversationId === this.state.conversationId;
    switch (event.kind) {
      case 'turn_started':
        if (shown && !this.run && event.messageId && !this.store.get(event.messageId)) {
          // Started elsewhere: show the new turn, then join its reply as it streams.
          try {
            await this.loadPage(this.generation, true);
          } catch {
            return;
          }
          if (!this.run && this.state.conversationId === event.conversationId) this.startResume(event.messageId, null, '');
        }
        await this.refreshConversations();
        return;
      case 'reply_finished':
      case 'reply_stopped':
        await this.refreshConversations();
        return;
      case 'conversation_renamed':
        if (event.title !== null) {
          const title = event.title;
          this.store.patch({ conversations: this.state.conversations.map((c) => (c.id === event.conversationId ? { ...c, title } : c)) });
        }
        return;
      case 'conversation_deleted': {
        const conversations = this.state.conversations.filter((c) => c.id !== event.conversationId);
        if (conversations.length === this.state.conversations.length) return;
        this.store.patch({ conversations });
        if (shown && !this.run) await this.show(conversations[0]?.id ?? null);
        return;
      }
    }
  }

  // ---- a reply ----

  private turn(conversationId: string, extra: Partial<ChatRequest>): ChatRequest {
    return {
      chatbotId: this.chatbotId,
      conversationId,
      ...extra,
      ...(this.language ? { language: this.language() } : {}),
    };
  }

  /**
   * Sends a user message and streams the reply. Returns false when busy, empty,
   * or before history has loaded: a turn without a known conversation would land
   * in one the user cannot see (issue 17).
   */
  send(text: string): boolean {
    const message = text.trim();
    if (!message || this.run || !this.state.isReady) return false;
    this.failedText = null;
    const userKey = localId('user');
    const now = this.store.nextLocalTime();
    this.store.put(
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
    void this.drive(run, this.transport.start(async () => this.turn(await this.conversationFor(message), { message })));
    return true;
  }

  /** Replaces the last reply of the conversation with a new one. */
  regenerate(): boolean {
    const conversationId = this.state.conversationId;
    if (this.run || !conversationId) return false;
    const last = this.store.sorted().reverse().find((m) => m.role === 'assistant');
    if (!last || last.id.startsWith('local-')) return false;
    const time = this.store.timeOf(last.id);
    this.store.remove(last.id);
    const run = this.startRun(null, null, last, time);
    void this.drive(run, this.transport.start(async () => this.turn(conversationId, { regenerate: true })));
    return true;
  }

  /** Stops the reply: the server cancels the generation, the partial text stays. */
  stop(): void {
    const run = this.run;
    if (!run || run.cancelRequested) return;
    run.cancelRequested = true;
    this.store.patch({ isStopping: true });
    if (run.reply.messageId) this.requestCancel(run.reply.messageId);
    // Why: normally the stream ends by itself with stop reason "cancelled"; if the
    // server does not answer in time, abort locally so the UI never hangs.
    run.stopTimer = setTimeout(() => run.controller.abort(), this.stopTimeoutMs);
  }

  /** The action behind the error's retry button. */
  retry(): void {
    const error = this.state.error;
    if (!error?.retry || this.run || (error.retryAt !== null && Date.now() < error.retryAt)) return;
    this.setError(null);
    switch (error.retry) {
      case 'send': {
        const text = this.failedText;
        for (const m of [...this.store.values()]) if (m.status === 'failed') this.store.remove(m.id);
        if (text) this.send(text);
        break;
      }
      case 'resume':
        if (this.pendingResume) this.startResume(this.pendingResume.messageId, this.pendingResume.lastEventId, null);
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
    this.setError(null);
  }

  private requestCancel(messageId: string): void {
    this.api.cancel(messageId).catch(() => {
      // The stop timer still ends the stream locally.
    });
  }

  private newRun(botKey: string, userKey: string | null, reply: ReplyState, text: string | null, replaced: ChatMessage | null): Run {
    const run: Run = { controller: new AbortController(), botKey, userKey, reply, cancelRequested: false, stopTimer: null, text, replaced };
    this.run = run;
    return run;
  }

  private startRun(userKey: string | null, text: string | null, replaced: ChatMessage | null, time?: number): Run {
    const botKey = localId('bot');
    const t = time ?? this.store.nextLocalTime();
    const conversationId = this.state.conversationId;
    this.store.put(
      {
        id: botKey,
        role: 'assistant',
        content: '',
        createdAt: new Date(t).toISOString(),
        chatbotId: this.chatbotId,
        conversationId,
        status: 'streaming',
        stopReason: null,
        error: null,
      },
      t,
    );
    const run = this.newRun(botKey, userKey, initialReply({ conversationId }), text, replaced);
    this.store.patch({ isStreaming: true, isStopping: false, isReconnecting: false, streamingMessageId: botKey, streamingConversationId: conversationId, error: null });
    return run;
  }

  /** Reconnects to a reply the server is (or was) generating; `content` null keeps what is shown. */
  private startResume(messageId: string, lastEventId: string | null, content: string | null): void {
    if (this.run) return;
    this.pendingResume = null;
    const shown = this.store.get(messageId);
    const reply = initialReply({
      messageId,
      lastEventId,
      conversationId: shown?.conversationId ?? this.state.conversationId,
      content: content ?? shown?.content ?? '',
    });
    const run = this.newRun(messageId, null, reply, null, null);
    this.store.update(messageId, { status: 'streaming', error: null, content: reply.content });
    this.store.patch({ isStreaming: true, isStopping: false, isReconnecting: true, streamingMessageId: messageId, streamingConversationId: reply.conversationId, error: null });
    void this.drive(run, this.transport.resume(messageId, lastEventId));
  }

  private async drive(run: Run, open: OpenReply): Promise<void> {
    const outcome: ReplyOutcome = await this.transport.stream(open, run.controller.signal, {
      onEvent: (event, id) => this.apply(run, event, id),
      onReconnecting: (isReconnecting) => {
        if (this.run === run) this.store.patch({ isReconnecting });
      },
      cursor: () => run.reply,
    });
    if (outcome.kind === 'failed') this.fail(run, outcome.error);
    else this.end(run, outcome.kind);
  }

  /** Folds an event into the run's reply and mirrors what changed into the store. */
  private apply(run: Run, event: ReplyEvent, id: string | null): void {
    if (this.run !== run) return;
    const prev = run.reply;
    const next = reduceReply(prev, event, id);
    if (next === prev) return;
    run.reply = next;
    if (next.messageId && next.messageId !== prev.messageId) this.named(run, next.messageId);
    if (run.userKey && next.userMessageId && next.userMessageId !== run.userKey) {
      this.store.rename(run.userKey, next.userMessageId);
      run.userKey = next.userMessageId;
    }
    if (event.type === 'message_start') this.started(run, next.conversationId);
    if (next.content !== prev.content || next.stopReason !== prev.stopReason || next.error !== prev.error) {
      this.store.update(run.botKey, { content: next.content, stopReason: next.stopReason, error: next.error });
    }
  }

  /** The server named the reply: the local message takes its id; a Stop already pressed is sent now. */
  private named(run: Run, messageId: string): void {
    if (run.botKey !== messageId) {
      this.store.rename(run.botKey, messageId);
      run.botKey = messageId;
    }
    if (run.cancelRequested) this.requestCancel(messageId);
    this.store.patch({ streamingMessageId: messageId });
  }

  private started(run: Run, replyConversation: string | null): void {
    const shown = this.store.get(run.botKey) !== undefined;
    const conversationId = replyConversation ?? this.state.conversationId;
    for (const key of [run.botKey, run.userKey]) if (key) this.store.update(key, { conversationId });
    const isNewConversation = conversationId !== this.state.conversationId;
    this.store.patch(shown ? { conversationId, streamingConversationId: conversationId } : { streamingConversationId: conversationId });
    if (isNewConversation || !this.state.conversations.some((c) => c.id === conversationId)) void this.refreshConversations();
    this.persist();
  }

  private fail(run: Run, error: unknown): void {
    const message = messageOf(error);
    const messageId = run.reply.messageId;
    if (messageId !== null) {
      // The reply exists on the server: offer to reconnect to it.
      this.pendingResume = { messageId, lastEventId: run.reply.lastEventId };
      this.finishRun(run);
      this.setError(chatError(error, 'resume'));
      return;
    }
    this.store.remove(run.botKey);
    if (run.replaced) this.store.put(run.replaced, this.store.timeOf(run.replaced.id));
    if (run.userKey) this.store.update(run.userKey, { status: 'failed', error: message });
    this.failedText = run.text;
    const retryable =
      !(error instanceof ApiError) || error.status >= 500 || error.status === 429 || error.status === 408;
    this.finishRun(run);
    this.setError(chatError(error, run.text && retryable ? 'send' : null));
  }

  private end(run: Run, how: 'finished' | 'aborted'): void {
    const bot = this.store.get(run.botKey);
    if (bot) {
      let stopReason = bot.stopReason;
      if (how === 'aborted' && !stopReason) stopReason = 'cancelled';
      const status = (stopReason && STATUS_BY_STOP_REASON[stopReason]) || (bot.error ? 'error' : 'complete');
      this.store.put({ ...bot, stopReason, status });
    }
    this.finishRun(run);
    if (how === 'finished') void this.refreshConversations();
  }

  private finishRun(run: Run): void {
    if (run.stopTimer) clearTimeout(run.stopTimer);
    if (this.run !== run) return;
    this.run = null;
    this.inFlight.clear();
    this.store.patch({ isStreaming: false, isStopping: false, isReconnecting: false, streamingMessageId: null, streamingConversationId: null });
  }

  /** Ends the session's network activity (tests, hot reload). The server keeps generating. */
  dispose(): void {
    this.persist();
    this.run?.controller.abort();
    this.store.clearListeners();
  }

  /** Saves the in-flight reply's text with the id of the last event it includes (reload survival). */
  persist(): void {
    const run = this.run;
    const { messageId, lastEventId, content } = run?.reply ?? {};
    const bot = run && this.store.get(run.botKey);
    if (!messageId || !bot) return;
    if (this.inFlight.write({ messageId, lastEventId: lastEventId ?? null, content: content ?? '', conversationId: bot.conversationId, createdAt: bot.createdAt })) {
      this.lastPersist = Date.now();
    }
  }
}
