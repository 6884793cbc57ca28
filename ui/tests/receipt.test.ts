import { describe, expect, it } from 'vitest';
import type { Receipt } from '../src/api';
import { badgeFor, failurePanel, receiptPanel } from '../src/receipt';

const receipt: Receipt = {
  enclave: { kind: 'development', hardware_protected: false, module_id: 'sotto-dev-enclave', root_sha256: 'ab'.repeat(32), attested_at_ms: 1_700_000_000_000 },
  measurements: { PCR0: '11'.repeat(48), PCR2: '22'.repeat(48) },
  request_hash: 'cd'.repeat(32),
  output_hash: 'ef'.repeat(32),
  timestamp_ms: 1_700_000_001_000,
  chunks: 3,
  key_id: 'receipt-key-1',
  model: 'scripted',
  relay: 'http://127.0.0.1:8181',
  request_bytes: 1234,
  sent_request: '{"messages":[{"role":"user","content":"hello"}],"stream":true}',
};

function text(el: HTMLElement) {
  return el.textContent ?? '';
}

describe('receipt panel', () => {
  it('shows the enclave, each measurement and that it matches, hashes, time and the relay', () => {
    const p = receiptPanel(receipt);
    const t = text(p);
    expect(t).toContain('sotto-dev-enclave');
    expect(t).toContain('not hardware-protected');
    expect(p.querySelectorAll('.pcrs li')).toHaveLength(2);
    expect(p.querySelector('[aria-label="PCR0 matches the profile"]')).not.toBeNull();
    expect(t).toContain('11'.repeat(48));
    expect(t).toContain('cd'.repeat(32));
    expect(t).toContain('ef'.repeat(32));
    expect(t).toContain(new Date(1_700_000_001_000).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }));
    expect(t).toContain('http://127.0.0.1:8181');
  });

  it('says what was checked about an OpenGradient TEE and that it forwards the prompt to a provider', () => {
    const og: Receipt = { ...receipt, enclave: { kind: 'opengradient-tee', hardware_protected: false, module_id: 'http://tee', checked: 'keys from the registry (not checked here)', tee_class: 'CPU TEE proxy: forwards the prompt to a third-party model provider' } };
    const t = text(receiptPanel(og));
    expect(t).toContain('Verified OpenGradient TEE');
    expect(t).toContain('keys from the registry');
    expect(t).toContain('third-party model provider');
    expect(text(receiptPanel(receipt))).not.toContain('OpenGradient');
  });

  it('says what left this device: size, relay host and the exact request', () => {
    const p = receiptPanel(receipt);
    expect(text(p)).toContain('1.2 KB sealed');
    expect(text(p)).toContain('127.0.0.1:8181');
    const pre = p.querySelector('.sent-request pre')!;
    expect(JSON.parse(pre.textContent!)).toEqual(JSON.parse(receipt.sent_request!));
  });

  it('does not call a hardware enclave a development one', () => {
    const p = receiptPanel({ ...receipt, enclave: { ...receipt.enclave, kind: 'nitro', hardware_protected: true } });
    expect(text(p)).toContain('(hardware-protected)');
    expect(text(p)).not.toContain('not hardware-protected');
  });

  it('a failure shows its reason and no reply text', () => {
    const p = failurePanel('PCR0 of the enclave does not match the profile');
    expect(text(p)).toContain('PCR0 of the enclave does not match the profile');
    expect(text(p)).toContain('none of its text is shown');
  });

  it('badges name the three states and open the receipt', () => {
    let opened = 0;
    const b = badgeFor('verified', () => opened++);
    expect(b.tagName).toBe('BUTTON');
    expect(b.textContent).toContain('Verified');
    (b as HTMLButtonElement).click();
    expect(opened).toBe(1);
    expect(badgeFor('development').textContent).toContain('development enclave');
    expect(badgeFor('failed').textContent).toContain('Failed check');
    expect(badgeFor('failed').getAttribute('aria-label')).toContain('nothing of this reply is shown');
  });
});
