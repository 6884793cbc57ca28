// Image Studio: a prompt box (size, count, seed, style, model), generation with progress and a
// stop button, the gallery (thumbnails loaded as they scroll into view), and a detail panel with
// the prompt, the settings, the receipt and its check, re-run, save, send and delete.

import { api, errorText, type GalleryEntry, type ImageModel, type ImageSettings } from '../api';
import { clear, formatBytes, formatTime, h } from '../dom';
import { badgeFor, checkAgain, failurePanel, receiptPanel } from '../receipt';

const SIZES = ['1024x1024', '512x512', '256x256', '1536x1024', '1024x1536', '1792x1024', '1024x1792'];
const STYLES = ['natural', 'vivid', 'pastel', 'mono'];
const PAGE = 120;
const DEMO_NOTE = 'local demo generator — not a trained model';

export interface ImageHandlers {
  error(message: string): void;
  notify(message: string): void;
  openPanel(title: string, body: HTMLElement): void;
  closePanel(): void;
  /** Puts an image (PNG, base64) into the chat's composer. */
  toChat(name: string, png: string): void;
}

function statusOf(entry: GalleryEntry): string {
  return entry.receipt?.enclave?.hardware_protected ? 'verified' : 'development';
}

export class ImagesView {
  readonly el: HTMLElement;
  private readonly prompt: HTMLTextAreaElement;
  private readonly size: HTMLSelectElement;
  private readonly count: HTMLSelectElement;
  private readonly seed: HTMLInputElement;
  private readonly style: HTMLSelectElement;
  private readonly model: HTMLSelectElement;
  private readonly modelNote: HTMLElement;
  private readonly go: HTMLButtonElement;
  private readonly stopButton: HTMLButtonElement;
  private readonly progress: HTMLProgressElement;
  private readonly progressText: HTMLElement;
  private readonly grid: HTMLElement;
  private readonly galleryNote: HTMLElement;
  private readonly more: HTMLButtonElement;
  private readonly observer: IntersectionObserver;
  private entries: GalleryEntry[] = [];
  private total = 0;
  private requestId: string | null = null;
  private models: ImageModel[] = [];
  loaded = false;

