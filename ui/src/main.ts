// The app shell: start-up (history, local stack, sandbox), the three views, the side panel,
// notices, the theme and keyboard shortcuts.

import './styles.css';
import { api, errorText, type Settings, type StartupEvent, type StartupReport } from './api';
import { clear, h } from './dom';
import { MIN_PASSPHRASE_CHARS, newPassphraseProblem } from './passphrase';
import { AgentView } from './views/agent';
import { ChatView } from './views/chat';
import { ImagesView } from './views/images';
import { MemoryView } from './views/memory';
import { NetworkView } from './views/network';
import { ProjectsView } from './views/projects';
import { SettingsPage } from './views/settings';
import { Sidebar } from './views/sidebar';

type ViewName = 'chat' | 'agent' | 'images' | 'projects' | 'memory' | 'network' | 'settings';

const root = document.getElementById('app') as HTMLElement;
const main = h('main', { class: 'main' });
const toasts = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
const panelBody = h('div', { class: 'panel-body' });
const panelTitle = h('h2', { id: 'panel-title' });
const panel = h('aside', { class: 'panel hidden', role: 'dialog', 'aria-modal': 'false', 'aria-labelledby': 'panel-title' },
  h('header', { class: 'panel-head' }, panelTitle, h('button', { type: 'button', class: 'icon', 'aria-label': 'Close panel (Escape)', onclick: () => closePanel() }, '×')),
  panelBody);

function notify(message: string): void {
  const t = h('div', { class: 'toast' }, message, h('button', { type: 'button', class: 'icon', 'aria-label': 'Dismiss', onclick: () => t.remove() }, '×'));
  toasts.append(t);
  setTimeout(() => t.remove(), 8000);
}

/** Links in replies are never followed inside the app (nor handed to a browser behind the
 * user's back): a click offers to copy the address instead. */
function offerLink(href: string): void {
  const copy = h('button', { type: 'button' }, 'Copy link');
  const t = h('div', { class: 'toast link-offer' },
    h('span', {}, 'Sotto does not open links. ', h('code', { class: 'link-target' }, href)), copy,
    h('button', { type: 'button', class: 'icon', 'aria-label': 'Dismiss', onclick: () => t.remove() }, '×'));
  copy.addEventListener('click', () => {
    void navigator.clipboard.writeText(href).then(() => (copy.textContent = 'Copied'), () => (copy.textContent = 'Copy failed'));
  });
  toasts.querySelectorAll('.link-offer').forEach((old) => old.remove());
  toasts.append(t);
  setTimeout(() => t.remove(), 15000);
}

function interceptLink(e: MouseEvent): void {
  const link = (e.target as Element | null)?.closest?.('a[href]');
  if (!link) return;
  e.preventDefault();
  e.stopPropagation();
  offerLink(link.getAttribute('href') ?? '');
}
// Capture phase: before any view (or the webview) acts on the click, for every kind of click.
document.addEventListener('click', interceptLink, true);
document.addEventListener('auxclick', interceptLink, true);
// No "Open link in new window" either: a link's context menu is not offered.
document.addEventListener('contextmenu', (e) => {
  if ((e.target as Element | null)?.closest?.('a[href]')) e.preventDefault();
}, true);

function openPanel(title: string, body: HTMLElement): void {
  panelTitle.textContent = title;
  panelBody.replaceChildren(body);
  panel.classList.remove('hidden');
  (panel.querySelector('button') as HTMLButtonElement).focus();
}

function closePanel(): void {
  panel.classList.add('hidden');
}

const systemDark = window.matchMedia('(prefers-color-scheme: dark)');
let chosenTheme: Settings['theme'] = 'system';

function applyTheme(theme: Settings['theme']): void {
  chosenTheme = theme;
  const dark = theme === 'dark' || (theme === 'system' && systemDark.matches);
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
}
systemDark.addEventListener('change', () => applyTheme(chosenTheme));

const chat = new ChatView({
  conversationChanged: (id) => {
    sidebar.select(id);
    void sidebar.refresh();
  },
  memoryKept: () => {
    if (currentView === 'memory') void memory.load();
  },
  error: notify,
  openPanel,
});
const agent = new AgentView({ error: notify, openPanel, conversationsChanged: () => void sidebar.refresh() });
const settings = new SettingsPage({
  saved: (s) => {
    applyTheme(s.theme);
    void chat.loadModels(localStorage.getItem('sotto.model'));
  },
  error: notify,
});
const sidebar = new Sidebar({
  newChat: () => {
    show('chat');
    chat.newChat();
  },
  open: (id) => {
    show('chat');
    void chat.open(id);
  },
  deleted: (id) => chat.forget(id),
  show: (v) => show(v),
  error: notify,
});
const network = new NetworkView();
const projects = new ProjectsView({
  error: notify,
  notify,
  openConversation: (id) => {
    show('chat');
    void chat.open(id);
  },
  newChatIn: (name) => {
    show('chat');
    chat.newChatIn(name);
  },
  changed: () => void sidebar.refresh(),
  projectChanged: (old, now, gone) => {
    chat.projectChanged(old, now);
    for (const id of gone) chat.forget(id);
  },
});
const memory = new MemoryView({ error: notify });
const images = new ImagesView({
  error: notify,
  notify,
  openPanel,
  closePanel,
  toChat: (name, png) => {
    show('chat');
    chat.attachImage(name, png);
  },
});
const views: Record<ViewName, HTMLElement> = { chat: chat.el, agent: agent.el, images: images.el, projects: projects.el, memory: memory.el, network: network.el, settings: settings.el };
let currentView: ViewName = 'chat';

