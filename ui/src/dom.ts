// A small element builder: the UI is plain TypeScript, no framework.

type Attrs = Record<string, string | number | boolean | undefined | ((e: Event) => void)>;
type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(key.replace(/^on/, '').toLowerCase(), value as EventListener);
    else if (key === 'class') el.className = String(value);
    else if (key in el && key !== 'list' && typeof value !== 'string') (el as unknown as Record<string, unknown>)[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/**
 * Replaces `li`'s content with a text field holding `value`. Enter or leaving the field saves
 * (when the text changed and is not blank), Escape cancels; either ends the edit once (Enter
 * and the blur that follows do not save twice), then `after` redraws.
 */
export function editInPlace(li: HTMLElement, value: string, label: string, save: (text: string) => Promise<void>, after: () => Promise<void>, select = false): void {
  const input = h('input', { type: 'text', value, class: 'rename', 'aria-label': label });
  let settled = false;
  const done = async (keep: boolean) => {
    if (settled) return;
    settled = true;
    if (keep && input.value.trim() && input.value !== value) await save(input.value);
    await after();
  };
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') void done(true);
    if (e.key === 'Escape') void done(false);
  });
  input.addEventListener('blur', () => void done(true), { once: true });
  li.replaceChildren(input);
  input.focus();
  if (select) input.select();
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function formatTime(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

const ICONS: Record<string, string> = {
  attach: 'M16.5 6.5l-7.8 7.8a2 2 0 0 0 2.8 2.8l7.8-7.8a4 4 0 0 0-5.7-5.7l-7.8 7.8a6 6 0 0 0 8.5 8.5l6.4-6.4',
  edit: 'M4 20h4L19 9l-4-4L4 16v4zM14 6l4 4',
  trash: 'M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13',
  folder: 'M3 6h6l2 2h10v11H3z',
};

/** A small line icon (inline SVG: the fonts here have no emoji). */
export function icon(name: keyof typeof ICONS | string): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '16');
  svg.setAttribute('height', '16');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon-svg');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', ICONS[name] ?? '');
  svg.append(path);
  return svg;
}
