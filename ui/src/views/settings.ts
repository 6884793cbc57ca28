// Settings: connection (profile, relays, expected measurements, trust roots), the agent and its
// sandbox, appearance, the history's protection, and about.

import { api, errorText, type Settings, type SettingsView as View } from '../api';
import { clear, h } from '../dom';
import { newPassphraseProblem } from '../passphrase';

export interface SettingsHost {
  saved(settings: Settings): void;
  error(message: string): void;
}

function field(label: string, control: HTMLElement, help?: string): HTMLElement {
  const id = `f-${label.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  control.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, help ? h('p', { class: 'help' }, help) : null);
}

function select(options: [string, string][], value: string): HTMLSelectElement {
  const s = h('select', {}, ...options.map(([v, l]) => h('option', { value: v }, l)));
  s.value = value;
  return s;
}

function number(value: number, min: number, max: number): HTMLInputElement {
  return h('input', { type: 'number', min: String(min), max: String(max), value: String(value) });
}

export class SettingsPage {
  readonly el: HTMLElement;
  private readonly body: HTMLElement;
  private readonly status: HTMLElement;

  constructor(private readonly host: SettingsHost) {
    this.body = h('div', { class: 'settings-body' });
    this.status = h('p', { class: 'save-status', role: 'status' });
    this.el = h('section', { class: 'view settings-view', 'aria-label': 'Settings' },
      h('header', { class: 'view-header' }, h('h1', {}, 'Settings')), this.body);
  }

  async load(): Promise<void> {
    try {
      const [view, about] = await Promise.all([api.getSettings(), api.about()]);
      this.render(view, about);
    } catch (e) {
      clear(this.body);
      this.body.append(h('p', { class: 'refusal' }, errorText(e)));
    }
  }

  private render(view: View, about: Awaited<ReturnType<typeof api.about>>): void {
    const s = view.settings;
    const profileKind = select([['local', 'Local stack (this computer, development enclave)'], ['opengradient', 'OpenGradient network (TEE proxies to model providers)'], ['custom', 'Custom profile file']], s.profile.kind);
    const profilePath = h('input', { type: 'text', placeholder: '/path/to/profile.toml', value: s.profile.kind === 'custom' ? s.profile.path : '' });
    const relays = h('textarea', { rows: 2, placeholder: view.profile?.relays.join('\n') ?? '' }, s.relays.join('\n'));
    const pcrs = h('textarea', { rows: 3, class: 'mono', placeholder: 'N=HEX, one per line' }, Object.entries(s.expected_pcrs).map(([i, v]) => `${i}=${v}`).join('\n'));
    const writes = select([['ask', 'Ask me before each write'], ['allow', 'Allow writes in the workspace'], ['deny', 'Never write (read-only workspace)']], view.writes);
    const deadline = number(s.sandbox.deadline_s, 1, 3600);
    const memory = number(s.sandbox.memory_mb, 16, 16384);
    const output = number(s.sandbox.output_mb, 1, 1024);
    const steps = number(s.sandbox.max_steps, 1, 200);
    const disk = number(s.sandbox.disk_mb ?? 1024, 16, 65536);
    const theme = select([['system', 'Follow the system'], ['light', 'Light'], ['dark', 'Dark']], s.theme);
    const coalesce = select([['0', 'Off: each word as soon as it is ready'], ['50', 'Every 50 ms'], ['100', 'Every 100 ms'], ['250', 'Every 250 ms'], ['500', 'Every 500 ms']], String(s.coalesce_ms ?? 0));
    const profileFacts = view.profile
      ? h('dl', { class: 'facts' },
          h('dt', {}, 'Profile'), h('dd', {}, `${view.profile.name} (${view.profile.enclave_kind} enclave)`),
          h('dt', {}, 'Relays'), h('dd', {}, view.profile.relays.join(', ')),
          h('dt', {}, 'Trust roots'), h('dd', {}, ...view.profile.trust_roots.map((r) => h('code', { class: 'block' }, r))),
          h('dt', {}, 'Expected measurements'), h('dd', {}, ...Object.entries(view.profile.expected_pcrs).map(([i, v]) => h('code', { class: 'block hash' }, `PCR${i} = ${v}`))))
      : h('p', { class: 'refusal' }, view.profile_error ?? 'The profile could not be read.');

    const save = async () => {
      const next: Settings = {
        ...s,
        profile: profileKind.value === 'custom' ? { kind: 'custom', path: profilePath.value.trim() } : profileKind.value === 'opengradient' ? { kind: 'opengradient' } : { kind: 'local' },
        relays: relays.value.split('\n').map((l) => l.trim()).filter(Boolean),
        expected_pcrs: {},
        sandbox: { deadline_s: +deadline.value, memory_mb: +memory.value, output_mb: +output.value, max_steps: +steps.value, disk_mb: +disk.value },
        theme: theme.value as Settings['theme'],
        coalesce_ms: +coalesce.value,
      };
      for (const line of pcrs.value.split('\n').map((l) => l.trim()).filter(Boolean)) {
        const [i, v] = line.split('=', 2);
        if (!/^\d+$/.test(i?.trim() ?? '') || !v) {
          this.status.textContent = `“${line}” is not N=HEX; nothing was saved.`;
          this.status.className = 'save-status bad';
          return;
        }
        next.expected_pcrs[i.trim()] = v.trim();
      }
      try {
        await api.saveSettings(next, writes.value);
        this.status.textContent = 'Saved. The next request checks the enclave against these settings.';
        this.status.className = 'save-status ok';
        this.host.saved(next);
        await this.load();
      } catch (e) {
        this.status.textContent = `Not saved: ${errorText(e)}`;
        this.status.className = 'save-status bad';
      }
    };

    clear(this.body);
    this.body.append(
      h('section', { class: 'card' }, h('h2', {}, 'Connection'),
        field('Profile', profileKind), field('Profile file', profilePath, 'Used when “Custom profile file” is chosen: relays, the enclave kind, trust roots and expected measurements.'),
        profileFacts,
        field('Relays', relays, 'One URL per line, tried in order. Empty: the profile’s relays.'),
        field('Expected measurements', pcrs, 'Replace the profile’s expected PCR values (N=HEX, one per line). A reply from an enclave that does not match is refused.'),
        field('Send replies in bursts', coalesce, 'Every reply piece is already padded, so the relay cannot tell words apart by size. Bursts also hide when each word was written, at the cost of up to this delay per burst. Sotto’s enclaves only.')),
      this.opengradientCard(),
      h('section', { class: 'card' }, h('h2', {}, 'Local agent'),
        field('Writes to the workspace', writes),
        h('div', { class: 'grid' },
          field('Time per Python run (s)', deadline), field('Memory (MB)', memory), field('Output per run (MB)', output), field('Disk per run (MB)', disk), field('Steps per task', steps))),
      h('section', { class: 'card' }, h('h2', {}, 'Appearance'), field('Theme', theme)),
      h('div', { class: 'row end' }, this.status, h('button', { type: 'button', class: 'primary', onclick: () => void save() }, 'Save settings')),
      this.historyCard(view),
      h('section', { class: 'card about' }, h('h2', {}, 'About'),
        h('p', {}, `Sotto ${about.version}. Data folder: `, h('code', {}, about.home)),
        h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Component'), h('th', {}, 'Version'), h('th', {}, 'Licence'))),
          h('tbody', {}, ...about.components.map(([n, v, l]) => h('tr', {}, h('td', {}, n), h('td', {}, v), h('td', {}, l)))))),
    );
  }

  /** OpenGradient's relay wants an OpenGradient Chat session: log in through the browser. */
  private opengradientCard(): HTMLElement {
    const status = h('p', { class: 'save-status', role: 'status' }, 'Needed only for the OpenGradient network: its relay asks for your OpenGradient Chat account.');
    const login = async () => {
      status.textContent = 'Waiting for the authorisation in your browser…';
      status.className = 'save-status';
      try {
        status.textContent = await api.opengradientLogin();
        status.className = 'save-status ok';
      } catch (e) {
        status.textContent = `Not logged in: ${errorText(e)}`;
        status.className = 'save-status bad';
      }
    };
    return h('section', { class: 'card' }, h('h2', {}, 'OpenGradient'),
      status,
      h('div', { class: 'row end' }, h('button', { type: 'button', onclick: () => void login() }, 'Log in to OpenGradient')));
  }

  /** Every stored reply checked again, offline; the ones that did not pass are listed. */
  private recheckAll(): HTMLElement {
    const status = h('p', { class: 'save-status', role: 'status' });
    const list = h('ul', { class: 'recheck-list' });
    const button = h('button', { type: 'button' }, 'Check every reply again');
    button.addEventListener('click', () => {
      button.disabled = true;
      status.textContent = 'Checking every stored reply, offline…';
      clear(list);
      api.recheckHistory()
        .then((checks) => {
          const good = checks.filter((c) => c.verdict === 'verified').length;
          status.textContent = `${good} of ${checks.length} replies verified again on this device.`;
          status.className = `save-status ${good === checks.length ? 'ok' : 'bad'}`;
          for (const c of checks.filter((c) => c.verdict !== 'verified')) {
            list.append(h('li', {}, h('strong', {}, `${c.conversation_title}, message ${c.message}: `), c.verdict === 'failed' ? `failed: ${c.detail}` : `cannot be checked: ${c.detail}`));
          }
        }, (e) => {
          status.textContent = `Not checked: ${errorText(e)}`;
          status.className = 'save-status bad';
        })
        .finally(() => (button.disabled = false));
    });
    return h('div', { class: 'recheck-all' }, h('div', { class: 'row end' }, status, button), list);
  }

  private historyCard(view: View): HTMLElement {
    const how = { keyring: 'Its key is kept in the system keyring.', passphrase: 'Its key is wrapped by your passphrase (Argon2id).', none: 'There is no history on this computer yet.' }[view.protection];
    const card = h('section', { class: 'card' }, h('h2', {}, 'History'), h('p', {}, `The history is encrypted on this computer (SQLCipher). ${how}`));
    if (view.protection !== 'none') card.append(this.recheckAll());
    if (view.protection !== 'passphrase') return card;
    const old = h('input', { type: 'password', autocomplete: 'current-password' });
    const next = h('input', { type: 'password', autocomplete: 'new-password' });
    const again = h('input', { type: 'password', autocomplete: 'new-password' });
    const status = h('p', { class: 'save-status', role: 'status' });
    const change = async () => {
      const weak = newPassphraseProblem(next.value, again.value);
      if (weak) {
        status.textContent = weak;
        return;
      }
      status.textContent = 'Re-encrypting the history…';
      button.disabled = true;
      try {
        await api.changePassphrase(old.value, next.value);
        status.textContent = 'Passphrase changed. The history was re-encrypted under a new key, so old copies of its key file no longer open it.';
        old.value = next.value = again.value = '';
      } catch (e) {
        status.textContent = errorText(e);
      } finally {
        button.disabled = false;
      }
    };
    const button = h('button', { type: 'button', onclick: () => void change() }, 'Change passphrase');
    card.append(field('Current passphrase', old), field('New passphrase', next), field('New passphrase again', again), h('div', { class: 'row end' }, status, button));
    return card;
  }
}
