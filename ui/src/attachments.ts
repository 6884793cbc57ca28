// Attachments: every file is read by Sotto's sandboxed reader (PDF, Word, Excel, OpenDocument,
// CSV, JSON, HTML, Markdown, text), never parsed in the app; its text goes with the message,
// sealed like the rest of it, and the note says exactly what will leave this device first.

import { api, errorText } from './api';
import { formatBytes } from './dom';

export interface Attachment {
  name: string;
  size: number;
  /** The text that will be sent, or null when the file will not be sent. */
  text: string | null;
  /** Exactly what goes into the message for it. */
  part?: string;
  /** One line: kind, pages or sheets, characters, whether it was cut. */
  summary?: string;
  why?: string;
  /** An image's bytes (base64): sent as an image part when the chosen model reads images. */
  image?: string;
}

const BLIND = 'not sent: the chosen model reads text only, not images';

export const MAX_ATTACHMENT_BYTES = 64 * 1024 * 1024;

function isImage(file: File): boolean {
  return file.type.startsWith('image/') || /\.(png|jpe?g|gif|webp|bmp|heic)$/i.test(file.name);
}

export function base64Of(buffer: ArrayBuffer): string {
  const bytes = new Uint8Array(buffer);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function bytesOf(file: File): Promise<ArrayBuffer> {
  if (typeof file.arrayBuffer === 'function') return file.arrayBuffer();
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result as ArrayBuffer);
    reader.onerror = () => reject(new Error(`${file.name} could not be read`));
    reader.readAsArrayBuffer(file);
  });
}

export async function readAttachment(file: File, password?: string): Promise<Attachment> {
  if (isImage(file)) {
    if (file.size > 20 * 1024 * 1024) return { name: file.name, size: file.size, text: null, why: 'not sent: images are sent up to 20 MB' };
    return { name: file.name, size: file.size, text: null, image: base64Of(await bytesOf(file)), why: BLIND };
  }
  if (file.size > MAX_ATTACHMENT_BYTES) {
    return { name: file.name, size: file.size, text: null, why: `not sent: larger than ${formatBytes(MAX_ATTACHMENT_BYTES)}, the most Sotto reads` };
  }
  try {
    const read = await api.readAttachment(file.name, base64Of(await bytesOf(file)), password ?? null);
    return { name: file.name, size: file.size, text: read.text, part: read.part, summary: read.summary };
  } catch (e) {
    const why = errorText(e).replace(/^[^:]*: /, '');
    // An encrypted PDF: ask for its password once (it opens the file here and is kept nowhere).
    if (password === undefined && why.includes('give its password')) {
      const typed = window.prompt(`${file.name} is protected by a password. Type it to read the file on this device (the password is not sent or stored):`);
      if (typed) return readAttachment(file, typed);
    }
    return { name: file.name, size: file.size, text: null, why: `not sent: ${why}` };
  }
}

/** The images that go with the message: only to a model that reads images. */
export function imagesToSend(attachments: Attachment[], modelSeesImages: boolean): string[] {
  return modelSeesImages ? attachments.flatMap((a) => (a.image ? [a.image] : [])) : [];
}

/** The message as it is sent: the typed text, then each attached file's part. */
export function composePrompt(typed: string, attachments: Attachment[]): string {
  const parts = [typed.trim()];
  for (const a of attachments) if (a.text !== null && a.part) parts.push(a.part);
  return parts.filter(Boolean).join('\n\n');
}

/** One sentence for under the message box: what will leave this device with the message. */
export function attachmentNote(attachments: Attachment[], modelSeesImages = false): string {
  if (attachments.length === 0) return '';
  const goes = (a: Attachment) => a.text !== null || (a.image !== undefined && modelSeesImages);
  const sent = attachments.filter(goes);
  const kept = attachments.filter((a) => !goes(a));
  const described = (a: Attachment) => a.summary ?? `${a.name} (image, ${formatBytes(a.size)}; the model reads images)`;
  const parts: string[] = [];
  if (sent.length) parts.push(`Will be sent with your message, sealed to the enclave: ${sent.map(described).join('; ')}. Click a file to see what it adds.`);
  for (const a of kept) parts.push(`${a.name}: ${a.why}.`);
  return parts.join(' ');
}
