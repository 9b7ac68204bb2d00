import DOMPurify from 'dompurify';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import css from 'highlight.js/lib/languages/css';
import go from 'highlight.js/lib/languages/go';
import http from 'highlight.js/lib/languages/http';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import markdown from 'highlight.js/lib/languages/markdown';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import ini from 'highlight.js/lib/languages/ini';
import { Marked, type Token, type Tokens } from 'marked';

const languages = { bash, c, cpp, css, go, http, java, javascript, json, markdown, python, rust, sql, typescript, xml, yaml, ini };
for (const [name, language] of Object.entries(languages)) hljs.registerLanguage(name, language);
hljs.registerAliases(['sh', 'shell', 'console', 'zsh'], { languageName: 'bash' });
hljs.registerAliases(['js', 'jsx', 'mjs'], { languageName: 'javascript' });
hljs.registerAliases(['ts', 'tsx'], { languageName: 'typescript' });
hljs.registerAliases(['py'], { languageName: 'python' });
hljs.registerAliases(['html', 'svg'], { languageName: 'xml' });
hljs.registerAliases(['toml'], { languageName: 'ini' });
hljs.registerAliases(['yml'], { languageName: 'yaml' });

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] ?? ch);

const md = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    code({ text, lang }: Tokens.Code) {
      const language = (lang ?? '').match(/\S*/)?.[0] ?? '';
      const known = language && hljs.getLanguage(language);
      const body = known ? hljs.highlight(text, { language, ignoreIllegals: true }).value : escapeHtml(text);
      const label = escapeHtml(language || 'text');
      return (
        `<div class="code-block"><div class="code-head"><span translate="no">${label}</span>` +
        `<button type="button" class="code-copy" data-code-copy></button></div>` +
        `<pre><code class="hljs${known ? ` language-${escapeHtml(language)}` : ''}">${body}</code></pre></div>`
      );
    },
  },
});

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A' && node.getAttribute('href')) {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

/** One markdown block to safe HTML (bot text is untrusted: the echo bot repeats the user). */
export function renderBlock(raw: string): string {
  return DOMPurify.sanitize(md.parse(raw, { async: false }));
}

/**
 * Incremental block splitter for a growing text.
 *
 * Why: re-parsing a 20,000-token reply every frame is quadratic. Blocks before
 * the last one are final once the lexer has seen a later block start (text is
 * only ever appended), so only the text from the last block on is lexed again.
 */
export class BlockSplitter {
  private frozen: string[] = [];
  private frozenLength = 0;
  private source = '';

  split(text: string): { frozen: readonly string[]; tail: string } {
    if (!text.startsWith(this.source.slice(0, this.frozenLength))) {
      this.frozen = [];
      this.frozenLength = 0;
    }
    this.source = text;
    const tail = text.slice(this.frozenLength);
    const tokens: Token[] = md.lexer(tail);
    let last = tokens.length - 1;
    while (last > 0 && tokens[last]?.type === 'space') last -= 1;
    if (last > 0) {
      const added: string[] = [];
      for (let i = 0; i < last; i++) {
        const raw = tokens[i]!.raw;
        this.frozenLength += raw.length;
        if (tokens[i]!.type !== 'space' && raw.trim()) added.push(raw);
      }
      if (added.length) this.frozen = [...this.frozen, ...added];
    }
    return { frozen: this.frozen, tail: text.slice(this.frozenLength) };
  }
}
