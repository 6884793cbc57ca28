import { describe, expect, it } from 'vitest';
import { attachmentNote, composePrompt, readAttachment } from '../src/attachments';

describe('attachments', () => {
  it('sends text files and says which files are not sent and why', async () => {
    const csv = await readAttachment(new File(['region,revenue\nnorth,10\n'], 'sales.csv', { type: 'text/csv' }));
    const png = await readAttachment(new File([new Uint8Array([137, 80, 78, 71])], 'chart.png', { type: 'image/png' }));
    const pdf = await readAttachment(new File(['%PDF-1.7'], 'report.pdf', { type: 'application/pdf' }));
    expect(csv.text).toBe('region,revenue\nnorth,10\n');
    expect(png.text).toBeNull();
    const note = attachmentNote([csv, png, pdf]);
    expect(note).toContain('sales.csv (24 bytes of text)');
    expect(note).toContain('chart.png: not sent: the model on this profile reads text only, not images');
    expect(note).toContain('report.pdf: not sent');
    const prompt = composePrompt('Sum the revenue', [csv, png]);
    expect(prompt.startsWith('Sum the revenue')).toBe(true);
    expect(prompt).toContain('north,10');
    expect(prompt).not.toContain('PNG');
  });

  it('refuses binary content with a text name', async () => {
    const bin = await readAttachment(new File([new Uint8Array([0, 1, 2])], 'data.txt', { type: 'text/plain' }));
    expect(bin.text).toBeNull();
    expect(bin.why).toContain('not text');
  });
});
