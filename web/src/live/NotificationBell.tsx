import { useCallback, useEffect, useRef, useState } from 'react';
import { useI18n } from '../i18n/I18n';
import { BellIcon } from '../components/icons';
import { parseSync, SYNC_KINDS, syncTopic, type SyncEvent } from '../chat/sync';
import { HUB_TYPES, useHubStream } from './useHubStream';

export interface Note {
  id: string;
  title: string;
  body: string;
  kind: string;
  ts: number;
}

const KEEP = 50;
const SEEN_KEY = 'rill:notifications-seen';

function readSeen(): number {
  try {
    return Number(localStorage.getItem(SEEN_KEY)) || 0;
  } catch {
    return 0;
  }
}

/**
 * Adds a notification once: the public and the private copy of one notification
 * share its id (issue 17: the demo's two copies showed twice). Newest first.
 */
export function addNote(list: readonly Note[], note: Note): readonly Note[] {
  if (list.some((n) => n.id === note.id)) return list;
  return [...list, note].sort((a, b) => b.ts - a.ts).slice(0, KEEP);
}

const TYPES = [...HUB_TYPES, ...SYNC_KINDS];

/**
 * A bell with the unread count; public notifications plus the user's private topics.
 * The hub replays what it retains, so a reload keeps the recent ones; what was read
 * is remembered by time, so replayed ones are not unread again.
 *
 * It is the page's one connection to the user's private topics (browsers allow six
 * connections per server, shared by every tab): chat sync events go to `onChatEvent`,
 * which may answer a note ("reply finished" while the user is elsewhere).
 */
export function NotificationBell({ userId, onChatEvent }: { userId: string | null; onChatEvent?: (event: SyncEvent) => Note | null }) {
  const { t, lang } = useI18n();
  const [notes, setNotes] = useState<readonly Note[]>([]);
  const [seen, setSeen] = useState(readSeen);
  const [open, setOpen] = useState(false);
  const panel = useRef<HTMLDivElement>(null);
  const topics = userId ? ['notifications', `users/${userId}/notifications`, syncTopic(userId)] : ['notifications'];

  useHubStream<Note>(
    topics,
    (note, type) => {
      const event = parseSync(type, note);
      if (event) {
        const made = onChatEvent?.(event) ?? null;
        if (made) setNotes((list) => addNote(list, made));
        return;
      }
      if (typeof note.id !== 'string' || typeof note.title !== 'string' || typeof note.ts !== 'number') return;
      setNotes((list) => addNote(list, note));
    },
    { replay: true, types: TYPES },
  );
  const unread = notes.filter((n) => n.ts > seen).length;

  const markSeen = useCallback(() => {
    const now = Math.max(Date.now(), ...notes.map((n) => n.ts));
    setSeen(now);
    try {
      localStorage.setItem(SEEN_KEY, String(now));
    } catch {
      // Storage disabled: the count resets with the page.
    }
  }, [notes]);

  // What arrives while the panel is open is read as it arrives.
  useEffect(() => {
    if (open) markSeen();
  }, [open, markSeen]);

  const toggle = useCallback(() => setOpen((o) => !o), []);

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
                <li key={n.id} className={`note ${n.kind}`} data-id={n.id}>
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
