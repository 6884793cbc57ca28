// Projects: conversations grouped with shared instructions and files. The list, a new project,
// and one project's page: rename, instructions, memory, files (read on this device in the
// sandbox), its conversations, search within it, delete.

import { api, errorText, type Project, type ProjectView, type SearchHit } from '../api';
import { base64Of, bytesOf, MAX_ATTACHMENT_BYTES } from '../attachments';
import { clear, formatBytes, formatTime, h, icon } from '../dom';
import { snippetParts } from '../snippet';

export interface ProjectsHost {
  error(message: string): void;
  notify(message: string): void;
  openConversation(id: string): void;
  newChatIn(project: string): void;
  changed(): void;
  /** Renamed (`now` its new name) or deleted (`now` null, with the conversations that went). */
  projectChanged(old: string, now: string | null, deletedConversations: string[]): void;
}

export class ProjectsView {
  readonly el: HTMLElement;
  private readonly body: HTMLElement;
  private current: string | null = null;
  /** What happened to the files last added (shown in the files section). */
  private fileNote = '';

  constructor(private readonly host: ProjectsHost) {
    this.body = h('div', { class: 'projects-body' });
    this.el = h('section', { class: 'view projects-view hidden', 'aria-label': 'Projects' },
      h('header', { class: 'view-header' }, h('h1', {}, 'Projects')), this.body);
  }

  async load(): Promise<void> {
    if (this.current) return this.openProject(this.current);
    return this.showList();
  }

  private async showList(): Promise<void> {
    this.current = null;
    let projects: Project[];
    try {
      projects = await api.listProjects();
    } catch (e) {
      clear(this.body);
      this.body.append(h('p', { class: 'refusal' }, errorText(e)));
      return;
    }
    clear(this.body);
    this.body.append(this.createForm());
    if (projects.length === 0) {
      this.body.append(h('p', { class: 'muted empty-projects' }, 'No projects yet. A project keeps instructions and files that go with every message in its conversations — only the parts relevant to each message, and you see which.'));
      return;
    }
    const list = h('ul', { class: 'project-list', 'aria-label': 'Projects' });
    for (const p of projects) {
      list.append(h('li', { class: 'project-card', 'data-name': p.name },
        h('button', { type: 'button', class: 'project-open', onclick: () => void this.openProject(p.name) },
          h('strong', {}, p.name),
          h('span', { class: 'muted' }, `${p.conversations} conversation${p.conversations === 1 ? '' : 's'} · ${p.files.length} file${p.files.length === 1 ? '' : 's'}${p.memory ? '' : ' · memory off'}`),
          p.instructions ? h('span', { class: 'project-instructions-preview' }, p.instructions.slice(0, 140)) : null)));
    }
    this.body.append(list);
  }

  private createForm(): HTMLElement {
    const name = h('input', { type: 'text', class: 'project-name-input', placeholder: 'Project name', 'aria-label': 'New project name' });
    const instructions = h('textarea', { class: 'project-instructions-input', rows: 3, placeholder: 'Instructions for every conversation in it (optional)', 'aria-label': 'Instructions' });
    const memory = h('input', { type: 'checkbox', checked: true, 'aria-label': 'Send relevant memories in this project' });
    const create = async () => {
      try {
        await api.createProject(name.value, instructions.value, memory.checked);
        const created = name.value.trim();
        this.host.changed();
        await this.openProject(created);
      } catch (e) {
        this.host.error(errorText(e));
      }
    };
    return h('form', { class: 'project-create', 'aria-label': 'New project', onsubmit: (e: Event) => { e.preventDefault(); void create(); } },
      h('h2', {}, 'New project'), name, instructions,
      h('label', { class: 'check' }, memory, 'Send relevant memories with its messages'),
      h('button', { type: 'submit', class: 'primary create-project' }, 'Create project'));
  }

