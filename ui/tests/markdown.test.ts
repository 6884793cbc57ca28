import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../src/markdown';

function dom(html: string): HTMLElement {
  const div = document.createElement('div');
  div.innerHTML = html;
  return div;
}

describe('renderMarkdown', () => {
  it('renders GFM tables with their cells', () => {
    const d = dom(renderMarkdown('| region | revenue |\n| --- | ---: |\n| north | 1,200 |\n| south | 900 |'));
    const cells = [...d.querySelectorAll('td')].map((c) => c.textContent);
    expect(d.querySelectorAll('table th')).toHaveLength(2);
    expect(cells).toEqual(['north', '1,200', 'south', '900']);
  });

  it('highlights known languages and keeps the exact code text, with a copy button', () => {
    const src = 'def total(xs):\n    return sum(xs)  # add up';
    const d = dom(renderMarkdown('```python\n' + src + '\n```'));
    const code = d.querySelector('.code-block code')!;
    expect(code.textContent).toBe(src);
    expect(code.querySelector('.hljs-keyword')?.textContent).toBe('def');
    expect(code.querySelector('.hljs-comment')?.textContent).toBe('# add up');
    expect(d.querySelector('.code-lang')?.textContent).toBe('python');
    expect(d.querySelector('button.copy-code')?.getAttribute('aria-label')).toBe('Copy python code');
  });

  it('shows an unknown language as plain escaped text', () => {
    const d = dom(renderMarkdown('```brainfudge\n<b>++</b>\n```'));
    expect(d.querySelector('code')!.textContent).toBe('<b>++</b>');
    expect(d.querySelector('code b')).toBeNull();
  });

  it('shows raw HTML from a reply as text, never as markup', () => {
    const d = dom(renderMarkdown('Hello <script>alert(1)</script> <img src=x onerror=alert(1)> <b>bold</b>'));
    expect(d.querySelector('script, img, b')).toBeNull();
    expect(d.textContent).toContain('<script>alert(1)</script>');
    expect(d.innerHTML).not.toContain('onerror="');
  });

  it('drops remote images and dangerous links, keeps inline data images', () => {
    const png = 'data:image/png;base64,iVBORw0KGgo=';
    const d = dom(renderMarkdown(`![remote](https://tracker.example/p.png) ![inline](${png}) [x](javascript:alert(1)) [ok](https://example.org)`));
    const imgs = [...d.querySelectorAll('img')];
    expect(imgs.map((i) => i.getAttribute('src'))).toEqual([png]);
    const links = [...d.querySelectorAll('a')];
    expect(links.find((a) => a.textContent === 'x')?.getAttribute('href')).toBeNull();
    const ok = links.find((a) => a.textContent === 'ok')!;
    expect(ok.getAttribute('href')).toBe('https://example.org');
    expect(ok.getAttribute('title')).toBe('https://example.org');
    expect(ok.getAttribute('target')).toBeNull();
  });

  it('renders an unfinished code fence while streaming without losing text', () => {
    const d = dom(renderMarkdown('Here:\n```js\nconst a = 1;'));
    expect(d.querySelector('code')?.textContent).toContain('const a = 1;');
  });
});
