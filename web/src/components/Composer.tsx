import { useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import type { Limits } from '../api/types';
import { useI18n } from '../i18n/I18n';
import { SendIcon, StopIcon } from './icons';

interface Props {
  botName: string;
  streaming: boolean;
  stopping: boolean;
  disabled: boolean;
  /** The server's limits; the composer says them before sending. */
  limits: Limits;
  onSend: (text: string) => boolean;
  onStop: () => void;
}

/** Room the rest of the request body takes (ids, language, JSON punctuation). */
const ENVELOPE_BYTES = 512;
const encoder = new TextEncoder();

/** The message's size as the server counts it: UTF-8 bytes of its JSON string. */
function messageBytes(text: string): number {
  return encoder.encode(JSON.stringify(text)).length;
}

const kb = (bytes: number) => (bytes / 1024).toFixed(1);

export function Composer({ botName, streaming, stopping, disabled, limits, onSend, onStop }: Props) {
  const { t } = useI18n();
  const [text, setText] = useState('');
  const limit = limits.maxBodyBytes - ENVELOPE_BYTES;
  // Why only near the limit: encoding a short message on every keystroke is wasted work.
  const bytes = text.length * 6 + 2 < limit * 0.8 && text.length < limits.maxMessageChars * 0.8 ? 0 : messageBytes(text);
  const tooLong = bytes > limit || text.length > limits.maxMessageChars;
  const area = useRef<HTMLTextAreaElement>(null);

  useLayoutEffect(() => {
    const el = area.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 220)}px`;
  }, [text]);

  useLayoutEffect(() => {
    area.current?.focus({ preventScroll: true });
  }, []);

  const submit = () => {
    if (streaming || disabled || tooLong || !text.trim()) return;
    if (onSend(text)) setText('');
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    // Why isComposing/229: Enter also confirms a Korean IME syllable; that Enter must not send.
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      submit();
    }
  };

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    submit();
  };

  return (
    <form className="composer" onSubmit={onSubmit}>
      <div className="composer-box">
        <textarea
          ref={area}
          value={text}
          rows={1}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={onKeyDown}
          placeholder={t('placeholder', { bot: botName })}
          aria-label={t('composerLabel')}
          aria-invalid={tooLong || undefined}
          aria-describedby={bytes ? 'composer-size' : undefined}
          disabled={disabled}
          enterKeyHint="send"
        />
        {streaming ? (
          <button type="button" className="send-btn stop" onClick={onStop} disabled={stopping} aria-label={t('stop')} title={t('stopHint')}>
            <StopIcon width={18} height={18} />
          </button>
        ) : (
          <button type="submit" className="send-btn" disabled={disabled || tooLong || !text.trim()} aria-label={t('send')} title={t('send')}>
            <SendIcon width={18} height={18} />
          </button>
        )}
      </div>
      {bytes > 0 ? (
        <div id="composer-size" className={`composer-hint${tooLong ? ' is-error' : ''}`} role={tooLong ? 'alert' : undefined}>
          {text.length > limits.maxMessageChars
            ? t('tooManyChars', { n: text.length.toLocaleString(), max: limits.maxMessageChars.toLocaleString() })
            : tooLong
              ? t('tooLong', { size: kb(bytes), max: kb(limit) })
              : t('sizeNear', { size: kb(bytes), max: kb(limit) })}
        </div>
      ) : (
        <div className="composer-hint">{t('composerHint')}</div>
      )}
    </form>
  );
}
