/**
 * A minimal `useChat` page (the real `@ai-sdk/react` with the SDK's default HTTP transport)
 * talking to Rill's `/api/ai-sdk/chat`. Built and served by e2e/ai-sdk.spec.ts only.
 * The query names the chat (a Rill conversation id) and the Rill token.
 */
import { useChat } from '@ai-sdk/react';
import { DefaultChatTransport } from 'ai';
import { useState } from 'react';
import { createRoot } from 'react-dom/client';

const query = new URLSearchParams(location.search);
const chatId = query.get('chat') ?? '';
const auth = { Authorization: `Bearer ${query.get('token') ?? ''}` };
const transport = new DefaultChatTransport({ api: '/api/ai-sdk/chat', headers: auth });

function App() {
  const { messages, sendMessage, status, error } = useChat({ id: chatId, transport, resume: true });
  const [text, setText] = useState('');
  const reply = [...messages].reverse().find((m) => m.role === 'assistant');
  // Stop is Rill's cancel: aborting the fetch would only disconnect (the reply goes on).
  const stop = () => reply && fetch(`/api/chat/${reply.id}/cancel`, { method: 'POST', headers: auth });
  return (
    <main>
      {messages.map((m) => (
        <article
          key={m.id}
          data-role={m.role}
          data-id={m.id}
          data-stop={(m.metadata as { rillStopReason?: string } | undefined)?.rillStopReason ?? ''}
        >
          {m.parts.map((p) => (p.type === 'text' ? p.text : '')).join('')}
        </article>
      ))}
      <output aria-label="status">{status}</output>
      {error ? <p role="alert">{error.message}</p> : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void sendMessage({ text });
          setText('');
        }}
      >
        <input aria-label="message" value={text} onChange={(e) => setText(e.target.value)} />
        <button type="submit">Send</button>
        <button type="button" onClick={() => void stop()}>
          Stop
        </button>
      </form>
    </main>
  );
}

createRoot(document.getElementById('root')!).render(<App />);
