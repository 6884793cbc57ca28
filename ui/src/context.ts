// What besides the prompt goes with a message and comes back with a reply: the sources of a web
// search (covered by the receipt), the memories a reply proposes to keep, and the one-line
// account of the memories and project parts that were sent.

import type { Citation, Memory } from './api';
import { h } from './dom';

const PROPOSAL = /^\s*\[\s*remember\s*:\s*(.*?)\s*\]\s*$/i;

/** The facts a reply proposes (its `[remember: …]` lines). */
export function proposals(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const fact = PROPOSAL.exec(line)?.[1];
    if (fact && !out.includes(fact)) out.push(fact);
  }
  return out;
}

/** A reply as it is shown: without its proposal lines (they become questions below it). */
export function withoutProposals(text: string): string {
  return text.split('\n').filter((l) => !PROPOSAL.test(l)).join('\n').trimEnd();
}

function hostOf(url: string): string {
  try {
    return new URL(url).host || url;
  } catch {
    return url;
  }
}

/** The sources under a reply. Links are shown, never followed (the app offers to copy them). */
export function sourcesList(citations: Citation[] | undefined, unsigned = 0): HTMLElement | null {
  if (citations === undefined && unsigned === 0) return null;
  if (citations !== undefined && citations.length === 0 && unsigned === 0) {
    return h('section', { class: 'sources', 'aria-label': 'Sources' }, h('p', { class: 'muted' }, 'The enclave searched the web and found nothing usable.'));
  }
  citations = citations ?? [];
  const items = citations.map((c) =>
    h('li', { class: 'source', 'data-index': c.index },
      h('span', { class: 'source-index' }, `[${c.index}]`),
      h('div', { class: 'source-body' },
        h('a', { href: c.url, class: 'source-title', title: c.url }, c.title || hostOf(c.url)),
        h('span', { class: 'source-host muted' }, hostOf(c.url)),
        c.quote ? h('blockquote', { class: 'source-quote' }, c.quote) : null)));
  return h('section', { class: 'sources', 'aria-label': 'Sources' },
    h('h3', { class: 'sources-head' }, citations.length ? 'Sources · covered by the receipt' : 'Sources'),
    citations.length ? h('ol', {}, ...items) : null,
    unsigned > 0 ? h('p', { class: 'muted' }, `OpenGradient named ${unsigned} source${unsigned === 1 ? '' : 's'} outside its signature; Sotto does not show them.`) : null);
}

/** One line: which memories and what of a project went with the message. */
export function contextNote(memories: Memory[] | undefined, project: string | null | undefined, webSearch: boolean | undefined): HTMLElement | null {
  const parts: string[] = [];
  if (memories && memories.length) parts.push(`${memories.length} memor${memories.length === 1 ? 'y' : 'ies'}: ${memories.map((m) => `“${m.text.slice(0, 60)}”`).join(', ')}`);
  if (project) parts.push(project);
  if (webSearch) parts.push('a web search by the enclave');
  if (!parts.length) return null;
  return h('p', { class: 'context-note muted' }, `Sent with this message, sealed: ${parts.join(' · ')}`);
}
