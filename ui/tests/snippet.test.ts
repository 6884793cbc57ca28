import { describe, expect, it } from 'vitest';
import { snippetParts } from '../src/snippet';

const S = '\u0002';
const E = '\u0003';

describe('search snippets', () => {
  it('marks exactly the matched words, even inside Markdown bold', () => {
    const parts = snippetParts(`Here is **${S}wombat${E}** and **more**`);
    expect(parts).toEqual([
      { text: 'Here is ', match: false },
      { text: 'wombat', match: true },
      { text: ' and more', match: false },
    ]);
  });

  it('reads a table row and code as words', () => {
    const parts = snippetParts(`| region | units |\n| --- | ---: |\n| ${S}north${E} | 12 | \`x\``);
    const text = parts.map((p) => p.text).join('');
    expect(text).toBe('region units north 12 x');
    expect(parts.filter((p) => p.match).map((p) => p.text)).toEqual(['north']);
  });

  it('keeps ordinary punctuation and asterisks that are not emphasis', () => {
    expect(snippetParts(`2 * 3 = 6, ${S}fine${E}.`).map((p) => p.text).join('')).toBe('2 * 3 = 6, fine.');
  });
});
