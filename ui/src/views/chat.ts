// The chat view: messages with their proof badges, the composer, the model picker and the
// receipt panel.

import { api, errorText, type MessageView, type Receipt, type SendResult } from '../api';
import { contextNote, sourcesList, withoutProposals } from '../context';
import { attachmentNote, composePrompt, imagesToSend, readAttachment, type Attachment } from '../attachments';
import { clear, h, icon } from '../dom';
import { copyCode, renderMarkdown } from '../markdown';
import { badgeFor, checkAgain, failurePanel, receiptPanel } from '../receipt';
import { StreamingReply } from '../stream';

export interface ChatHost {
  conversationChanged(id: string | null): void;
  /** A fact the user chose to keep from a reply's proposals. */
  memoryKept(): void;
  error(message: string): void;
  openPanel(title: string, body: HTMLElement): void;
}

export class ChatView {
  readonly el: HTMLElement;
  private readonly list: HTMLElement;
  private readonly input: HTMLTextAreaElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly stopButton: HTMLButtonElement;
  private readonly models: HTMLSelectElement;
  private readonly note: HTMLElement;
  private readonly chips: HTMLElement;
  private readonly title: HTMLElement;
  private readonly fileInput: HTMLInputElement;
  private conversationId: string | null = null;
  private messages: MessageView[] = [];
  private attachments: Attachment[] = [];
  /** Chat models that read images (from the enclave's signed model list). */
  private seeing = new Set<string>();
  private activeRequest: string | null = null;
  private replaceFrom: string | null = null;
  /** This conversation's web search switch (sent with every message; the history remembers it). */
  private webSearch = false;
  private readonly webSearchButton: HTMLButtonElement;
  /** The project of this conversation (or the one a new chat starts in). */
  private project: string | null = null;
  private readonly projectPill: HTMLElement;
  /** What went with the last message and came back with its reply (shown under that reply). */
  private lastExtras: SendResult | null = null;

