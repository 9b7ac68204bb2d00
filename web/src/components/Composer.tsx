import { useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { useI18n } from '../i18n/I18n';
import { SendIcon, StopIcon } from './icons';

interface Props {
  botName: string;
  streaming: boolean;
  stopping: boolean;
  disabled: boolean;
  onSend: (text: string) => boolean;
  onStop: () => void;
}

export function Composer({ botName, streaming, stopping, disabled, onSend, onStop }: Props) {
  const { t } = useI18n();
  const [text, setText] = useState('');
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
    if (streaming || disabled || !text.trim()) return;
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
          disabled={disabled}
          enterKeyHint="send"
        />
        {streaming ? (
          <button type="button" className="send-btn stop" onClick={onStop} disabled={stopping} aria-label={t('stop')} title={t('stopHint')}>
            <StopIcon width={18} height={18} />
          </button>
        ) : (
          <button type="submit" className="send-btn" disabled={disabled || !text.trim()} aria-label={t('send')} title={t('send')}>
            <SendIcon width={18} height={18} />
          </button>
        )}
      </div>
      <div className="composer-hint">{t('composerHint')}</div>
    </form>
  );
}