  async openProject(name: string): Promise<void> {
    let p: ProjectView;
    try {
      p = await api.openProject(name);
    } catch (e) {
      this.host.error(errorText(e));
      return this.showList();
    }
    if (this.current !== p.name) this.fileNote = '';
    this.current = p.name;
    clear(this.body);
    const title = h('input', { type: 'text', class: 'project-title-input', value: p.name, 'aria-label': 'Project name' });
    const instructions = h('textarea', { class: 'project-instructions', rows: 5, 'aria-label': 'Instructions', placeholder: 'Instructions for every conversation in this project' });
    instructions.value = p.instructions;
    const memory = h('input', { type: 'checkbox', checked: p.memory, 'aria-label': 'Send relevant memories in this project' });
    const save = h('button', { type: 'button', class: 'primary save-project', onclick: () => void this.save(p, title.value, instructions.value, memory.checked) }, 'Save');
    const fileInput = h('input', { type: 'file', multiple: true, class: 'hidden', 'aria-hidden': 'true', tabindex: '-1' });
    fileInput.addEventListener('change', () => void this.addFiles(p.name, fileInput.files));
    const files = h('ul', { class: 'project-files', 'aria-label': 'Files' },
      ...p.files.map((f) => h('li', { 'data-file': f.name },
        h('span', {}, f.name), h('span', { class: 'muted' }, `${f.kind} · ${f.chars.toLocaleString()} characters`),
        h('button', { type: 'button', class: 'icon', 'aria-label': `Remove ${f.name}`, title: 'Remove', onclick: () => void this.removeFile(p.name, f.uid, f.name) }, icon('trash')))));
    if (!p.files.length) files.append(h('li', { class: 'muted' }, 'No files. Their relevant parts go with each message; the rest stays here.'));
    const conversations = h('ul', { class: 'project-conversations', 'aria-label': 'Conversations in this project' },
      ...p.conversation_list.map((c) => h('li', {},
        h('button', { type: 'button', class: 'link', onclick: () => this.host.openConversation(c.id) }, c.title || 'Untitled'),
        h('span', { class: 'muted' }, formatTime(c.updated_ms)))));
    if (!p.conversation_list.length) conversations.append(h('li', { class: 'muted' }, 'No conversations yet.'));
    const search = h('input', { type: 'search', class: 'project-search', placeholder: `Search in ${p.name}`, 'aria-label': `Search in project ${p.name}` });
    const hits = h('ul', { class: 'project-hits', 'aria-label': 'Search results' });
    search.addEventListener('keydown', (e) => e.key === 'Enter' && void this.search(p.name, search.value, hits));
    this.body.append(
      h('div', { class: 'project-top' },
        h('button', { type: 'button', class: 'link', onclick: () => void this.showList() }, '← All projects'),
        h('button', { type: 'button', class: 'primary new-chat-in-project', onclick: () => this.host.newChatIn(p.name) }, `+ New chat in ${p.name}`)),
      h('section', { class: 'project-settings', 'aria-label': 'Project settings' },
        h('label', { class: 'field' }, 'Name', title),
        h('label', { class: 'field' }, 'Instructions — sent, sealed, with every message in this project', instructions),
        h('label', { class: 'check' }, memory, 'Send relevant memories with its messages'),
        h('div', { class: 'row' }, save,
          h('button', { type: 'button', class: 'danger delete-project', onclick: () => void this.remove(p) }, 'Delete project'))),
      h('section', { class: 'project-section' }, h('h2', {}, 'Files'),
        h('p', { class: 'muted' }, 'Read on this computer in the sandbox; the project keeps their text, encrypted. Only the parts relevant to a message go with it, and the receipt panel shows which.'),
        files, h('p', { class: 'project-file-status muted', role: 'status' }, this.fileNote),
        h('button', { type: 'button', class: 'add-project-file', onclick: () => fileInput.click() }, 'Add files…'), fileInput),
      h('section', { class: 'project-section' }, h('h2', {}, 'Conversations'), search, hits, conversations));
  }

  private async save(p: ProjectView, name: string, instructions: string, memory: boolean): Promise<void> {
    try {
      const renamed = name.trim() !== p.name;
      await api.updateProject(p.name, { newName: renamed ? name : undefined, instructions, memory });
      this.host.notify('Project saved.');
      if (renamed) this.host.projectChanged(p.name, name.trim(), []);
      this.host.changed();
      await this.openProject(name.trim() || p.name);
    } catch (e) {
      this.host.error(errorText(e));
    }
  }

  private async remove(shown: ProjectView): Promise<void> {
    let p: ProjectView;
    try {
      // Counted now, not when the page was drawn: a conversation may have been moved in since.
      p = await api.openProject(shown.name);
    } catch (e) {
      this.host.error(errorText(e));
      return;
    }
    if (!window.confirm(`Delete the project “${p.name}” with its ${p.files.length} file(s) and ${p.conversation_list.length} conversation(s)? They are erased from this computer and cannot be brought back.`)) return;
    try {
      const gone = await api.deleteProject(p.name);
      this.host.projectChanged(p.name, null, gone);
      this.host.changed();
      await this.showList();
    } catch (e) {
      this.host.error(errorText(e));
    }
  }

  private async addFiles(project: string, list: FileList | null): Promise<void> {
    const status = this.body.querySelector('.project-file-status');
    const notes: string[] = [];
    for (const f of Array.from(list ?? [])) {
      if (f.size > MAX_ATTACHMENT_BYTES) {
        notes.push(`${f.name} was not added: it is larger than ${formatBytes(MAX_ATTACHMENT_BYTES)}, the most Sotto reads.`);
        continue;
      }
      if (status) status.textContent = `Reading ${f.name} in the sandbox…`;
      try {
        notes.push(`Added ${await api.addProjectFile(project, f.name, base64Of(await bytesOf(f)))}.`);
      } catch (e) {
        notes.push(`${f.name} was not added: ${errorText(e)}`);
      }
    }
    this.fileNote = notes.join(' ');
    await this.openProject(project);
  }

  private async removeFile(project: string, uid: string, name: string): Promise<void> {
    if (!window.confirm(`Remove ${name} from the project? Its text is erased from this computer.`)) return;
    try {
      await api.removeProjectFile(project, uid);
      await this.openProject(project);
    } catch (e) {
      this.host.error(errorText(e));
    }
  }

  private async search(project: string, text: string, out: HTMLElement): Promise<void> {
    clear(out);
    if (!text.trim()) return;
    let found: SearchHit[];
    try {
      found = await api.searchProject(project, text);
    } catch (e) {
      out.append(h('li', { class: 'refusal' }, errorText(e)));
      return;
    }
    if (!found.length) out.append(h('li', { class: 'muted' }, 'Nothing found in this project.'));
    for (const hit of found) {
      const snippet = h('span', { class: 'snippet' });
      for (const part of snippetParts(hit.snippet)) snippet.append(part.match ? h('mark', {}, part.text) : part.text);
      out.append(h('li', { class: 'hit' }, h('button', { type: 'button', class: 'conversation-title', onclick: () => this.host.openConversation(hit.conversation_id) }, h('strong', {}, hit.conversation_title), snippet)));
    }
  }
}
