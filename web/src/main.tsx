import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { ApiClient } from './api/client';
import { App } from './App';
import { ChatRegistry } from './chat/ChatRegistry';
import { ChatProvider } from './hooks/ChatContext';
import { I18nProvider, currentLanguage } from './i18n/I18n';
import './styles.css';

const api = new ApiClient();
const registry = new ChatRegistry(api, { language: currentLanguage });
// Why: the in-flight reply's (text, last event id) pair must be saved right before
// a reload, so the next page resumes exactly where this one stopped.
window.addEventListener('pagehide', () => registry.persistAll());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') registry.persistAll();
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <I18nProvider>
      <ChatProvider registry={registry}>
        <App api={api} />
      </ChatProvider>
    </I18nProvider>
  </StrictMode>,
);
