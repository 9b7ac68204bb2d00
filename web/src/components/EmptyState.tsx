import type { Bot } from '../api/types';
import { useI18n } from '../i18n/I18n';

const SUGGESTIONS: Record<string, { en: string[]; ko: string[] }> = {
  echo: {
    en: ['Hello, Rill!', '/lorem 200', 'Stream **markdown** with `code`'],
    ko: ['안녕하세요, Rill!', '/lorem 200', '**마크다운**과 `코드`도 스트리밍돼요'],
  },
  guide: {
    en: ['What is Server-Sent Events?', 'How does resuming a reply work?', 'SSE vs WebSocket?'],
    ko: ['SSE가 뭔가요?', '답변 이어받기는 어떻게 동작하나요?', 'SSE와 WebSocket의 차이는?'],
  },
};

export function EmptyState({ bot, onSuggestion }: { bot: Bot; onSuggestion: (text: string) => void }) {
  const { t, lang } = useI18n();
  const suggestions = (SUGGESTIONS[bot.provider] ?? SUGGESTIONS[bot.id])?.[lang] ?? [];
  return (
    <div className="empty">
      <div className="empty-logo" aria-hidden="true">
        {bot.name.slice(0, 1).toUpperCase()}
      </div>
      <h2>{t('emptyTitle', { bot: bot.name })}</h2>
      {bot.description ? <p translate="no">{bot.description}</p> : <p>{t('emptyHint')}</p>}
      {suggestions.length > 0 && (
        <div className="suggestions" aria-label={t('suggestions')}>
          {suggestions.map((s) => (
            <button key={s} type="button" className="chip" translate="no" onClick={() => onSuggestion(s)}>
              {s}
            </button>
          ))}
        </div>
      )}
    </div>
  );
}
