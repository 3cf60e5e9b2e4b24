import { type ExportDownload, type ExportRecord, ParleyConnectionError } from '@parley/sdk';
import type { Parley } from './api.js';

type End = Extract<ExportRecord, { type: 'end' }>;

/**
 * A JSONL export the server streamed (what `POST /v1/import` and `parley import` read back), read
 * whole and offered as a download under the name the server proposes. The key went in the
 * request's Authorization header; the link the browser follows is a blob: URL of the bytes. A
 * stream cut before its closing `end` line is an error, never a short file.
 */
async function save(d: ExportDownload, fallback: string): Promise<{ file: string; end: End }> {
  const blob = await new Response(d.body).blob();
  const lines = (await blob.text()).trimEnd().split('\n');
  const last = JSON.parse(lines[lines.length - 1] ?? '{}') as ExportRecord;
  if (last.type !== 'end') throw new ParleyConnectionError('The export stream ended without its end line: it was cut');
  const file = d.filename ?? fallback;
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = file;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return { file, end: last };
}

/** One conversation's export. */
export async function exportConversation(client: Parley, id: string): Promise<{ file: string; messages: number }> {
  const { file, end } = await save(await client.exports.conversation(id, { format: 'jsonl' }), `parley-${id}.jsonl`);
  return { file, messages: end.messages };
}

/** The export an erase job with export_first wrote before erasing (served until it expires). */
export async function downloadEraseExport(client: Parley, jobId: string): Promise<{ file: string; end: End }> {
  return save(await client.exports.eraseExport(jobId), `erase-${jobId}.jsonl`);
}
