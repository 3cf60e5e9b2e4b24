import { type ExportRecord, ParleyConnectionError } from '@parley/sdk';
import type { Parley } from './api.js';

/**
 * The server's export of one conversation (JSONL: the format `POST /v1/import` and `parley import`
 * read back), fetched with the key and offered as a download under the name the server proposes.
 * A stream cut before its closing `end` line is an error, never a short file.
 */
export async function exportConversation(client: Parley, id: string): Promise<{ file: string; messages: number }> {
  const d = await client.exports.conversation(id, { format: 'jsonl' });
  const blob = await new Response(d.body).blob();
  const lines = (await blob.text()).trimEnd().split('\n');
  const last = JSON.parse(lines[lines.length - 1] ?? '{}') as ExportRecord;
  if (last.type !== 'end') throw new ParleyConnectionError('The export stream ended without its end line: it was cut');
  const file = d.filename ?? `parley-${id}.jsonl`;
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = file;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return { file, messages: last.messages };
}