  constructor(private readonly host: ChatHost) {
    this.title = h('h1', { class: 'chat-title' }, 'New chat');
    this.models = h('select', { class: 'model-picker', 'aria-label': 'Model', onchange: () => { this.rememberModel(); this.updateNote(); } }, h('option', { value: '' }, 'Default model'));
    this.list = h('div', { class: 'messages', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages', onclick: (e: Event) => this.onListClick(e) });
    this.input = h('textarea', { class: 'composer-input', rows: 1, placeholder: 'Message Sotto', title: 'Enter to send, Shift+Enter for a new line', 'aria-label': 'Message', oninput: () => this.autosize() });
    this.input.addEventListener('keydown', (e) => this.onKey(e));
    this.fileInput = h('input', { type: 'file', multiple: true, class: 'hidden', 'aria-hidden': 'true', tabindex: '-1', onchange: () => void this.addFiles(this.fileInput.files) });
    this.sendButton = h('button', { type: 'button', class: 'send primary', 'aria-label': 'Send (Enter)', onclick: () => void this.send() }, 'Send');
    this.stopButton = h('button', { type: 'button', class: 'stop danger hidden', 'aria-label': 'Stop (Escape)', onclick: () => this.stop() }, 'Stop');
    this.webSearchButton = h('button', { type: 'button', class: 'web-search-toggle', 'aria-pressed': 'false', title: 'Web search: the enclave searches the web itself for your messages in this conversation and answers with sources its receipt covers', onclick: () => this.toggleWebSearch() }, 'Web search');
    this.projectPill = h('span', { class: 'project-pill hidden' });
    this.chips = h('div', { class: 'attachments', 'aria-label': 'Attachments' });
    this.note = h('p', { class: 'composer-note', 'aria-live': 'polite' });
    const composer = h('div', { class: 'composer' },
      this.chips,
      h('div', { class: 'composer-row' },
        h('button', { type: 'button', class: 'icon attach', 'aria-label': 'Attach files', title: 'Attach files (PDF, Word, Excel, OpenDocument, CSV, text…), read on this device in the sandbox', onclick: () => this.fileInput.click() }, icon('attach')),
        this.input, this.webSearchButton, this.sendButton, this.stopButton, this.fileInput),
      this.note);
    this.el = h('section', { class: 'view chat-view', 'aria-label': 'Chat' },
      h('header', { class: 'view-header' }, h('div', { class: 'title-block' }, this.title, this.projectPill), h('div', { class: 'header-tools' }, this.models)),
      this.list, composer);
    for (const ev of ['dragover', 'dragenter']) this.el.addEventListener(ev, (e) => { e.preventDefault(); this.el.classList.add('dropping'); });
    this.el.addEventListener('dragleave', () => this.el.classList.remove('dropping'));
    this.el.addEventListener('drop', (e) => {
      e.preventDefault();
      this.el.classList.remove('dropping');
      void this.addFiles((e as DragEvent).dataTransfer?.files ?? null);
    });
    this.updateNote();
    this.renderMessages();
  }

  get busy(): boolean {
    return this.activeRequest !== null;
  }

  focus(): void {
    this.input.focus();
  }

  async loadModels(preferred: string | null): Promise<void> {
    try {
      const { models, sees_images } = await api.listModels();
      this.seeing = new Set(sees_images ?? []);
      clear(this.models);
      this.models.append(h('option', { value: '' }, models.length ? `Default (${models[0]})` : 'Default model'));
      for (const m of models) this.models.append(h('option', { value: m }, m));
      this.models.value = preferred && models.includes(preferred) ? preferred : '';
      // What an attached image will do depends on the model: say it again now that it is known.
      this.updateNote();
    } catch (e) {
      this.models.title = `The model list could not be fetched: ${errorText(e)}`;
    }
  }

  /** Whether the chosen model (or the default, the first listed) reads images. */
  private get modelSeesImages(): boolean {
    const chosen = this.models.value || this.models.options[1]?.value || '';
    return this.seeing.has(chosen);
  }

  private rememberModel(): void {
    localStorage.setItem('sotto.model', this.models.value);
  }

  private toggleWebSearch(): void {
    this.setWebSearch(!this.webSearch);
    this.updateNote();
  }

  private setWebSearch(on: boolean): void {
    this.webSearch = on;
    this.webSearchButton.setAttribute('aria-pressed', String(on));
    this.webSearchButton.classList.toggle('on', on);
  }

  private setProject(name: string | null): void {
    this.project = name;
    this.projectPill.textContent = name ? `Project: ${name}` : '';
    this.projectPill.classList.toggle('hidden', !name);
  }

  /** A new chat inside a project: its instructions and files go with every message. */
  newChatIn(project: string): void {
    if (this.busy) return;
    this.newChat();
    this.setProject(project);
    this.updateNote();
  }

  newChat(): void {
    if (this.busy) return;
    this.conversationId = null;
    this.messages = [];
    this.replaceFrom = null;
    this.lastExtras = null;
    this.setWebSearch(false);
    this.setProject(null);
    this.title.textContent = 'New chat';
    this.renderMessages();
    this.host.conversationChanged(null);
    this.focus();
  }

  forget(id: string): void {
    if (this.conversationId === id) this.newChat();
  }

  /** A project was renamed or deleted elsewhere: the label (and a new chat's project) follow. */
  projectChanged(old: string, now: string | null): void {
    if (this.project === old) this.setProject(now);
  }

  async open(id: string): Promise<void> {
    if (this.busy) return;
    try {
      const c = await api.openConversation(id);
      this.conversationId = c.id;
      this.messages = c.messages;
      this.title.textContent = c.title;
      this.replaceFrom = null;
      this.lastExtras = null;
      this.setWebSearch(c.web_search);
      this.setProject(c.project);
      this.updateNote();
      this.renderMessages();
      this.host.conversationChanged(c.id);
      this.scrollToEnd(true);
    } catch (e) {
      this.host.error(errorText(e));
    }
  }

  private renderMessages(): void {
    clear(this.list);
    if (this.messages.length === 0) {
      this.list.append(h('div', { class: 'welcome' },
        h('h2', {}, 'Private by construction'),
        h('p', {}, 'Your message is sealed on this computer to the key of an enclave whose attestation was checked first. The relay sees only ciphertext; every reply is verified before it is shown, and carries a receipt you can open.')));
      return;
    }
    const lastReply = this.messages[this.messages.length - 1];
    for (const m of this.messages) {
      if (m.role === 'user') this.list.append(this.userBubble(m));
      else if (m.role === 'assistant') this.list.append(this.replyBubble(m, m === lastReply));
    }
  }

  private userBubble(m: MessageView): HTMLElement {
    const edit = h('button', { type: 'button', class: 'link', 'aria-label': 'Edit and resend this message', onclick: () => this.edit(m) }, 'Edit');
    return h('article', { class: 'message user', 'data-uid': m.uid, 'aria-label': 'You' },
      h('div', { class: 'bubble' }, h('div', { class: 'text plain' }, m.content)),
      h('div', { class: 'message-actions' }, m.uid ? edit : null));
  }

  private replyBubble(m: MessageView, last: boolean): HTMLElement {
    const body = h('div', { class: 'text markdown' });
    if (m.status === 'failed') body.append(h('p', { class: 'refusal' }, `Not shown: ${m.detail ?? 'a check failed'}`));
    else body.innerHTML = renderMarkdown(withoutProposals(m.content));
    if (m.status === 'unfinished' || m.status === 'imported') body.classList.add('unverified');
    const open = () => this.showProof(m);
    const actions = h('div', { class: 'message-actions' },
      badgeFor(m.status, open),
      m.status !== 'failed' ? h('button', { type: 'button', class: 'link', 'aria-label': 'Copy this reply', onclick: () => void navigator.clipboard?.writeText(m.content) }, 'Copy') : null,
      last ? h('button', { type: 'button', class: 'link', 'aria-label': 'Regenerate this reply', onclick: () => void this.regenerate() }, 'Regenerate') : null);
    const extras = last ? this.lastExtras : null;
    const sources = m.status !== 'failed' && m.receipt ? sourcesList(m.receipt.citations, m.receipt.unsigned_citations ?? 0) : null;
    return h('article', { class: `message assistant status-${m.status}`, 'data-uid': m.uid, 'aria-label': 'Sotto' },
      body, sources, actions,
      extras ? contextNote(extras.memories, extras.project, extras.web_search) : null,
      extras ? this.proposalsBox(extras.proposed_memories ?? []) : null);
  }

  /** Facts the reply proposes: kept only when the user says so. */
  private proposalsBox(facts: string[]): HTMLElement | null {
    if (!facts.length) return null;
    const box = h('div', { class: 'memory-proposals', role: 'group', 'aria-label': 'Memories the reply proposes' });
    for (const fact of facts) {
      const row: HTMLElement = h('div', { class: 'memory-proposal' },
        h('span', {}, 'Remember ', h('q', {}, fact), '?'),
        h('button', { type: 'button', class: 'keep', 'aria-label': `Keep “${fact}”`, onclick: () => void this.keep(fact, row) }, 'Keep'),
        h('button', { type: 'button', class: 'link', 'aria-label': `Dismiss “${fact}”`, onclick: () => this.dismiss(fact, row) }, 'Dismiss'));
      box.append(row);
    }
    return h('div', {}, h('p', { class: 'muted' }, 'Nothing is kept unless you say so. Kept facts stay encrypted on this computer.'), box);
  }

  private forgetProposal(fact: string): void {
    if (this.lastExtras?.proposed_memories) this.lastExtras.proposed_memories = this.lastExtras.proposed_memories.filter((f) => f !== fact);
  }

  private async keep(fact: string, row: HTMLElement): Promise<void> {
    // One click keeps it once.
    for (const b of row.querySelectorAll('button')) b.disabled = true;
    try {
      await api.addMemory(fact);
      this.forgetProposal(fact);
      row.replaceWith(h('p', { class: 'memory-kept' }, `Kept: “${fact}”. It goes with later messages it bears on (Memory lists it).`));
      this.host.memoryKept();
    } catch (e) {
      for (const b of row.querySelectorAll('button')) b.disabled = false;
      this.host.error(errorText(e));
    }
  }

  private dismiss(fact: string, row: HTMLElement): void {
    this.forgetProposal(fact);
    row.remove();
  }

  private async showProof(m: MessageView): Promise<void> {
    if (m.status === 'failed') return this.host.openPanel('Why this reply is not shown', failurePanel(m.detail ?? 'a check failed'));
    if (m.status === 'imported') return this.host.openPanel('Imported reply', failurePanel(m.detail ?? 'From an imported archive; not checked on this device.'));
    if (!m.receipt) {
      return this.host.openPanel('No receipt', failurePanel(m.detail ?? 'This reply stopped before the end, so it was never verified as a whole.'));
    }
    let receipt: Receipt = m.receipt;
    if (this.conversationId && m.uid) {
      try {
        receipt = await api.getReceipt(this.conversationId, m.uid);
      } catch {
        // The summary we have is still worth showing.
      }
    }
    const panel = receiptPanel(receipt);
    const conversation = this.conversationId;
    if (conversation && m.uid) panel.append(checkAgain(() => api.recheckReply(conversation, m.uid)));
    this.host.openPanel('Receipt', panel);
  }

  private edit(m: MessageView): void {
    if (this.busy) return;
    this.input.value = m.content;
    this.replaceFrom = m.uid;
    this.autosize();
    this.updateNote();
    this.focus();
  }

  private async regenerate(): Promise<void> {
    const lastUser = [...this.messages].reverse().find((m) => m.role === 'user');
    if (!lastUser || this.busy) return;
    await this.send(lastUser.content, lastUser.uid);
  }

  private onKey(e: KeyboardEvent): void {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      void this.send();
    } else if (e.key === 'Escape' && this.replaceFrom) {
      this.replaceFrom = null;
      this.input.value = '';
      this.updateNote();
    }
  }

  private autosize(): void {
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight, 200)}px`;
  }

  private async addFiles(files: FileList | null): Promise<void> {
    const list = Array.from(files ?? []);
    this.fileInput.value = '';
    for (const f of list) {
      this.note.textContent = `Reading ${f.name} in the sandbox…`;
      this.attachments.push(await readAttachment(f));
      this.renderChips();
    }
  }

  /** The exact text an attachment adds to the message, in the side panel. */
  private previewAttachment(a: Attachment): void {
    if (a.image && this.modelSeesImages) {
      const body = h('div', { class: 'attachment-preview' },
        h('p', { class: 'muted' }, `${a.name} goes with your message as an image, sealed to the enclave; the receipt's request hash covers it.`),
        h('img', { src: `data:image/*;base64,${a.image}`, alt: a.name, class: 'detail-image' }));
      return this.host.openPanel(`What will be sent: ${a.name}`, body);
    }
    const body = a.text === null
      ? h('p', { class: 'refusal' }, `${a.name} is ${a.why}.`)
      : h('div', { class: 'attachment-preview' },
          h('p', { class: 'muted' }, `${a.summary ?? a.name}. This is exactly what will leave this device for it, sealed to the enclave; the receipt's request hash covers it.`),
          h('pre', { tabindex: '0', 'aria-label': `The text sent for ${a.name}` }, a.part ?? a.text));
    this.host.openPanel(`What will be sent: ${a.name}`, body);
  }

  /** An image from Image Studio (PNG, base64), attached to the next message: it goes to a model
   * that reads images, and is listed as not sent for one that does not. */
  attachImage(name: string, png: string): void {
    this.attachments.push({ name, size: Math.floor((png.length * 3) / 4), text: null, image: png, why: 'not sent: the chosen model reads text only, not images' });
    this.renderChips();
    this.focus();
  }

  private renderChips(): void {
    clear(this.chips);
    this.attachments.forEach((a, i) => {
      this.chips.append(h('span', { class: `chip${a.text === null ? ' not-sent' : ''}` },
        h('button', { type: 'button', class: 'link chip-name', title: a.summary ?? a.why ?? a.name, onclick: () => this.previewAttachment(a) }, a.name),
        h('button', { type: 'button', class: 'icon', 'aria-label': `Remove ${a.name}`, onclick: () => { this.attachments.splice(i, 1); this.renderChips(); } }, '×')));
    });
    this.updateNote();
  }

  private updateNote(): void {
    const editing = this.replaceFrom ? 'Editing: sending replaces that message and everything after it (Escape to cancel). ' : '';
    const files = attachmentNote(this.attachments, this.modelSeesImages);
    const searching = this.webSearch ? 'Web search is on: the enclave searches the web for this message through its own provider, not from this computer. ' : '';
    this.note.textContent = editing + searching + (files || 'Sealed on this device; only the relay sees where it comes from, only the attested enclave can read it.');
  }

  stop(): void {
    if (this.activeRequest) void api.stopReply(this.activeRequest);
  }

  private setBusy(busy: boolean): void {
    this.sendButton.classList.toggle('hidden', busy);
    this.stopButton.classList.toggle('hidden', !busy);
    this.input.disabled = false;
  }

  async send(text?: string, replaceFrom?: string): Promise<void> {
    if (this.busy) return;
    const typed = text ?? this.input.value;
    const prompt = text ?? composePrompt(typed, this.attachments);
    const images = text === undefined ? imagesToSend(this.attachments, this.modelSeesImages) : [];
    if (!prompt.trim()) return;
    const replace = replaceFrom ?? this.replaceFrom;
    if (replace) {
      const at = this.messages.findIndex((m) => m.uid === replace);
      if (at >= 0) this.messages = this.messages.slice(0, at);
    }
    const requestId = crypto.randomUUID();
    this.activeRequest = requestId;
    this.setBusy(true);
    if (text === undefined) {
      this.input.value = '';
      this.attachments = [];
      this.renderChips();
      this.autosize();
    }
    this.replaceFrom = null;
    this.updateNote();
    this.messages.push({ uid: '', role: 'user', content: prompt, status: 'sent', detail: null, model: null, created_ms: Date.now(), receipt: null });
    this.renderMessages();
    const body = h('div', { class: 'text markdown' });
    const badgeSlot = h('div', { class: 'message-actions' }, badgeFor('streaming'));
    const article = h('article', { class: 'message assistant status-streaming', 'aria-label': 'Sotto' }, body, badgeSlot);
    this.list.append(article);
    this.scrollToEnd(true);
    const stream = new StreamingReply(body);
    let result: SendResult | null = null;
    try {
      result = await api.sendMessage(
        {
          request_id: requestId, conversation_id: this.conversationId, prompt, model: this.models.value || null, replace_from: replace, images,
          // The switch as shown is the switch sent (and remembered).
          web_search: this.webSearch,
          project: this.conversationId ? null : this.project,
          // The app takes the typed part of the message (never attached files' text) as the
          // search words, for new, edited and regenerated messages alike.
          search_query: null,
        },
        (piece) => {
          stream.push(piece);
          this.scrollToEnd(false);
        },
      );
    } catch (e) {
      // Nothing was received (no profile, no relay…): the reply fails with the reason.
      result = { conversation_id: null, status: 'failed', reason: errorText(e), text: '', receipt: null, warnings: [] };
    }
    this.activeRequest = null;
    this.setBusy(false);
    if (result) this.finish(result, stream, article);
  }

  private finish(result: SendResult, stream: StreamingReply, article: HTMLElement): void {
    for (const w of result.warnings) this.host.error(w);
    const reply: MessageView = { uid: '', role: 'assistant', content: result.text, status: result.status, detail: result.reason, model: null, created_ms: Date.now(), receipt: result.receipt };
    this.lastExtras = result;
    if (result.status === 'failed') stream.withdraw(result.reason ?? 'a check failed');
    else if (result.status === 'unfinished') stream.stop();
    else stream.finish(withoutProposals(result.text));
    if (result.conversation_id) {
      const changed = result.conversation_id !== this.conversationId;
      this.conversationId = result.conversation_id;
      // The stored messages carry their ids (for receipts, edit, regenerate); swap them in without
      // moving anything on screen.
      void api.openConversation(result.conversation_id).then((c) => {
        const scroll = this.list.scrollTop;
        this.messages = c.messages;
        this.title.textContent = c.title;
        this.renderMessages();
        this.list.scrollTop = scroll;
        this.host.conversationChanged(c.id);
      }).catch((e) => this.host.error(errorText(e)));
      if (changed) this.host.conversationChanged(result.conversation_id);
    } else {
      this.messages.push(reply);
      article.replaceWith(this.replyBubble(reply, true));
    }
  }

  private atBottom(): boolean {
    return this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 80;
  }

  private scrollToEnd(force: boolean): void {
    // Follow the stream only while the reader is at the end; never pull them away from what they read.
    if (force || this.atBottom()) requestAnimationFrame(() => (this.list.scrollTop = this.list.scrollHeight));
  }

  private onListClick(e: Event): void {
    const target = e.target as HTMLElement;
    if (target.classList.contains('copy-code')) void copyCode(target);
    const link = target.closest('a');
    if (link) e.preventDefault();
  }
}
