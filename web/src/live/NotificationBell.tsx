import { useCallback, useEffect, useRef, useState } from 'react';
import { useI18n } from '../i18n/I18n';
import { BellIcon } from '../components/icons';
import { useHubStream } from './useHubStream';

interface Note {
  id: string;
  title: string;
  body: string;
  kind: string;
  ts: number;
}

const KEEP = 50;

/** A bell with the unread count; public notifications plus the user's private topic. */
export function NotificationBell({ userId }: { userId: string | null }) {
  const { t, lang } = useI18n();
  const [notes, setNotes] = useState<Note[]>([]);
  const [unread, setUnread] = useState(0);
  const [open, setOpen] = useState(false);
  const panel = useRef<HTMLDivElement>(null);
  const topics = userId ? ['notifications', `users/${userId}/notifications`] : ['notifications'];

  useHubStream<Note>(topics, (note) => {
    if (typeof note.id !== 'string' || typeof note.title !== 'string') return;
    setNotes((list) => (list.some((n) => n.id === note.id) ? list : [note, ...list].slice(0, KEEP)));
    setUnread((n) => n + 1);
  });

  const toggle = useCallback(() => {
    setOpen((o) => !o);
    setUnread(0);
  }, []);

  useEffect(() => {
    if (!open) return;
    const onDown = (e: MouseEvent) => {
      if (!panel.current?.parentElement?.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && setOpen(false);
    document.addEventListener('mousedown', onDown);
    window.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('mousedown', onDown);
      window.removeEventListener('keydown', onKey);
    };
  }, [open]);

  const label = unread ? `${t('notifications')}: ${t('unread', { n: unread })}` : t('notifications');
  return (
    <div className="bell">
      <button type="button" className="icon-btn" onClick={toggle} aria-label={label} title={label} aria-expanded={open} aria-haspopup="true">
        <BellIcon />
        {unread > 0 && (
          <span className="bell-count" data-testid="unread">
            {unread > 99 ? '99+' : unread}
          </span>
        )}
      </button>
      {open && (
        <div className="bell-panel card" ref={panel} role="dialog" aria-label={t('notifications')}>
          <div className="bell-head">{t('notifications')}</div>
          {notes.length === 0 ? (
            <p className="side-empty">{t('noNotifications')}</p>
          ) : (
            <ul>
              {notes.map((n) => (
                <li key={n.id} className={`note ${n.kind}`}>
                  <span className="note-dot" aria-hidden="true" />
                  <div translate="no">
                    <div className="note-title">{n.title}</div>
                    <div className="note-body">{n.body}</div>
                    <div className="note-time">{new Date(n.ts).toLocaleTimeString(lang === 'ko' ? 'ko-KR' : 'en-US')}</div>
                  </div>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}
