// The local agent: a workspace folder, a task, each step live (code, output, charts, files),
// stop, and approval before writes when the setting asks for it.

import { api, errorText, type AgentEvent, type AgentResult, type Step } from '../api';
import { clear, h } from '../dom';
import { renderMarkdown } from '../markdown';
import { badgeFor, failurePanel, receiptPanel } from '../receipt';
import { StreamingReply } from '../stream';

export interface AgentHost {
  error(message: string): void;
  openPanel(title: string, body: HTMLElement): void;
  conversationsChanged(): void;
}

const IMAGE = /\.(png|jpe?g|gif|webp)$/i;

export class AgentView {
  readonly el: HTMLElement;
  private readonly workspace: HTMLInputElement;
  private readonly task: HTMLTextAreaElement;
  private readonly runButton: HTMLButtonElement;
  private readonly stopButton: HTMLButtonElement;
  private readonly steps: HTMLElement;
  private readonly progress: HTMLProgressElement;
  private readonly progressText: HTMLElement;
  private readonly progressBox: HTMLElement;
  private readonly stats: HTMLElement;
  private running = false;
  private sandboxReady = false;
  private current: { card: HTMLElement; model: HTMLElement | null; stream: StreamingReply | null } | null = null;
  private requests = 0;
  private bytesSent = 0;

