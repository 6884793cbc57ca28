// A search hit's snippet, ready to show: the store marks each match with two control characters
// (not `**`, which Markdown uses itself); the Markdown punctuation around the words is dropped so
// a table row or bold text reads as words.

const MATCH_START = '\u0002';
const MATCH_END = '\u0003';

export interface SnippetPart {
  text: string;
  match: boolean;
}

function plainWords(markdown: string): string {
  return markdown
    .replace(/\|?\s*:?-{3,}:?\s*(?=\||$)/g, ' ') // table rules
    .replace(/[|`]+/g, ' ')
    .replace(/(\*\*|__|~~)/g, '')
    .replace(/(^|\s)#{1,6}\s/g, '$1')
    .replace(/\s+/g, ' ');
}

export function snippetParts(snippet: string): SnippetPart[] {
  const parts: SnippetPart[] = [];
  for (const [i, piece] of snippet.split(new RegExp(`[${MATCH_START}${MATCH_END}]`)).entries()) {
    const text = plainWords(piece);
    if (text) parts.push({ text, match: i % 2 === 1 });
  }
  if (parts.length) {
    parts[0].text = parts[0].text.trimStart();
    parts[parts.length - 1].text = parts[parts.length - 1].text.trimEnd();
  }
  return parts;
}
