import { useState } from 'react';
import type { ApiClient } from '../api/client';
import type { Bot, Conversation } from '../api/types';
import { conversationMessages, download, toJson, toMarkdown } from '../chat/export';
import { useI18n } from '../i18n/I18n';

/** Export the shown conversation as Markdown or JSON (issue 17). */
export function ExportButtons({ api, bot, conversation }: { api: ApiClient; bot: Bot; conversation: Conversation }) {
  const { t } = useI18n();
  const [busy, setBusy] = useState(false);
  const save = async (format: 'md' | 'json') => {
    setBusy(true);
    try {
      const messages = await conversationMessages(api, conversation);
      const name = `${(conversation.title || conversation.id).replace(/[^\p{L}\p{N}]+/gu, '-').slice(0, 60)}.${format}`;
      if (format === 'md') download(name, toMarkdown(conversation, messages, bot.name, t('you')), 'text/markdown');
      else download(name, toJson(conversation, messages), 'application/json');
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="export" role="group" aria-label={t('export')}>
      <button type="button" className="btn btn-small btn-ghost" disabled={busy} onClick={() => void save('md')}>
        {t('exportMarkdown')}
      </button>
      <button type="button" className="btn btn-small btn-ghost" disabled={busy} onClick={() => void save('json')}>
        {t('exportJson')}
      </button>
    </div>
  );
}
