import { useId, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { useI18n } from '../i18n/I18n';

interface Props {
  initial: string;
  /** False while a reply streams: the edit waits (the server would refuse it). */
  canSave: boolean;
  /** Sends the edited text; true when it was sent (the editor then closes). */
  onSave: (text: string) => boolean;
  onCancel: () => void;
}

/**
 * A user message being edited, in place of its bubble. Enter is a new line here
 * (an edit is deliberate); Ctrl/Cmd+Enter sends, Escape cancels.
 */
export function MessageEditor({ initial, canSave, onSave, onCancel }: Props) {
  const { t } = useI18n();
  const [text, setText] = useState(initial);
  const area = useRef<HTMLTextAreaElement>(null);
  const hintId = useId();

  useLayoutEffect(() => {
    const el = area.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 320)}px`;
  }, [text]);

  useLayoutEffect(() => {
    const el = area.current;
    if (!el) return;
    el.focus({ preventScroll: true });
    el.setSelectionRange(el.value.length, el.value.length);
  }, []);

  const ready = canSave && text.trim() !== '';
  const save = () => {
    if (ready) onSave(text);
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    // Why isComposing/229: the key may be confirming a Korean IME syllable.
    if (event.nativeEvent.isComposing || event.keyCode === 229) return;
    if (event.key === 'Escape') {
      event.preventDefault();
      // Why: Escape also stops a streaming reply (ChatView); here it only closes the editor.
      event.stopPropagation();
      onCancel();
    } else if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      save();
    }
  };

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    save();
  };

  return (
    <form className="msg-edit" onSubmit={onSubmit}>
      <textarea
        ref={area}
        value={text}
        rows={1}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
        aria-label={t('editField')}
        aria-describedby={hintId}
        translate="no"
      />
      <div className="msg-edit-bar">
        <span id={hintId} className="msg-edit-hint">
          {t('editHint')}
        </span>
        <button type="button" className="btn btn-ghost btn-small" onClick={onCancel}>
          {t('cancel')}
        </button>
        <button type="submit" className="btn btn-small" disabled={!ready}>
          {t('saveAndSend')}
        </button>
      </div>
    </form>
  );
}
