import type { ApiClient } from '../api/client';
import type { Conversation, Message } from '../api/types';

/** Every message of a conversation, oldest first (history pages come newest first). */
export async function conversationMessages(api: ApiClient, conversation: Conversation): Promise<Message[]> {
  const all: Message[] = [];
  let before: string | null = null;
  for (;;) {
    const page = await api.history({ chatbotId: conversation.chatbotId, conversationId: conversation.id, before, limit: 100 });
    all.unshift(...page.messages);
    if (!page.hasMore || !page.nextCursor) return all;
    before = page.nextCursor;
  }
}

/** The conversation as Markdown: a title, then each turn under who said it. */
export function toMarkdown(conversation: Conversation, messages: readonly Message[], botName: string, you: string): string {
  const title = conversation.title || conversation.id;
  const turns = messages.map((m) => `## ${m.role === 'user' ? you : botName}\n\n${m.content.trim()}\n`);
  return `# ${title}\n\n${turns.join('\n')}`;
}

/** The conversation as JSON: the API's own shapes, so it can be read back by tools. */
export function toJson(conversation: Conversation, messages: readonly Message[]): string {
  return JSON.stringify({ conversation, messages }, null, 2);
}

/** Offers `text` as a file download. */
export function download(filename: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
