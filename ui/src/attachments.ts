// Attachments: text files go with the message (as text, sealed like the rest of it); what this
// model cannot read (images, PDFs, other binaries) is listed as not sent.

import { formatBytes } from './dom';

export interface Attachment {
  name: string;
  size: number;
  /** The text that will be sent, or null when the file will not be sent. */
  text: string | null;
  why?: string;
}

const TEXT_EXTENSIONS = /\.(txt|md|markdown|csv|tsv|json|jsonl|xml|yaml|yml|toml|ini|log|py|rs|js|ts|tsx|jsx|html|css|sql|sh|c|h|cpp|java|go|rb|r)$/i;
export const MAX_ATTACHMENT_BYTES = 512 * 1024;

export async function readAttachment(file: File): Promise<Attachment> {
  const textual = file.type.startsWith('text/') || TEXT_EXTENSIONS.test(file.name) || file.type === 'application/json';
  if (!textual) {
    const kind = file.type.startsWith('image/') ? 'images' : file.type === 'application/pdf' || /\.pdf$/i.test(file.name) ? 'PDFs' : 'this kind of file';
    return { name: file.name, size: file.size, text: null, why: `not sent: the model on this profile reads text only, not ${kind}` };
  }
  if (file.size > MAX_ATTACHMENT_BYTES) {
    return { name: file.name, size: file.size, text: null, why: `not sent: larger than ${formatBytes(MAX_ATTACHMENT_BYTES)} (use the local agent for big files)` };
  }
  const text = await readText(file);
  if (text.includes('\u0000')) return { name: file.name, size: file.size, text: null, why: 'not sent: it is not text' };
  return { name: file.name, size: file.size, text };
}

/** The message as it is sent: the typed text, then each attached file's text. */
export function composePrompt(typed: string, attachments: Attachment[]): string {
  const parts = [typed.trim()];
  for (const a of attachments) {
    if (a.text === null) continue;
    parts.push(`Attached file \`${a.name}\`:\n\n\`\`\`\n${a.text.replace(/```/g, '` ` `')}\n\`\`\``);
  }
  return parts.filter(Boolean).join('\n\n');
}

/** One sentence for under the message box: what will leave this device with the message. */
export function attachmentNote(attachments: Attachment[]): string {
  if (attachments.length === 0) return '';
  const sent = attachments.filter((a) => a.text !== null);
  const kept = attachments.filter((a) => a.text === null);
  const parts: string[] = [];
  if (sent.length) parts.push(`Will be sent with your message, sealed to the enclave: ${sent.map((a) => `${a.name} (${formatBytes(new TextEncoder().encode(a.text ?? '').length)} of text)`).join(', ')}.`);
  for (const a of kept) parts.push(`${a.name}: ${a.why}.`);
  return parts.join(' ');
}

function readText(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result ?? ''));
    reader.onerror = () => reject(new Error(`${file.name} could not be read`));
    reader.readAsText(file);
  });
}
