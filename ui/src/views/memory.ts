// Memory: every fact the user chose to keep, in one place — add, edit, delete — and the switch
// that keeps them all out of requests. Facts stay encrypted on this computer; the relevant few
// go, sealed, with a message, and the reply shows which.

import { api, errorText, type Memory } from '../api';
import { clear, editInPlace, formatTime, h, icon } from '../dom';

export class MemoryView {
  readonly el: HTMLElement;
  private readonly list: HTMLElement;
  private readonly toggle: HTMLInputElement;
  private readonly input: HTMLInputElement;

  constructor(private readonly host: { error(message: string): void }) {
    this.list = h('ul', { class: 'memory-list', 'aria-label': 'Kept memories' });
    this.toggle = h('input', { type: 'checkbox', class: 'memory-toggle', 'aria-label': 'Send relevant memories with messages', onchange: () => void this.setEnabled(this.toggle.checked) });
    this.input = h('input', { type: 'text', class: 'memory-input', placeholder: 'A fact to keep, e.g. “I am vegetarian”', 'aria-label': 'New memory' });
    this.input.addEventListener('keydown', (e) => e.key === 'Enter' && void this.add());
    this.el = h('section', { class: 'view memory-view hidden', 'aria-label': 'Memory' },
      h('header', { class: 'view-header' }, h('h1', {}, 'Memory')),
      h('div', { class: 'memory-body' },
        h('p', { class: 'muted' }, 'Facts you chose to keep, encrypted on this computer. For each message, the few most relevant go with it, sealed to the enclave, and the reply says which. Never in ephemeral chats, never to OpenGradient, and not in a project that turns memory off.'),
        h('label', { class: 'check' }, this.toggle, 'Send relevant memories with messages'),
        h('div', { class: 'row' }, this.input, h('button', { type: 'button', class: 'primary add-memory', onclick: () => void this.add() }, 'Keep')),
        this.list));
  }

  async load(): Promise<void> {
    try {
      const { enabled, memories } = await api.listMemories();
      this.toggle.checked = enabled;
      this.render(memories);
    } catch (e) {
      clear(this.list);
      this.list.append(h('li', { class: 'refusal' }, errorText(e)));
    }
  }

  private render(memories: Memory[]): void {
    clear(this.list);
    if (!memories.length) this.list.append(h('li', { class: 'muted empty' }, 'No memories yet. Add one above, or keep one a reply proposes.'));
    for (const m of memories) this.list.append(this.item(m));
  }

  private item(m: Memory): HTMLElement {
    const li: HTMLElement = h('li', { 'data-id': m.id },
      h('span', { class: 'memory-text' }, m.text),
      h('span', { class: 'muted' }, formatTime(m.created_ms)),
      h('span', { class: 'row-actions' },
        h('button', { type: 'button', class: 'icon', 'aria-label': `Edit “${m.text}”`, title: 'Edit', onclick: () => this.edit(li, m) }, icon('edit')),
        h('button', { type: 'button', class: 'icon', 'aria-label': `Delete “${m.text}”`, title: 'Delete', onclick: () => void this.remove(m) }, icon('trash'))));
    return li;
  }

  private edit(li: HTMLElement, m: Memory): void {
    editInPlace(li, m.text, 'The fact', async (text) => {
      try {
        await api.editMemory(m.id, text);
      } catch (e) {
        this.host.error(errorText(e));
      }
    }, () => this.load());
  }

  private async add(): Promise<void> {
    if (!this.input.value.trim()) return;
    try {
      await api.addMemory(this.input.value);
      this.input.value = '';
      await this.load();
    } catch (e) {
      this.host.error(errorText(e));
    }
  }

  private async remove(m: Memory): Promise<void> {
    if (!window.confirm(`Delete “${m.text}”? It is erased from this computer. Replies that already carried it keep it in their receipts.`)) return;
    try {
      await api.deleteMemory(m.id);
      await this.load();
    } catch (e) {
      this.host.error(errorText(e));
    }
  }

  private async setEnabled(on: boolean): Promise<void> {
    try {
      await api.setMemoryEnabled(on);
    } catch (e) {
      this.host.error(errorText(e));
      await this.load();
    }
  }
}