  constructor(private readonly on: ImageHandlers) {
    this.prompt = h('textarea', { rows: '3', placeholder: 'Describe a picture: “a lighthouse on a cliff at dusk, pastel sky”', 'aria-label': 'Image prompt', class: 'image-prompt' });
    this.prompt.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        void this.generate();
      }
    });
    this.size = h('select', { 'aria-label': 'Size' }, ...SIZES.map((s) => h('option', { value: s }, s.replace('x', ' × '))));
    this.count = h('select', { 'aria-label': 'Number of images' }, ...[1, 2, 3, 4].map((n) => h('option', { value: String(n) }, String(n))));
    this.seed = h('input', { type: 'number', min: '0', step: '1', placeholder: 'random', 'aria-label': 'Seed (empty: a new one each time)' });
    this.style = h('select', { 'aria-label': 'Style' }, h('option', { value: '' }, 'Default style'), ...STYLES.map((s) => h('option', { value: s }, s[0].toUpperCase() + s.slice(1))));
    this.model = h('select', { 'aria-label': 'Image model' }, h('option', { value: '' }, 'The enclave’s image model'));
    this.modelNote = h('p', { class: 'muted model-note' });
    this.model.addEventListener('change', () => this.describeModel());
    this.go = h('button', { type: 'button', class: 'primary', title: 'Generate (Ctrl+Enter)', onclick: () => void this.generate() }, 'Generate');
    this.stopButton = h('button', { type: 'button', class: 'hidden', title: 'Stop (Escape)', onclick: () => this.stop() }, 'Stop');
    this.progress = h('progress', { class: 'hidden', max: '1', 'aria-label': 'Generation progress' });
    this.progressText = h('p', { class: 'muted image-progress', role: 'status', 'aria-live': 'polite' });
    this.grid = h('ul', { class: 'gallery', 'aria-label': 'Gallery' });
    this.galleryNote = h('p', { class: 'muted' });
    this.more = h('button', { type: 'button', class: 'hidden', onclick: () => void this.loadMore() }, 'Show more');
    this.observer = new IntersectionObserver((seen) => this.thumbnailsInView(seen), { rootMargin: '300px' });
    const field = (label: string, control: HTMLElement) => h('label', { class: 'image-field' }, h('span', {}, label), control);
    this.el = h('section', { class: 'view images-view hidden', 'aria-label': 'Image Studio' },
      h('header', { class: 'view-header' }, h('h1', {}, 'Image Studio'),
        h('span', { class: 'muted' }, 'Made inside the enclave; every image checked against its receipt before it is shown.')),
      h('div', { class: 'images-scroll' },
        h('form', { class: 'image-form', onsubmit: (e: Event) => { e.preventDefault(); void this.generate(); } },
          this.prompt,
          h('div', { class: 'image-options' }, field('Size', this.size), field('Images', this.count), field('Seed', this.seed), field('Style', this.style), field('Model', this.model)),
          this.modelNote,
          h('div', { class: 'image-actions' }, this.go, this.stopButton, this.progress, this.progressText)),
        h('div', { class: 'gallery-head' }, h('h2', {}, 'Gallery'), this.galleryNote),
        this.grid, this.more));
    this.grid.addEventListener('keydown', (e) => this.gridKeys(e));
  }

  focus(): void {
    this.prompt.focus();
  }

  get busy(): boolean {
    return this.requestId !== null;
  }

  async load(): Promise<void> {
    this.loaded = true;
    void this.loadModels();
    try {
      const page = await api.listGallery(PAGE, 0);
      this.entries = page.entries;
      this.total = page.total;
      this.renderGallery();
    } catch (e) {
      this.galleryNote.textContent = `The gallery is not available: ${errorText(e)}`;
    }
  }

  private async loadModels(): Promise<void> {
    try {
      this.models = (await api.listModels()).image_models;
    } catch {
      this.models = [];
    }
    const chosen = this.model.value;
    clear(this.model);
    this.model.append(h('option', { value: '' }, 'The enclave’s image model'), ...this.models.map((m) => h('option', { value: m.id }, m.id)));
    this.model.value = this.models.some((m) => m.id === chosen) ? chosen : '';
    this.describeModel();
  }

  private describeModel(): void {
    const m = this.models.find((x) => x.id === this.model.value) ?? this.models[0];
    this.modelNote.textContent = m ? `${m.id}: ${m.description ?? 'an image model'}` : 'This enclave lists no image model.';
  }

  private settings(): ImageSettings {
    const seed = this.seed.value.trim();
    return {
      size: this.size.value,
      n: Number(this.count.value),
      seed: seed === '' ? null : Number(seed),
      style: this.style.value || null,
      model: this.model.value || null,
    };
  }

  /** Fills the form with a generation's settings (re-run). */
  private useSettings(entry: GalleryEntry): void {
    this.prompt.value = entry.prompt;
    this.size.value = entry.settings.size;
    this.count.value = String(entry.settings.n);
    this.seed.value = entry.settings.seed === null ? '' : String(entry.settings.seed);
    this.style.value = entry.settings.style ?? '';
    this.model.value = this.models.some((m) => m.id === entry.settings.model) ? entry.settings.model ?? '' : '';
  }

  async generate(): Promise<void> {
    const prompt = this.prompt.value.trim();
    if (!prompt) {
      this.on.error('Describe the picture first.');
      this.prompt.focus();
      return;
    }
    if (this.busy) return;
    const id = crypto.randomUUID();
    this.requestId = id;
    this.setBusy(true);
    this.progressText.textContent = 'Checking the enclave and sending the sealed request…';
    const started = performance.now();
    try {
      const result = await api.generateImages({ request_id: id, prompt, settings: this.settings() }, (bytes, total) => {
        this.progress.removeAttribute('value');
        if (total) this.progress.value = Math.min(1, bytes / total);
        this.progressText.textContent = `Receiving ${formatBytes(bytes)}${total ? ` of ${formatBytes(total)}` : ''} — each piece authenticated as it arrives`;
      });
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      if (result.status === 'failed') {
        this.progressText.textContent = 'Nothing was kept: a check failed or the enclave refused.';
        this.on.openPanel('Image not made', failurePanel(result.reason ?? 'unknown reason'));
      } else if (result.status === 'stopped') {
        this.progressText.textContent = 'Stopped; nothing was kept.';
      } else {
        this.progressText.textContent = `Verified in ${seconds} s: the receipt covers every image.`;
        if (result.entry) {
          this.entries.unshift(result.entry);
          this.total += 1;
          this.renderGallery();
          this.openDetail(result.entry, result.images);
        } else {
          this.on.notify('The history is not open, so this image was not kept in the gallery.');
        }
      }
    } catch (e) {
      this.progressText.textContent = '';
      this.on.error(errorText(e));
    } finally {
      this.requestId = null;
      this.setBusy(false);
    }
  }

  stop(): void {
    if (this.requestId) void api.stopReply(this.requestId);
  }

  private setBusy(busy: boolean): void {
    this.go.disabled = busy;
    this.go.textContent = busy ? 'Generating…' : 'Generate';
    this.stopButton.classList.toggle('hidden', !busy);
    this.progress.classList.toggle('hidden', !busy);
    if (busy) this.progress.removeAttribute('value');
  }

  private async loadMore(): Promise<void> {
    try {
      const page = await api.listGallery(PAGE, this.entries.length);
      this.entries.push(...page.entries);
      this.total = page.total;
      this.renderGallery();
    } catch (e) {
      this.on.error(errorText(e));
    }
  }

  private renderGallery(): void {
    this.observer.disconnect();
    clear(this.grid);
    const images = this.entries.reduce((n, e) => n + e.outputs.length, 0);
    this.galleryNote.textContent = this.total === 0
      ? 'Nothing yet. What you make is kept here, encrypted with your history, and nowhere else.'
      : `${this.total} generation${this.total === 1 ? '' : 's'}${this.entries.length < this.total ? ` (${images} images shown)` : ''}, kept encrypted on this device. Arrow keys move, Enter opens, Delete deletes.`;
    for (const entry of this.entries) {
      for (const out of entry.outputs) {
        const img = h('img', { alt: '', width: '160', height: String(Math.round((160 * out.height) / out.width)), 'data-id': entry.id, 'data-index': String(out.index) });
        const card = h('li', { class: 'gallery-item', tabindex: '0', role: 'button', 'data-id': entry.id, 'aria-label': `${entry.prompt} (${out.width} × ${out.height}, image ${out.index + 1}). Open` },
          h('div', { class: 'thumb' }, img),
          h('div', { class: 'gallery-caption' }, h('span', { class: 'gallery-prompt' }, entry.prompt), h('span', { class: 'muted' }, formatTime(entry.created_ms))));
        card.addEventListener('click', () => this.openDetail(entry));
        this.grid.append(card);
        this.observer.observe(img);
      }
    }
    this.more.classList.toggle('hidden', this.entries.length >= this.total);
  }

  private thumbnailsInView(seen: IntersectionObserverEntry[]): void {
    for (const s of seen) {
      if (!s.isIntersecting) continue;
      const img = s.target as HTMLImageElement;
      this.observer.unobserve(img);
      api.galleryThumbnail(img.dataset.id ?? '', Number(img.dataset.index)).then((url) => (img.src = url), () => img.classList.add('broken'));
    }
  }

  private gridKeys(e: KeyboardEvent): void {
    const cards = Array.from(this.grid.querySelectorAll<HTMLElement>('.gallery-item'));
    const at = cards.indexOf(document.activeElement as HTMLElement);
    if (at < 0) return;
    const perRow = Math.max(1, Math.round(this.grid.clientWidth / (cards[0]?.offsetWidth || 1)));
    const move = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: perRow, ArrowUp: -perRow }[e.key];
    if (move !== undefined) {
      e.preventDefault();
      cards[Math.min(cards.length - 1, Math.max(0, at + move))]?.focus();
    } else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      cards[at].click();
    } else if (e.key === 'Delete') {
      const entry = this.entries.find((x) => x.id === cards[at].dataset.id);
      if (entry) void this.remove(entry);
    }
  }

  private async remove(entry: GalleryEntry): Promise<void> {
    const many = entry.outputs.length > 1 ? `these ${entry.outputs.length} images` : 'this image';
    if (!window.confirm(`Delete ${many} (“${entry.prompt.slice(0, 60)}”) for good? It cannot be recovered.`)) return;
    try {
      await api.deleteGeneration(entry.id);
      this.entries = this.entries.filter((x) => x.id !== entry.id);
      this.total -= 1;
      this.renderGallery();
      this.on.closePanel();
      this.on.notify('Deleted for good.');
    } catch (e) {
      this.on.error(errorText(e));
    }
  }

  /** The detail panel: the images, the prompt and settings, the receipt and its check. */
  openDetail(entry: GalleryEntry, urls?: string[]): void {
    const pictures = h('div', { class: 'detail-images' });
    for (const out of entry.outputs) {
      const img = h('img', { class: 'detail-image', alt: `Image ${out.index + 1}: ${entry.prompt}`, width: String(out.width), height: String(out.height) });
      const url = urls?.[out.index];
      if (url) img.src = url;
      else api.galleryImage(entry.id, out.index).then((u) => (img.src = u), (e) => this.on.error(errorText(e)));
      const actions = h('div', { class: 'detail-actions' },
        h('button', { type: 'button', onclick: () => void this.toChat(entry, out.index) }, 'Send to chat'),
        h('button', { type: 'button', onclick: () => void this.toWorkspace(entry, out.index) }, 'Send to agent workspace'));
      pictures.append(h('figure', {}, img, h('figcaption', { class: 'muted' }, `${out.width} × ${out.height} · sha256 ${out.sha256.slice(0, 16)}…`), actions));
    }
    const s = entry.settings;
    const demo = entry.model === 'sotto-demo-images' ? h('p', { class: 'receipt-note warn' }, `Made by the ${DEMO_NOTE}: a procedural painter inside the development enclave, for trying Image Studio offline.`) : null;
    const body = h('div', { class: 'image-detail' },
      badgeFor(statusOf(entry)),
      pictures,
      h('h3', {}, 'Prompt'),
      h('p', { class: 'detail-prompt' }, entry.prompt),
      h('dl', { class: 'detail-settings' },
        h('dt', {}, 'Size'), h('dd', {}, s.size.replace('x', ' × ')),
        h('dt', {}, 'Images'), h('dd', {}, String(entry.outputs.length)),
        h('dt', {}, 'Seed'), h('dd', {}, String(s.seed ?? '—')),
        h('dt', {}, 'Style'), h('dd', {}, s.style ?? 'default'),
        h('dt', {}, 'Model'), h('dd', {}, entry.model),
        h('dt', {}, 'Made'), h('dd', {}, formatTime(entry.created_ms))),
      demo,
      h('div', { class: 'detail-actions' },
        h('button', { type: 'button', class: 'primary', onclick: () => { this.useSettings(entry); this.on.closePanel(); void this.generate(); } }, 'Re-run with these settings'),
        h('button', { type: 'button', onclick: () => { this.useSettings(entry); this.on.closePanel(); this.prompt.focus(); } }, 'Edit and re-run'),
        h('button', { type: 'button', class: 'danger', onclick: () => void this.remove(entry) }, 'Delete')),
      this.saveRow(entry),
      checkAgain(async () => {
        const c = await api.recheckGeneration(entry.id);
        return { conversation_id: '', conversation_title: '', message_uid: entry.id, message: 0, verdict: c.verdict, detail: c.detail };
      }),
      receiptPanel(entry.receipt));
    this.on.openPanel('Image', body);
  }

  /** Save as PNG: into the folder typed (the last one used), or one chosen in a dialog. */
  private saveRow(entry: GalleryEntry): HTMLElement {
    const folder = h('input', { type: 'text', class: 'save-folder', placeholder: 'Folder (full path), or choose one', 'aria-label': 'Folder to save the PNG files in', value: localStorage.getItem('sotto.imageFolder') ?? '' });
    const status = h('p', { class: 'muted save-status', role: 'status' });
    const save = async (typed: string | null) => {
      try {
        const files = await api.saveGeneration(entry.id, null, typed);
        if (!files) return;
        if (typed) localStorage.setItem('sotto.imageFolder', typed);
        status.textContent = `Saved ${files.join(', ')}`;
      } catch (e) {
        status.textContent = errorText(e);
      }
    };
    const label = entry.outputs.length > 1 ? 'Save all as PNG' : 'Save as PNG';
    return h('section', { class: 'save-section' }, h('h3', {}, label),
      h('div', { class: 'save-row' }, folder,
        h('button', { type: 'button', class: 'save-png', onclick: () => void save(folder.value.trim() || null) }, label),
        h('button', { type: 'button', onclick: () => void save(null) }, 'Choose folder…')),
      status);
  }

  private async toChat(entry: GalleryEntry, index: number): Promise<void> {
    try {
      const url = await api.galleryImage(entry.id, index);
      this.on.closePanel();
      this.on.toChat(`image-${entry.id.slice(0, 8)}-${index + 1}.png`, url.slice(url.indexOf(',') + 1));
    } catch (e) {
      this.on.error(errorText(e));
    }
  }

  private async toWorkspace(entry: GalleryEntry, index: number): Promise<void> {
    try {
      const name = await api.imageToWorkspace(entry.id, index);
      this.on.notify(`The agent’s workspace now holds ${name}.`);
    } catch (e) {
      this.on.error(errorText(e));
    }
  }
}
