import { describe, expect, it, vi } from 'vitest';

// The sandboxed reader lives in the app; here it is played by a stand-in that answers as the
// `read_attachment` command does.
const readAttachment = vi.fn();
vi.mock('../src/api', () => ({
  api: { readAttachment: (...args: unknown[]) => readAttachment(...args) },
  errorText: (e: unknown) => String(e),
}));

const { attachmentNote, composePrompt, readAttachment: read } = await import('../src/attachments');

describe('attachments', () => {
  it('sends what the sandboxed reader returned and says what will leave', async () => {
    readAttachment.mockResolvedValueOnce({
      kind: 'pdf', text: 'Page 1 text', chars: 11, truncated: false,
      summary: 'report.pdf: PDF, 1 page, 11 characters of text', part: 'Attached file `report.pdf` (pdf):\n\n```\nPage 1 text\n```',
    });
    const pdf = await read(new File(['%PDF-1.7 …'], 'report.pdf', { type: 'application/pdf' }));
    const [name, data, password] = readAttachment.mock.calls[0];
    expect([name, password]).toEqual(['report.pdf', null]);
    expect(new TextDecoder().decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)))).toBe('%PDF-1.7 …');
    const png = await read(new File([new Uint8Array([137, 80, 78, 71])], 'chart.png', { type: 'image/png' }));
    expect(png.text).toBeNull();
    const note = attachmentNote([pdf, png]);
    expect(note).toContain('Will be sent with your message, sealed to the enclave: report.pdf: PDF, 1 page, 11 characters of text');
    expect(note).toContain('chart.png: not sent: the chosen model reads text only, not images');
    const prompt = composePrompt('Summarise', [pdf, png]);
    expect(prompt).toBe('Summarise\n\nAttached file `report.pdf` (pdf):\n\n```\nPage 1 text\n```');
  });

  it('says why a file the reader refused is not sent', async () => {
    readAttachment.mockRejectedValueOnce('scan.pdf: the PDF has 1 page(s) but no text layer; nothing was sent');
    const scan = await read(new File(['%PDF-1.4'], 'scan.pdf'));
    expect(scan.text).toBeNull();
    expect(scan.why).toBe('not sent: the PDF has 1 page(s) but no text layer; nothing was sent');
    expect(composePrompt('Read it', [scan])).toBe('Read it');
  });
});

describe('images and passwords', () => {
  it('sends an image only to a model that reads images', async () => {
    const { imagesToSend } = await import('../src/attachments');
    const png = await read(new File([new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10])], 'photo.png', { type: 'image/png' }));
    expect(png.image).toBe(btoa(String.fromCharCode(137, 80, 78, 71, 13, 10, 26, 10)));
    expect(imagesToSend([png], false)).toEqual([]);
    expect(attachmentNote([png], false)).toContain('photo.png: not sent: the chosen model reads text only, not images');
    expect(imagesToSend([png], true)).toEqual([png.image]);
    expect(attachmentNote([png], true)).toContain('Will be sent with your message, sealed to the enclave: photo.png (image');
    expect(composePrompt('What is this?', [png])).toBe('What is this?');
  });

  it('asks once for an encrypted PDF’s password and reads it with it', async () => {
    readAttachment.mockRejectedValueOnce('locked.pdf: the PDF is encrypted: give its password to read it (nothing was sent)');
    readAttachment.mockResolvedValueOnce({ kind: 'pdf', text: 'opened', chars: 6, truncated: false, summary: 'locked.pdf: PDF', part: 'part' });
    const prompt = vi.spyOn(window, 'prompt').mockReturnValue('secret');
    const locked = await read(new File(['%PDF-1.4'], 'locked.pdf'));
    expect(prompt).toHaveBeenCalledOnce();
    expect(readAttachment.mock.calls.at(-1)?.[2]).toBe('secret');
    expect(locked.text).toBe('opened');
    prompt.mockRestore();
  });
});
