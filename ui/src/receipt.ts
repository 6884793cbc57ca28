// The proof a reply carries: a badge on every reply, and the receipt panel it opens.

import type { ReplyCheck, Receipt, Status } from './api';
import { sourcesList } from './context';
import { formatBytes, formatTime, h } from './dom';

const BADGES: Record<string, { label: string; icon: string; help: string }> = {
  verified: { label: 'Verified', icon: '✓', help: 'Every chunk authenticated and the receipt signed by an attested hardware enclave verified' },
  development: { label: 'Verified · development enclave', icon: '✓', help: 'The receipt verified, but this enclave is a development one: not hardware-protected' },
  failed: { label: 'Failed check', icon: '✕', help: 'A check failed, so nothing of this reply is shown' },
  unfinished: { label: 'Unfinished · not verified', icon: '…', help: 'Stopped before the end; never verified as a whole' },
  imported: { label: 'Imported · not checked here', icon: '↧', help: 'From an archive: its receipt was not checked on this device, and it is not sent with new messages' },
  streaming: { label: 'Checking…', icon: '◌', help: 'Text is shown as each chunk authenticates; the receipt is checked at the end' },
};

export function badgeFor(status: Status | string, onOpen?: () => void): HTMLElement {
  const b = BADGES[status] ?? BADGES.streaming;
  const attrs = { class: `badge badge-${status}`, title: b.help, 'aria-label': `${b.label}. ${b.help}${onOpen ? '. Open the receipt' : ''}`, 'data-status': status };
  const content = [h('span', { class: 'badge-icon', 'aria-hidden': 'true' }, b.icon), b.label];
  return onOpen ? h('button', { type: 'button', ...attrs, onclick: onOpen }, ...content) : h('span', attrs, ...content);
}

function row(label: string, ...value: (Node | string)[]): HTMLElement {
  return h('div', { class: 'receipt-row' }, h('dt', {}, label), h('dd', {}, ...value));
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function prettyRequest(sent: string): string {
  try {
    return JSON.stringify(JSON.parse(sent), null, 2);
  } catch {
    return sent;
  }
}

/** The receipt panel's body for a verified reply. */
export function receiptPanel(r: Receipt): HTMLElement {
  const dev = r.enclave.kind === 'development' || !r.enclave.hardware_protected;
  const og = r.enclave.kind === 'opengradient-tee';
  const pcrs = Object.entries(r.measurements ?? {});
  return h(
    'section',
    { class: 'receipt', 'aria-label': 'Receipt' },
    og
      ? h('p', { class: 'receipt-note warn' },
          'Verified OpenGradient TEE: every chunk authenticated and its RSA-PSS receipt covers this request and this output. ' +
          'It is a proxy: it forwards your prompt to a third-party model provider, which sees it.')
      : null,
    h('p', { class: dev ? 'receipt-note warn' : 'receipt-note ok' },
      dev
        ? 'Verified against a development enclave on this computer. Its attestation is real but it is not hardware-protected: use it to try Sotto, not for secrets.'
        : 'Verified: the enclave proved its identity and measurements, every chunk of the reply authenticated, and its signed receipt covers exactly this request and this output.'),
    h('h3', {}, 'Enclave'),
    h('dl', {},
      row('Kind', `${r.enclave.kind}${dev ? ' (not hardware-protected)' : ' (hardware-protected)'}`),
      row('Identity', h('code', {}, r.enclave.module_id || '—')),
      r.enclave.checked ? row('Checked', r.enclave.checked) : null,
      r.enclave.tee_class ? row('What runs there', r.enclave.tee_class) : null,
      r.enclave.root_sha256 ? row('Trust root', h('code', { class: 'hash' }, r.enclave.root_sha256)) : null,
      r.enclave.attested_at_ms ? row('Attested', formatTime(r.enclave.attested_at_ms)) : null,
      row('Model', r.model || '—')),
    h('h3', {}, 'Measurements'),
    pcrs.length === 0
      ? h('p', {}, 'No measurements were checked (the profile expects none).')
      : h('ul', { class: 'pcrs' }, ...pcrs.map(([name, value]) =>
          h('li', {}, h('span', { class: 'pcr-name' }, name), h('code', { class: 'hash' }, value), h('span', { class: 'match', 'aria-label': `${name} matches the profile` }, '✓ matches the profile')))),
    h('h3', {}, 'Receipt'),
    h('dl', {},
      row('Request hash', h('code', { class: 'hash' }, r.request_hash)),
      row('Output hash', h('code', { class: 'hash' }, r.output_hash)),
      row('Signed', formatTime(r.timestamp_ms)),
      row('Signing key', h('code', {}, r.key_id)),
      r.chunks !== undefined ? row('Chunks', String(r.chunks)) : null),
    r.citations !== undefined || r.unsigned_citations
      ? h('div', { class: 'receipt-sources' },
          h('p', { class: 'muted' }, 'The enclave searched the web itself; these sources — titles, addresses and quoted text — are inside the reply the output hash covers.'),
          sourcesList(r.citations, r.unsigned_citations ?? 0))
      : null,
    h('h3', {}, 'What left this device'),
    h('dl', {},
      row('Relay', h('code', {}, r.relay || '—')),
      row('Relay host', hostOf(r.relay || '')),
      row('Size', `${formatBytes(r.request_bytes)} sealed (HPKE) to the enclave's key; the relay saw only those bytes and your network address`)),
    r.sent_request !== undefined
      ? h('details', { class: 'sent-request', open: true },
          h('summary', {}, 'The exact request, before sealing — attached files’ text included; the request hash above covers all of it'),
          h('pre', { tabindex: '0', 'aria-label': 'The exact request that was sealed and sent' }, prettyRequest(r.sent_request)))
      : null,
  );
}

/** The panel for a reply that failed a check: the reason, in plain words, and no text. */
export function failurePanel(reason: string): HTMLElement {
  return h('section', { class: 'receipt failed', 'aria-label': 'Why this reply is not shown' },
    h('p', { class: 'receipt-note bad' }, 'This reply failed a check, so none of its text is shown.'),
    h('h3', {}, 'Reason'),
    h('p', { class: 'reason' }, reason),
    h('p', {}, 'Nothing was stored but this reason. If you changed the expected measurements or the profile in Settings, check them; otherwise the server is not the enclave the profile describes.'));
}

/** A "Check again" control: runs `check` and shows its verdict in words. */
export function checkAgain(check: () => Promise<ReplyCheck>): HTMLElement {
  const result = h('p', { class: 'recheck-result', role: 'status' }, 'Checks the attestation, the key binding, the receipt’s signature and both hashes again, on this device, with no network.');
  const button = h('button', { type: 'button', class: 'recheck' }, 'Check again');
  button.addEventListener('click', () => {
    button.disabled = true;
    result.className = 'recheck-result';
    result.textContent = 'Checking…';
    check()
      .then((c) => {
        result.className = `recheck-result ${c.verdict === 'verified' ? 'ok' : 'bad'}`;
        result.textContent = `${c.verdict === 'verified' ? '✓ Verified again' : c.verdict === 'failed' ? '✕ Failed' : '– Cannot be checked'}: ${c.detail}`;
      }, (e) => {
        result.className = 'recheck-result bad';
        result.textContent = `Not checked: ${String(e)}`;
      })
      .finally(() => (button.disabled = false));
  });
  return h('section', { class: 'recheck-section' }, h('h3', {}, 'Check it again'), button, result);
}
