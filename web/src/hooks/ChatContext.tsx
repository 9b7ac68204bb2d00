import { createContext, useContext, type ReactNode } from 'react';
import type { ChatRegistry } from '../chat/ChatRegistry';

const ChatContext = createContext<ChatRegistry | null>(null);

export function ChatProvider({ registry, children }: { registry: ChatRegistry; children: ReactNode }) {
  return <ChatContext.Provider value={registry}>{children}</ChatContext.Provider>;
}

export function useChatRegistry(): ChatRegistry {
  const registry = useContext(ChatContext);
  if (!registry) throw new Error('useStreamingChat needs a <ChatProvider>');
  return registry;
}