function show(view: ViewName): void {
  currentView = view;
  for (const [name, el] of Object.entries(views)) el.classList.toggle('hidden', name !== view);
  sidebar.markView(view);
  if (view === 'settings') void settings.load();
  if (view === 'network') void network.load();
  if (view === 'projects') void projects.load();
  if (view === 'memory') void memory.load();
  if (view === 'images') {
    if (!images.loaded) void images.load();
    images.focus();
  }
  if (view === 'chat') chat.focus();
}

// Progress events and the start-up report race; an event, when one came, is the newer news.
let sandboxEventSeen = false;

function onStartupEvent(e: StartupEvent): void {
  if (e.kind === 'step') startupText.textContent = e.text;
  else {
    sandboxEventSeen = true;
    agent.sandboxProgress(e.state, e.fraction, e.detail);
  }
}

const startupText = h('p', { class: 'startup-text', role: 'status' }, 'Opening your history…');
const startup = h('div', { class: 'startup', 'aria-label': 'Starting Sotto' },
  h('div', { class: 'startup-card' }, h('div', { class: 'brand big' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '◈'), 'Sotto'), startupText, h('div', { class: 'spinner', 'aria-hidden': 'true' })));

async function start(): Promise<void> {
  let report: StartupReport;
  try {
    report = await api.startApp(onStartupEvent);
  } catch (e) {
    startupText.textContent = `Sotto could not start: ${errorText(e)}`;
    return;
  }
  applyTheme(report.settings.theme);
  if (report.history.state === 'needs_passphrase') return askPassphrase(report.history.new);
  if (report.history.state === 'unavailable') notify(`Your history is not available: ${report.history.reason}. Chats still work, but are not stored.`);
  if (report.stack_error) notify(`The local stack could not be started: ${report.stack_error}`);
  if (!sandboxEventSeen) {
    const ready = report.sandbox === 'ready';
    agent.sandboxProgress(report.sandbox, ready ? 1 : 0.01, ready ? 'The sandbox is ready.' : 'Preparing the Python sandbox…');
  }
  startup.remove();
  root.removeAttribute('aria-busy');
  await sidebar.refresh();
  void chat.loadModels(localStorage.getItem('sotto.model'));
  show('chat');
}

function askPassphrase(isNew: boolean): void {
  const input = h('input', { type: 'password', 'aria-label': 'Passphrase', placeholder: 'Passphrase', autocomplete: isNew ? 'new-password' : 'current-password' });
  const again = h('input', { type: 'password', 'aria-label': 'Passphrase again', placeholder: 'Type it again', autocomplete: 'new-password' });
  const problem = h('p', { class: 'refusal', role: 'alert' });
  const submit = async () => {
    const weak = isNew ? newPassphraseProblem(input.value, again.value) : null;
    if (weak) {
      problem.textContent = weak;
      return;
    }
    try {
      await api.unlockHistory(input.value);
      input.value = again.value = '';
      startupText.textContent = 'Starting…';
      await start();
    } catch (e) {
      problem.textContent = errorText(e);
    }
  };
  input.addEventListener('keydown', (e) => e.key === 'Enter' && (isNew ? again.focus() : void submit()));
  again.addEventListener('keydown', (e) => e.key === 'Enter' && void submit());
  const card = startup.querySelector('.startup-card') as HTMLElement;
  clear(card);
  card.append(
    h('h2', {}, isNew ? 'Protect your history' : 'Unlock your history'),
    h('p', {}, isNew ? `There is no system keyring here, so choose a passphrase of at least ${MIN_PASSPHRASE_CHARS} characters: your conversations are encrypted with a key only it unwraps. There is no way to recover it.` : 'Your conversations are encrypted on this computer. Enter the passphrase to open them.'),
    input, ...(isNew ? [again] : []), problem, h('button', { type: 'button', class: 'primary', onclick: () => void submit() }, isNew ? 'Create' : 'Unlock'));
  input.focus();
}

document.addEventListener('keydown', (e) => {
  const mod = e.ctrlKey || e.metaKey;
  if (mod && e.key.toLowerCase() === 'n') {
    e.preventDefault();
    show('chat');
    chat.newChat();
  } else if (mod && e.key.toLowerCase() === 'k') {
    e.preventDefault();
    sidebar.search.focus();
    sidebar.search.select();
  } else if (mod && e.key.toLowerCase() === 'p') {
    e.preventDefault();
    show('projects');
  } else if (mod && e.key.toLowerCase() === 'i') {
    e.preventDefault();
    show('images');
  } else if (mod && e.key === ',') {
    e.preventDefault();
    show('settings');
  } else if (e.key === 'Escape') {
    if (!panel.classList.contains('hidden')) closePanel();
    else if (currentView === 'chat' && chat.busy) chat.stop();
    else if (currentView === 'images' && images.busy) images.stop();
    else if (currentView === 'agent') void api.stopAgent();
  }
});

root.append(h('div', { class: 'app' }, sidebar.el, main, panel), toasts, startup);
main.append(chat.el, agent.el, images.el, projects.el, memory.el, network.el, settings.el);
show('chat');
void start();
