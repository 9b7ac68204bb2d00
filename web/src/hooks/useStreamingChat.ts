import { useEffect, useMemo, useSyncExternalStore } from 'react';
import type { ChatState } from '../chat/types';
import { useChatRegistry } from './ChatContext';

export interface StreamingChat extends ChatState {
  send: (text: string) => boolean;
  stop: () => void;
  retry: () => void;
  dismissError: () => void;
  regenerate: () => boolean;
  /** Resends an edited user message as a new version of it. */
  edit: (messageId: string, text: string) => boolean;
  /** Shows another version of a message (and what was below it); false when it did not happen. */
  showVersion: (messageId: string) => Promise<boolean>;
  loadOlder: () => Promise<void>;
  newChat: () => Promise<void>;
  selectConversation: (id: string) => Promise<void>;
  deleteConversation: (id: string) => Promise<void>;
  renameConversation: (id: string, title: string) => Promise<boolean>;
}

/**
 * The seed's hook, as a thin view of a framework-agnostic ChatSession: all
 * streaming state lives in the session (one per bot), this only subscribes.
 * Switching `name` shows another session; the previous one keeps streaming.
 */
export function useStreamingChat({ name }: { name: string }): StreamingChat {
  const session = useChatRegistry().get(name);
  const state = useSyncExternalStore(session.subscribe, session.getSnapshot, session.getSnapshot);

  useEffect(() => {
    void session.init();
  }, [session]);

  const actions = useMemo(
    () => ({
      send: (text: string) => session.send(text),
      stop: () => session.stop(),
      retry: () => session.retry(),
      dismissError: () => session.dismissError(),
      regenerate: () => session.regenerate(),
      edit: (messageId: string, text: string) => session.edit(messageId, text),
      showVersion: (messageId: string) => session.showVersion(messageId),
      loadOlder: () => session.loadOlder(),
      newChat: () => session.newChat(),
      selectConversation: (id: string) => session.selectConversation(id),
      deleteConversation: (id: string) => session.deleteConversation(id),
      renameConversation: (id: string, title: string) => session.renameConversation(id, title),
    }),
    [session],
  );

  return useMemo(() => ({ ...state, ...actions }), [state, actions]);
}
