// Network activity: every request Sotto made, from the encrypted ledger — where it went, why,
// how many bytes each way, and whether it carried anything of yours (always sealed).

import { api, errorText, type NetworkRecord } from '../api';
import { clear, formatBytes, formatTime, h } from '../dom';

/** The time of day for today's requests, the date and time for older ones. */
function shortTime(ms: number): string {
  const d = new Date(ms);
  const today = d.toDateString() === new Date().toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' });
}

const PURPOSES: Record<string, string> = {
  attestation: 'Enclave attestation',
  chat: 'Chat request',
  models: 'Model list',
  image: 'Image request',
  registry: 'TEE registry look-up',
};

export class NetworkView {
  readonly el: HTMLElement;
  private readonly body: HTMLElement;
  private readonly summary: HTMLElement;
  private readonly range: HTMLSelectElement;

  constructor() {
    this.body = h('div', { class: 'network-body' });
    this.summary = h('p', { class: 'muted', role: 'status' });
    this.range = h('select', { 'aria-label': 'Time range' },
      h('option', { value: String(60 * 60 * 1000) }, 'Last hour'),
      h('option', { value: String(24 * 60 * 60 * 1000) }, 'Last 24 hours'),
      h('option', { value: String(7 * 24 * 60 * 60 * 1000) }, 'Last 7 days'),
      h('option', { value: '0' }, 'Everything'));
    this.range.value = String(24 * 60 * 60 * 1000);
    this.range.addEventListener('change', () => void this.load());
    this.el = h('section', { class: 'view network-view hidden', 'aria-label': 'Network activity' },
      h('header', { class: 'view-header' }, h('h1', {}, 'Network activity'), this.range),
      h('div', { class: 'network-scroll' },
        h('p', { class: 'network-intro' }, 'Every request Sotto made from this device. Anything of yours went sealed to an attested enclave: the relay saw only its size and your address.'),
        this.summary, this.body));
  }

  async load(): Promise<void> {
    const span = Number(this.range.value);
    try {
      const records = await api.networkActivity(span > 0 ? Date.now() - span : 0);
      this.render(records);
    } catch (e) {
      clear(this.body);
      this.summary.textContent = '';
      this.body.append(h('p', { class: 'refusal' }, errorText(e)));
    }
  }

  private render(records: NetworkRecord[]): void {
    clear(this.body);
    const sent = records.reduce((n, r) => n + r.bytes_sent, 0);
    const received = records.reduce((n, r) => n + r.bytes_received, 0);
    const sealed = records.filter((r) => r.user_content).length;
    this.summary.textContent = records.length === 0
      ? 'Nothing was sent in this time.'
      : `${records.length} requests: ${formatBytes(sent)} sent, ${formatBytes(received)} received; ${sealed} carried your messages, sealed.`;
    if (records.length === 0) return;
    const rows = [...records].reverse().map((r) => h('tr', {},
      h('td', { class: 'when', title: formatTime(r.at_ms) }, shortTime(r.at_ms)),
      h('td', {}, h('code', {}, r.host)),
      h('td', {}, PURPOSES[r.purpose] ?? r.purpose, r.user_content ? h('span', { class: 'sealed-tag', title: 'Carried your messages, sealed with HPKE to the attested enclave key' }, 'sealed') : null,
        r.credential ? h('span', { class: 'credential-tag', title: 'Carried your account token (OpenGradient) to this server, which sees it' }, 'account token') : null),
      h('td', { class: 'num' }, formatBytes(r.bytes_sent)),
      h('td', { class: 'num' }, formatBytes(r.bytes_received)),
      h('td', {}, r.status === 0 ? 'no answer' : String(r.status)),
      h('td', {}, r.conversation_id ? h('code', {}, r.conversation_id.slice(0, 8)) : '')));
    this.body.append(h('table', { class: 'network-table' },
      h('thead', {}, h('tr', {}, ...['When', 'To', 'What', 'Sent', 'Received', 'Status', 'Conversation'].map((t) => h('th', {}, t)))),
      h('tbody', {}, ...rows)));
  }
}
