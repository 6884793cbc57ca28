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
}

export const MAX_ATTACHMENT_BYTES = 64 * 1024 * 1024;

function isImage(file: File): boolean {
  return file.type.startsWith('image/') || /\.(png|jpe?g|gif|webp|bmp|heic)$/i.test(file.name);
}

function base64Of(buffer: ArrayBuffer): string {
  const bytes = new Uint8Array(buffer);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function bytesOf(file: File): Promise<ArrayBuffer> {
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
    return { name: file.name, size: file.size, text: null, why: 'not sent: the model on this profile reads text only, not images' };
  }
  if (file.size > MAX_ATTACHMENT_BYTES) {
    return { name: file.name, size: file.size, text: null, why: `not sent: larger than ${formatBytes(MAX_ATTACHMENT_BYTES)}, the most Sotto reads` };
  }
  try {
    const read = await api.readAttachment(file.name, base64Of(await bytesOf(file)), password ?? null);
    return { name: file.name, size: file.size, text: read.text, part: read.part, summary: read.summary };
  } catch (e) {
    return { name: file.name, size: file.size, text: null, why: `not sent: ${errorText(e).replace(/^[^:]*: /, '')}` };
  }
}

/** The message as it is sent: the typed text, then each attached file's part. */
export function composePrompt(typed: string, attachments: Attachment[]): string {
  const parts = [typed.trim()];
  for (const a of attachments) if (a.text !== null && a.part) parts.push(a.part);
  return parts.filter(Boolean).join('\n\n');
}

/** One sentence for under the message box: what will leave this device with the message. */
export function attachmentNote(attachments: Attachment[]): string {
  if (attachments.length === 0) return '';
  const sent = attachments.filter((a) => a.text !== null);
  const kept = attachments.filter((a) => a.text === null);
  const parts: string[] = [];
  if (sent.length) parts.push(`Will be sent with your message, sealed to the enclave: ${sent.map((a) => a.summary ?? a.name).join('; ')}. Click a file to see its text.`);
  for (const a of kept) parts.push(`${a.name}: ${a.why}.`);
  return parts.join(' ');
}
