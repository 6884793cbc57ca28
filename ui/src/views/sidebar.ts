// The sidebar: new chat, search, the conversations (rename, delete), and the other views.

import { api, errorText, type ConversationSummary, type Project, type SearchHit } from '../api';
import { clear, editInPlace, h, icon } from '../dom';
import { snippetParts } from '../snippet';

export interface SidebarHandlers {
  newChat(): void;
  open(id: string): void;
  deleted(id: string): void;
  show(view: 'chat' | 'agent' | 'images' | 'projects' | 'memory' | 'network' | 'settings'): void;
  error(message: string): void;
}

export class Sidebar {
  readonly el: HTMLElement;
  readonly search: HTMLInputElement;
  private readonly list: HTMLElement;
  private current: string | null = null;
  private searchTimer: number | undefined;
  private projects: Project[] = [];

  constructor(private readonly on: SidebarHandlers) {
    this.search = h('input', { type: 'search', class: 'search', placeholder: 'Search (Ctrl+K)', 'aria-label': 'Search history', oninput: () => this.searchSoon() });
    this.list = h('ul', { class: 'conversations', 'aria-label': 'Conversations' });
    this.el = h('nav', { class: 'sidebar', 'aria-label': 'Conversations and views' },
      h('div', { class: 'brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '◈'), 'Sotto'),
      h('button', { type: 'button', class: 'new-chat primary', 'aria-label': 'New chat (Ctrl+N)', onclick: () => on.newChat() }, '+ New chat'),
      this.search,
      this.list,
      h('div', { class: 'nav-views' },
        h('button', { type: 'button', class: 'nav-button', 'data-view': 'chat', onclick: () => on.show('chat') }, 'Chat'),
        h('button', { type: 'button', class: 'nav-button', 'data-view': 'agent', onclick: () => on.show('agent') }, 'Local agent'),
        h('button', { type: 'button', class: 'nav-button', 'data-view': 'images', 'aria-label': 'Image Studio (Ctrl+I)', onclick: () => on.show('images') }, 'Image Studio'),
        h('button', { type: 'button', class: 'nav-button', 'data-view': 'projects', 'aria-label': 'Projects (Ctrl+P)', onclick: () => on.show('projects') }, 'Projects'),
        h('button', { type: 'button', class: 'nav-button', 'data-view': 'memory', onclick: () => on.show('memory') }, 'Memory'),
        h('button', { type: 'button', class: 'nav-button', 'data-view': 'network', onclick: () => on.show('network') }, 'Network activity'),
        h('button', { type: 'button', class: 'nav-button', 'data-view': 'settings', 'aria-label': 'Settings (Ctrl+,)', onclick: () => on.show('settings') }, 'Settings')),
    );
  }

  markView(view: string): void {
    for (const b of this.el.querySelectorAll<HTMLElement>('.nav-button')) {
      b.setAttribute('aria-current', b.dataset.view === view ? 'page' : 'false');
    }
  }

  select(id: string | null): void {
    this.current = id;
    for (const li of this.list.querySelectorAll<HTMLElement>('li[data-id]')) {
      li.classList.toggle('current', li.dataset.id === id);
    }
  }

  async refresh(): Promise<void> {
    if (this.search.value.trim()) return this.runSearch();
    try {
      const conversations = await api.listConversations();
      this.projects = await api.listProjects().catch(() => []);
      this.showConversations(conversations);
    } catch (e) {
      this.showMessage(errorText(e));
    }
  }

  private showMessage(text: string): void {
    clear(this.list);
    this.list.append(h('li', { class: 'empty' }, text));
  }

  private showConversations(items: ConversationSummary[]): void {
    clear(this.list);
    if (items.length === 0) return this.showMessage('No conversations yet.');
    for (const c of items) this.list.append(this.item(c));
    this.select(this.current);
  }

  private item(c: ConversationSummary): HTMLElement {
    const title = h('button', { type: 'button', class: 'conversation-title', title: c.title, onclick: () => this.on.open(c.id) }, c.title || 'Untitled');
    const rename = h('button', { type: 'button', class: 'icon', 'aria-label': `Rename “${c.title}”`, title: 'Rename', onclick: () => this.rename(li, c) }, icon('edit'));
    const remove = h('button', { type: 'button', class: 'icon', 'aria-label': `Delete “${c.title}”`, title: 'Delete', onclick: () => this.remove(c) }, icon('trash'));
    const move = h('button', { type: 'button', class: 'icon move', 'aria-label': `Move “${c.title}” to a project`, title: 'Move to a project', onclick: () => this.move(li, c) }, icon('folder'));
    const project = this.projects.find((p) => p.id === c.project_id);
    if (project) title.append(h('span', { class: 'project-tag' }, project.name));
    const li = h('li', { 'data-id': c.id }, title, h('span', { class: 'row-actions' }, move, rename, remove));
    return li;
  }

  /** Into a project, or out of any: a list of the projects and a Move button in place of the row
   * (choosing in the list moves nothing by itself; Escape cancels). */
  private move(li: HTMLElement, c: ConversationSummary): void {
    const select = h('select', { class: 'move-to', 'aria-label': `Project for “${c.title}”` },
      h('option', { value: '' }, 'No project'),
      ...this.projects.map((p) => h('option', { value: p.name }, p.name)));
    const current = this.projects.find((p) => p.id === c.project_id);
    select.value = current?.name ?? '';
    let settled = false;
    const done = async (save: boolean) => {
      if (settled) return;
      settled = true;
      if (save && select.value !== (current?.name ?? '')) {
        try {
          await api.moveConversation(c.id, select.value || null);
          if (this.current === c.id) this.on.open(c.id);
        } catch (e) {
          this.on.error(errorText(e));
        }
      }
      await this.refresh();
    };
    const confirm = h('button', { type: 'button', class: 'move-confirm primary', onclick: () => void done(true) }, 'Move');
    const cancel = h('button', { type: 'button', class: 'link', onclick: () => void done(false) }, 'Cancel');
    select.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') void done(true);
      if (e.key === 'Escape') void done(false);
    });
    li.replaceChildren(h('div', { class: 'move-row' }, select, h('div', { class: 'row' }, confirm, cancel)));
    select.focus();
  }

