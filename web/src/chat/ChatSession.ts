import { ApiError, type ApiClient } from '../api/client';
import type { ChatRequest, HistoryPage, Message } from '../api/types';
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

/**
 * What a run is for: a new message, an edited one resent (a new version of it), a
 * regenerated reply (a new version of the last one), or rejoining a reply.
 */
type RunKind = 'send' | 'edit' | 'regenerate' | 'resume';

/** A turn the server never accepted, kept so Retry can send it again. */
interface FailedTurn {
  text: string;
  /** The user message it was an edit of (null: a new message). */
  editOf: string | null;
}

/** A message taken off the shown path for a new version, with its place (put back if the turn fails). */
interface Removed {
  message: ChatMessage;
  time: number | undefined;
}

/**
 * A reply this session follows without owning it (no Stop, no composer lock): one
 * started in another tab while this session's one run was busy with its own.
 */
interface Watch {
  controller: AbortController;
  reply: ReplyState;
}

/** One streaming reply: a POST or a resume, plus its reconnections. */
interface Run {
  kind: RunKind;
  controller: AbortController;
  /** Key of the assistant message in the store (local id until the server names it). */
  botKey: string;
  userKey: string | null;
  reply: ReplyState;
  cancelRequested: boolean;
  stopTimer: ReturnType<typeof setTimeout> | null;
  /** What to send again when the POST never reached the server. */
  turn: FailedTurn | null;
  /** Edit and regenerate: the old version and what was below it, restored if the request fails. */
  removed: readonly Removed[];
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
    parentId: message.parentId ?? null,
    // Why the fallback: a message without siblings is its own only version.
    versions: message.versions && message.versions.length > 0 ? message.versions : [message.id],
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
  /** Replies streaming elsewhere that this session shows as they grow, by message id. */
  private readonly watches = new Map<string, Watch>();
  private cursor: string | null = null;
  /** Bumped when the shown conversation changes, so late history pages are dropped. */
  private generation = 0;
  private initPromise: Promise<void> | null = null;
  private pendingResume: { messageId: string; lastEventId: string | null } | null = null;
  private failedTurn: FailedTurn | null = null;
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
        isSwitchingVersion: false,
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
            parentId: known?.parentId ?? null,
            versions: known?.versions ?? [stored.messageId],
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
      const watch = this.watches.get(message.id);
      if (watch && watch.reply.lastEventId !== null) {
        this.store.put({ ...fromServer(message), content: watch.reply.content, status: 'streaming' });
        continue;
      }
      this.store.put(fromServer(message));
    }
  }

  /**
   * Joins every reply of the shown thread that is still being generated and that
   * nothing here follows yet (started in another tab or device): the page only had
   * its text so far (issue 17: a second reply showed only after a reload).
   */
  private followStreaming(): void {
    for (const m of [...this.store.values()]) if (m.role === 'assistant' && m.status === 'streaming') this.follow(m.id);
  }

  private follow(messageId: string): void {
    if (this.run?.botKey === messageId || this.run?.reply.messageId === messageId) return;
    if (this.watches.has(messageId) || this.pendingResume?.messageId === messageId) return;
    // The one run is free: follow it as a run (Stop works on it, as on a reply sent here).
    if (!this.run) {
      this.startResume(messageId, null, '');
      return;
    }
    const watch: Watch = {
      controller: new AbortController(),
      reply: initialReply({ messageId, conversationId: this.store.get(messageId)?.conversationId ?? null }),
    };
    this.watches.set(messageId, watch);
    void this.transport
      .stream(this.transport.resume(messageId, null), watch.controller.signal, {
        onEvent: (event, id) => {
          const next = reduceReply(watch.reply, event, id);
          if (next === watch.reply) return;
          watch.reply = next;
          this.store.update(messageId, { content: next.content, stopReason: next.stopReason, error: next.error });
        },
        onReconnecting: () => undefined,
        cursor: () => watch.reply,
      })
      .then((outcome) => {
        this.watches.delete(messageId);
        const shown = this.store.get(messageId);
        // A failed watch leaves the text it had; the next load of the conversation shows the rest.
        if (!shown || outcome.kind !== 'finished') return;
        const { stopReason, error } = watch.reply;
        const status = (stopReason && STATUS_BY_STOP_REASON[stopReason]) || (error ? 'error' : 'complete');
        this.store.update(messageId, { status, stopReason, error });
      });
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

  /**
   * Takes the newest page as the truth about the path's end: messages from the page's
   * oldest one onward that it does not hold are off the path now (an edit or a
   * regenerate made newer versions); older pages already loaded are the same prefix
   * and stay, with their cursor.
   */
  private reconcile(page: HistoryPage): void {
    const run = this.run;
    const onPage = new Set(page.messages.map((m) => m.id));
    const oldest = page.messages[0];
    const from = oldest ? (this.store.timeOf(oldest.id) ?? Date.parse(oldest.createdAt)) : Number.NEGATIVE_INFINITY;
    let olderKept = false;
    for (const m of [...this.store.values()]) {
      if (onPage.has(m.id) || (run && (m.id === run.botKey || m.id === run.userKey))) continue;
      if ((this.store.timeOf(m.id) ?? 0) >= from) this.store.remove(m.id);
      else olderKept = true;
    }
    this.merge(page.messages);
    if (!olderKept) {
      this.cursor = page.nextCursor;
      this.store.patch({ hasMoreHistory: page.hasMore && page.nextCursor !== null });
    }
  }

  /** Shows `page` as the whole thread (another version was chosen: everything below it changed). */
  private replaceThread(page: HistoryPage): void {
    this.store.clearMessages();
    this.merge(page.messages);
    this.cursor = page.nextCursor;
    this.store.patch({ hasMoreHistory: page.hasMore && page.nextCursor !== null, isLoadingHistory: false });
  }

  /** Reloads the newest page of the shown conversation (its path changed here or in another tab). */
  private async reloadShown(mode: 'reconcile' | 'replace'): Promise<boolean> {
    const conversationId = this.state.conversationId;
    if (!conversationId) return false;
    if (mode === 'replace') this.generation += 1;
    const generation = this.generation;
    try {
      const page = await this.api.history({ chatbotId: this.chatbotId, conversationId, limit: this.pageSize });
      if (generation !== this.generation || conversationId !== this.state.conversationId) return false;
      if (mode === 'replace') this.replaceThread(page);
      else this.reconcile(page);
      this.followStreaming();
      return true;
    } catch {
      // The thread shown stays as it was; the next load of the conversation corrects it.
      if (generation === this.generation) this.store.patch({ isLoadingHistory: false });
      return false;
    }
  }

  /**
   * Shows another version of a message (‹ 2 / 3 ›): the server makes it, and below it
   * what was shown with it last time, the conversation's path, and answers that path's
   * newest page. Returns false when it did not happen (busy, refused: the error shows).
   */
  async showVersion(messageId: string): Promise<boolean> {
    const conversationId = this.state.conversationId;
    const s = this.state;
    if (!conversationId || !s.isReady || s.isSwitchingVersion || (this.run && s.streamingConversationId === conversationId)) return false;
    // Why a new generation: a page of the old path still on its way must not land in the new one.
    this.generation += 1;
    const generation = this.generation;
    this.store.patch({ isSwitchingVersion: true, error: null });
    try {
      const page = await this.api.showVersion(conversationId, messageId);
      if (generation !== this.generation) return false;
      this.replaceThread(page);
      // A long tail below the chosen version can push it above the newest page: page up to it,
      // so the switcher the user pressed is still on screen.
      for (let i = 0; i < 20 && !this.store.get(messageId) && this.state.hasMoreHistory && generation === this.generation; i++) {
        await this.loadPage(generation, false);
      }
      return generation === this.generation;
    } catch (error) {
      if (generation === this.generation) this.setError(chatError(error, null));
      return false;
    } finally {
      if (generation === this.generation) this.store.patch({ isSwitchingVersion: false, isLoadingHistory: false });
      else this.store.patch({ isSwitchingVersion: false });
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
    this.failedTurn = null;
    this.store.clearMessages();
    this.store.patch({ conversationId, hasMoreHistory: false, error: null, isReady: false });
    if (conversationId) {
      const generation = this.generation;
      try {
        await this.loadPage(generation, true);
        if (generation === this.generation) this.followStreaming();
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
        if (shown && event.messageId && !this.store.get(event.messageId) && !this.mayBeOwnTurn(event.conversationId, event.messageId)) {
          // Started elsewhere: show the new turn (an edit or a regenerate there also takes
          // the old versions off the path here), then join its reply as it streams.
          if (!(await this.reloadShown('reconcile'))) return;
          if (this.state.conversationId === event.conversationId) this.follow(event.messageId);
        }
        await this.refreshConversations();
        return;
      case 'versions':
        // Another version was chosen elsewhere: show the path it made.
        // (This tab's own switch comes back too: its version is then shown already.)
        if (
          shown &&
          !(event.messageId && this.store.get(event.messageId)) &&
          !(this.run && this.state.streamingConversationId === event.conversationId) &&
          !this.state.isSwitchingVersion
        ) {
          await this.reloadShown('replace');
        }
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

  /** The event may be this session's own turn, echoed back before its stream named it. */
  private mayBeOwnTurn(conversationId: string, messageId: string): boolean {
    const run = this.run;
    if (!run) return false;
    return run.reply.messageId === null || run.reply.messageId === messageId || this.state.streamingConversationId === conversationId;
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
    // Why not while switching versions: the thread is about to be replaced, the new message with it.
    if (!message || this.run || !this.state.isReady || this.state.isSwitchingVersion) return false;
    this.failedTurn = null;
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
        parentId: null,
        versions: [userKey],
      },
      now,
    );
    const run = this.startRun('send', userKey, { text: message, editOf: null }, []);
    void this.drive(run, this.transport.start(async () => this.turn(await this.conversationFor(message), { message })));
    return true;
  }

  /**
   * Resends an edited user message: a new version of it (the old one and its replies
   * stay on the server, reachable with the version switcher), answered by a new reply.
   * Returns false when busy, empty, or the message is not a sent user message here.
   */
  edit(messageId: string, text: string): boolean {
    const message = text.trim();
    const conversationId = this.state.conversationId;
    const original = this.store.get(messageId);
    if (!message || this.run || !this.state.isReady || this.state.isSwitchingVersion || !conversationId) return false;
    if (original?.role !== 'user' || original.status === 'failed' || messageId.startsWith('local-')) return false;
    this.failedTurn = null;
    const time = this.store.timeOf(messageId);
    // The old version and everything below it leave the shown path.
    const removed = this.removeFrom(messageId);
    const userKey = localId('user');
    this.store.put(
      {
        ...original,
        id: userKey,
        content: message,
        createdAt: new Date().toISOString(),
        status: 'complete',
        error: null,
        versions: [...original.versions, userKey],
      },
      time,
    );
    const run = this.startRun('edit', userKey, { text: message, editOf: messageId }, removed);
    void this.drive(run, this.transport.start(async () => this.turn(conversationId, { message, editOf: messageId })));
    return true;
  }

  /** A new reply to the last user message; the old one stays as an earlier version. */
  regenerate(): boolean {
    const conversationId = this.state.conversationId;
    if (this.run || !conversationId || this.state.isSwitchingVersion) return false;
    const last = this.store.sorted().reverse().find((m) => m.role === 'assistant');
    if (!last || last.id.startsWith('local-')) return false;
    const time = this.store.timeOf(last.id);
    const removed = this.removeFrom(last.id);
    const run = this.startRun('regenerate', null, null, removed, time);
    this.store.update(run.botKey, { parentId: last.parentId, versions: [...last.versions, run.botKey] });
    void this.drive(run, this.transport.start(async () => this.turn(conversationId, { regenerate: true })));
    return true;
  }

  /** Takes `messageId` and every message after it off the shown thread, with their places. */
  private removeFrom(messageId: string): Removed[] {
    const sorted = this.store.sorted();
    const at = sorted.findIndex((m) => m.id === messageId);
    if (at < 0) return [];
    const removed = sorted.slice(at).map((message) => ({ message, time: this.store.timeOf(message.id) }));
    for (const { message } of removed) this.store.remove(message.id);
    return removed;
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
        const turn = this.failedTurn;
        for (const m of [...this.store.values()]) if (m.status === 'failed') this.store.remove(m.id);
        if (turn?.editOf) this.edit(turn.editOf, turn.text);
        else if (turn) this.send(turn.text);
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

  private newRun(kind: RunKind, botKey: string, userKey: string | null, reply: ReplyState, turn: FailedTurn | null, removed: readonly Removed[]): Run {
    const run: Run = {
      kind,
      controller: new AbortController(),
      botKey,
      userKey,
      reply,
      cancelRequested: false,
      stopTimer: null,
      turn,
      removed,
    };
    this.run = run;
    return run;
  }

  private startRun(kind: RunKind, userKey: string | null, turn: FailedTurn | null, removed: readonly Removed[], time?: number): Run {
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
        parentId: userKey,
        versions: [botKey],
      },
      t,
    );
    const run = this.newRun(kind, botKey, userKey, initialReply({ conversationId }), turn, removed);
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
    const run = this.newRun('resume', messageId, null, reply, null, []);
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
    if (run.removed.length > 0) {
      // An edit or a regenerate the server never took: the thread is as it was.
      if (run.userKey) this.store.remove(run.userKey);
      const conversationId = run.removed[0]?.message.conversationId;
      if (conversationId === this.state.conversationId) for (const { message: m, time } of run.removed) this.store.put(m, time);
    } else if (run.userKey) {
      this.store.update(run.userKey, { status: 'failed', error: message });
    }
    this.failedTurn = run.turn;
    const retryable =
      !(error instanceof ApiError) || error.status >= 500 || error.status === 429 || error.status === 408;
    this.finishRun(run);
    this.setError(chatError(error, run.turn && retryable ? 'send' : null));
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
    // An edit or a regenerate made new versions: the server's page now says which
    // messages have siblings (the switchers), and the ids of what the turn made.
    if ((run.kind === 'edit' || run.kind === 'regenerate') && run.reply.conversationId === this.state.conversationId) {
      void this.reloadShown('reconcile');
    }
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
    for (const watch of this.watches.values()) watch.controller.abort();
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