  constructor(private readonly host: AgentHost) {
    this.workspace = h('input', { type: 'text', class: 'workspace', placeholder: '/home/you/data', 'aria-label': 'Workspace folder', value: localStorage.getItem('sotto.workspace') ?? '' });
    this.task = h('textarea', { class: 'task', rows: 3, 'aria-label': 'Task for the agent', placeholder: 'e.g. Chart the monthly revenue per region and write a short PDF report' });
    this.task.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void this.run();
    });
    this.runButton = h('button', { type: 'button', class: 'primary', 'aria-label': 'Run the task (Ctrl+Enter)', onclick: () => void this.run() }, 'Run');
    this.stopButton = h('button', { type: 'button', class: 'danger hidden', 'aria-label': 'Stop the task', onclick: () => void api.stopAgent() }, 'Stop');
    this.progress = h('progress', { max: 1, value: 0, 'aria-label': 'Preparing the Python sandbox' });
    this.progressText = h('span', { class: 'progress-text' }, 'Preparing the Python sandbox…');
    this.progressBox = h('div', { class: 'sandbox-progress', role: 'status' }, this.progressText, this.progress);
    this.steps = h('div', { class: 'steps', role: 'log', 'aria-live': 'polite', 'aria-label': 'Steps' });
    this.stats = h('p', { class: 'agent-stats', 'aria-live': 'polite' });
    this.el = h('section', { class: 'view agent-view', 'aria-label': 'Local agent' },
      h('header', { class: 'view-header' }, h('h1', {}, 'Local agent')),
      h('div', { class: 'agent-form' },
        h('p', { class: 'explain' }, 'The agent works on a folder of yours. Its Python runs here, in a WebAssembly sandbox that sees only that folder; files never leave this computer — only what the model is told in each request does, sealed like a chat message.'),
        this.progressBox,
        h('div', { class: 'row' },
          h('label', { class: 'field-label' }, 'Workspace'),
          this.workspace,
          h('button', { type: 'button', 'aria-label': 'Choose the workspace folder', onclick: () => void this.pick() }, 'Choose…')),
        this.task,
        h('div', { class: 'row end' }, this.stats, this.stopButton, this.runButton)),
      this.steps);
  }

  sandboxProgress(state: string, fraction: number, detail: string): void {
    this.sandboxReady = state === 'ready';
    this.progress.value = fraction;
    this.progressText.textContent = detail;
    this.progressBox.classList.toggle('hidden', this.sandboxReady);
    this.progressBox.classList.toggle('failed', state === 'failed');
  }

  private async pick(): Promise<void> {
    try {
      const folder = await api.pickWorkspace();
      if (folder) this.workspace.value = folder;
    } catch (e) {
      this.host.error(errorText(e));
    }
  }

  private setRunning(running: boolean): void {
    this.running = running;
    this.runButton.classList.toggle('hidden', running);
    this.stopButton.classList.toggle('hidden', !running);
  }

  async run(): Promise<void> {
    if (this.running) return;
    if (!this.workspace.value.trim() || !this.task.value.trim()) {
      this.host.error('Choose a workspace folder and describe the task.');
      return;
    }
    localStorage.setItem('sotto.workspace', this.workspace.value.trim());
    clear(this.steps);
    this.requests = 0;
    this.bytesSent = 0;
    this.steps.append(h('div', { class: 'task-echo' }, this.task.value));
    this.setRunning(true);
    this.beginModelTurn();
    try {
      const result = await api.runAgentTask({ workspace: this.workspace.value.trim(), task: this.task.value, model: localStorage.getItem('sotto.model') || null }, (e) => this.onEvent(e));
      this.finish(result);
    } catch (e) {
      this.current?.stream?.withdraw(errorText(e));
      this.steps.append(h('p', { class: 'refusal' }, errorText(e)));
    }
    this.setRunning(false);
    this.host.conversationsChanged();
  }

  private beginModelTurn(): void {
    const body = h('div', { class: 'text markdown model-text' });
    const card = h('div', { class: 'model-turn' }, body);
    this.steps.append(card);
    this.current = { card, model: body, stream: new StreamingReply(body) };
  }

  private onEvent(e: AgentEvent): void {
    switch (e.kind) {
      case 'model_text':
        this.current?.stream?.push(e.piece);
        break;
      case 'model_verified':
        if (this.current?.stream) {
          const text = this.current.stream.current;
          if (text.trim()) this.current.stream.finish(text);
          else this.current.card.remove();
        }
        break;
      case 'request_sent':
        this.requests += 1;
        this.bytesSent += e.bytes;
        this.stats.textContent = `${this.requests} request${this.requests === 1 ? '' : 's'} sent · ${this.bytesSent.toLocaleString()} bytes left this device`;
        break;
      case 'step_started':
        this.steps.append(this.stepCard(e.n, e.tool, e.input));
        break;
      case 'step_finished':
        this.fillStep(e.step);
        this.beginModelTurn();
        break;
      case 'approve':
        this.askApproval(e.id, e.question);
        break;
      case 'warning':
        this.host.error(e.message);
        break;
    }
  }

  private stepCard(n: number, tool: string, input: Record<string, unknown>): HTMLElement {
    const code = typeof input.code === 'string' ? input.code : null;
    const shown = code !== null
      ? h('div', { class: 'markdown' })
      : h('pre', { class: 'step-input' }, JSON.stringify(input, null, 2));
    if (code !== null) shown.innerHTML = renderMarkdown('```python\n' + code + '\n```');
    return h('article', { class: 'step running', 'data-step': String(n), 'aria-label': `Step ${n}: ${tool}` },
      h('header', { class: 'step-head' }, h('span', { class: 'step-n' }, `Step ${n}`), h('code', {}, tool), h('span', { class: 'step-state' }, 'running…')),
      shown);
  }

  private fillStep(step: Step): void {
    const card = this.steps.querySelector<HTMLElement>(`.step[data-step="${step.n}"]`) ?? this.stepCard(step.n, step.tool, step.input);
    if (!card.isConnected) this.steps.append(card);
    card.classList.remove('running');
    card.classList.add(step.ok ? 'ok' : 'error');
    const state = card.querySelector('.step-state');
    if (state) state.textContent = `${step.ok ? '✓' : '✕'} ${(step.duration_ms / 1000).toFixed(1)} s`;
    if (step.output.trim()) card.append(h('pre', { class: 'step-output', tabindex: '0', 'aria-label': `Output of step ${step.n}` }, step.output));
    if (step.files.length) {
      const files = h('ul', { class: 'step-files', 'aria-label': 'Files made' });
      for (const f of step.files) {
        const li = h('li', {}, h('button', { type: 'button', class: 'link', 'aria-label': `Open ${f}`, onclick: () => void this.openResult(f) }, f));
        files.append(li);
        if (IMAGE.test(f)) {
          void api.readWorkspaceImage(f).then((src) => li.append(h('img', { class: 'chart', src, alt: `Chart ${f} made in step ${step.n}` }))).catch(() => undefined);
        }
      }
      card.append(files);
    }
  }

  private askApproval(id: number, question: string): void {
    const answer = (approve: boolean) => {
      box.remove();
      void api.answerApproval(id, approve).catch((e) => this.host.error(errorText(e)));
    };
    const yes = h('button', { type: 'button', class: 'primary', onclick: () => answer(true) }, 'Allow');
    const box = h('div', { class: 'approval', role: 'alertdialog', 'aria-label': 'Approve a write' },
      h('p', {}, question),
      h('div', { class: 'row end' }, h('button', { type: 'button', onclick: () => answer(false) }, 'Deny'), yes));
    this.steps.append(box);
    yes.focus();
  }

  private finish(r: AgentResult): void {
    const last = this.current;
    if (last?.stream && !last.stream.current.trim()) last.card.remove();
    const body = h('div', { class: 'text markdown' });
    if (r.status === 'answered') body.innerHTML = renderMarkdown(r.reply);
    else body.append(h('p', { class: 'refusal' }, r.reason ?? 'The task ended.'));
    const status = r.status === 'answered' ? (r.development ? 'development' : 'verified') : r.status === 'failed' ? 'failed' : 'unfinished';
    const open = () => this.host.openPanel(r.receipt ? 'Receipt' : 'Why the task ended', r.receipt ? receiptPanel(r.receipt) : failurePanel(r.reason ?? 'the task ended'));
    if (last?.stream) last.card.remove();
    this.steps.append(h('article', { class: `message assistant final status-${status}`, 'aria-label': 'Agent answer' },
      body, h('div', { class: 'message-actions' }, badgeFor(status, open), h('span', { class: 'muted' }, `${r.steps} step${r.steps === 1 ? '' : 's'}`))));
    this.current = null;
  }

  /** Inert documents open in their viewer; anything that could run or fetch is shown in its folder. */
  private async openResult(path: string): Promise<void> {
    try {
      const how = await api.openResultFile(path);
      if (how === 'shown in its folder') this.host.error(`${path} was shown in its folder rather than opened: files of this kind can run code or fetch from the network when opened.`);
    } catch (e) {
      this.host.error(errorText(e));
    }
  }
}