  private rename(li: HTMLElement, c: ConversationSummary): void {
    editInPlace(li, c.title, 'New name', async (text) => {
      try {
        await api.renameConversation(c.id, text);
      } catch (e) {
        this.on.error(errorText(e));
      }
    }, () => this.refresh(), true);
  }

  private async remove(c: ConversationSummary): Promise<void> {
    if (!window.confirm(`Delete “${c.title}”? It is erased from this computer and cannot be brought back.`)) return;
    try {
      await api.deleteConversation(c.id);
      this.on.deleted(c.id);
    } catch (e) {
      this.on.error(errorText(e));
    }
    await this.refresh();
  }

  private searchSoon(): void {
    window.clearTimeout(this.searchTimer);
    this.searchTimer = window.setTimeout(() => void this.refresh(), 150);
  }

  private async runSearch(): Promise<void> {
    try {
      this.showHits(await api.searchHistory(this.search.value));
    } catch (e) {
      this.showMessage(errorText(e));
    }
  }

  private showHits(hits: SearchHit[]): void {
    clear(this.list);
    if (hits.length === 0) return this.showMessage('Nothing found.');
    for (const hit of hits) {
      const snippet = h('span', { class: 'snippet' });
      for (const part of snippetParts(hit.snippet)) snippet.append(part.match ? h('mark', {}, part.text) : part.text);
      this.list.append(h('li', { class: 'hit', 'data-id': hit.conversation_id },
        h('button', { type: 'button', class: 'conversation-title', onclick: () => this.on.open(hit.conversation_id) },
          h('strong', {}, hit.conversation_title), snippet)));
    }
  }
}
