import { memo, useLayoutEffect, useMemo, useRef, type MouseEvent } from 'react';
import { useI18n } from '../i18n/I18n';
import { BlockSplitter, renderBlock } from './markdown';
import { copyText } from './clipboard';

const Block = memo(function Block({ raw }: { raw: string }) {
  const html = useMemo(() => renderBlock(raw), [raw]);
  return <div className="md-block" dangerouslySetInnerHTML={{ __html: html }} />;
});

function onCodeCopy(event: MouseEvent<HTMLDivElement>) {
  const button = (event.target as HTMLElement).closest<HTMLButtonElement>('[data-code-copy]');
  if (!button) return;
  const code = button.closest('.code-block')?.querySelector('code')?.textContent ?? '';
  void copyText(code).then(() => {
    button.dataset.copied = 'true';
    setTimeout(() => delete button.dataset.copied, 1500);
  });
}

/**
 * Markdown of a (possibly still growing) reply. Finished blocks are parsed once
 * and memoized; only the last block is parsed again when text is appended.
 */
export const Markdown = memo(function Markdown({ text, streaming }: { text: string; streaming: boolean }) {
  const splitter = useRef<BlockSplitter | null>(null);
  splitter.current ??= new BlockSplitter();
  const { frozen, tail } = splitter.current.split(text);
  const { t } = useI18n();
  const root = useRef<HTMLDivElement>(null);
  const label = t('copyCode');
  // Why here: block HTML is rendered once and memoized, without the UI language;
  // the copy buttons get their accessible name in that language after each render.
  useLayoutEffect(() => {
    for (const button of root.current?.querySelectorAll('[data-code-copy]') ?? []) button.setAttribute('aria-label', label);
  });
  return (
    <div ref={root} className={streaming ? 'markdown is-streaming' : 'markdown'} onClick={onCodeCopy}>
      {frozen.map((raw, i) => (
        <Block key={i} raw={raw} />
      ))}
      {tail.trim() ? <Block key="tail" raw={tail} /> : streaming ? <div className="md-block"><p /></div> : null}
    </div>
  );
});
