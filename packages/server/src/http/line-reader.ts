import { ParleyError } from '../errors.js';

export type ReadLine = { line: number; text: string } | { line: number; error: 'too_long' | 'not_utf8' };

const NEWLINE = 0x0a;

/**
 * The lines of a byte stream, one at a time, as the stream is read: a line is never held beyond
 * `maxLineBytes` (the rest of a longer one is skipped and the line reported), the body never
 * beyond `maxBytes` (past it the read stops with 413 payload_too_large). Each line is decoded as
 * strict UTF-8 (an invalid sequence is reported, never replaced); a trailing CR, a leading BOM and
 * blank lines are dropped. Reading pauses while the consumer works, so the sender is slowed down
 * rather than the body buffered.
 */
export async function* readLines(
  source: AsyncIterable<Buffer | Uint8Array | string>,
  opts: { maxBytes: number; maxLineBytes: number },
): AsyncGenerator<ReadLine> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let parts: Buffer[] = [];
  let partBytes = 0;
  let tooLong = false;
  let total = 0;
  let lineNo = 0;
  let first = true;

  const finish = (): ReadLine | null => {
    lineNo++;
    const wasTooLong = tooLong;
    let bytes = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, partBytes);
    parts = [];
    partBytes = 0;
    tooLong = false;
    if (wasTooLong) return { line: lineNo, error: 'too_long' };
    if (first) {
      first = false;
      if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    }
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      return { line: lineNo, error: 'not_utf8' };
    }
    return text.trim().length === 0 ? null : { line: lineNo, text };
  };
  const take = (chunk: Buffer) => {
    if (tooLong) return;
    if (partBytes + chunk.length > opts.maxLineBytes) {
      tooLong = true;
      parts = [];
      partBytes = 0;
      return;
    }
    // a copy: the source may reuse its buffers
    parts.push(Buffer.from(chunk));
    partBytes += chunk.length;
  };

  for await (const raw of source) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
    total += chunk.length;
    if (total > opts.maxBytes) {
      throw new ParleyError(
        'payload_too_large',
        `The import body is larger than the ${opts.maxBytes}-byte limit. The lines read before it may have been imported; ` +
          'importing again is safe (what exists is skipped): split the file and send the parts.',
      );
    }
    let at = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, at);
      if (nl === -1) break;
      take(chunk.subarray(at, nl));
      const done = finish();
      if (done) yield done;
      at = nl + 1;
    }
    if (at < chunk.length) take(chunk.subarray(at));
  }
  if (partBytes > 0 || tooLong) {
    const done = finish();
    if (done) yield done;
  }
}
