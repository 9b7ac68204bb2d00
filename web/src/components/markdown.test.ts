import { describe, expect, it } from 'vitest';
import { BlockSplitter, renderBlock } from './markdown';

const REPLY = `# Title

Some **bold** text and \`code\`.

- one
- two

  still two

\`\`\`python
def hello():
    return "world"
\`\`\`

| a | b |
|---|---|
| 1 | 2 |

Last paragraph.`;

describe('BlockSplitter', () => {
  it('splits a text growing one character at a time into the same blocks as the whole text', () => {
    const whole = new BlockSplitter().split(REPLY);
    const splitter = new BlockSplitter();
    let result = splitter.split('');
    for (let i = 1; i <= REPLY.length; i++) result = splitter.split(REPLY.slice(0, i));
    expect(result.frozen.length).toBeGreaterThan(4);
    expect(result.frozen.map(renderBlock).join('') + renderBlock(result.tail)).toBe(whole.frozen.map(renderBlock).join('') + renderBlock(whole.tail));
  });

  it('keeps finished blocks as the same strings (memoizable) while text is appended', () => {
    const splitter = new BlockSplitter();
    const first = splitter.split('Para one.\n\nPara two');
    const second = splitter.split('Para one.\n\nPara two grows');
    expect(first.frozen[0]?.trim()).toBe('Para one.');
    expect(second.frozen[0]).toBe(first.frozen[0]);
    expect(second.tail).toBe('Para two grows');
  });

  it('starts over when the text is replaced', () => {
    const splitter = new BlockSplitter();
    splitter.split('A.\n\nB.\n\nC');
    expect(splitter.split('Other')).toEqual({ frozen: [], tail: 'Other' });
  });
});

describe('renderBlock', () => {
  it('highlights code and sanitizes HTML', () => {
    const html = renderBlock('```js\nconst a = 1;\n```');
    expect(html).toContain('hljs-keyword');
    expect(html).toContain('code-block');
    const unsafe = renderBlock('<img src=x onerror="alert(1)"> <script>alert(1)</script> [x](javascript:alert(1))');
    expect(unsafe).not.toContain('onerror');
    expect(unsafe).not.toContain('<script');
    expect(unsafe).not.toContain('javascript:');
  });

  it('opens links in a new tab', () => {
    expect(renderBlock('[Rill](https://example.com)')).toContain('target="_blank"');
  });
});
