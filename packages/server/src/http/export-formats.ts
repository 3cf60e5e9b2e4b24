import type { AuthContext, Conversation, Message, ToolInvocation } from '../domain/types.js';
import type { ExportCounts, ExportItem, ExportService } from '../services/export.js';
import { messageJson, presentConversation, presentMessage, presentTool, toolJson } from './presenters.js';

/**
 * The three export formats as writers of text pieces, fed one record at a time (from batches of
 * at most one read's rows). Records are the native API's wire objects (the same fields
 * GET answers), so an export reads like the API and import reads it back.
 *
 * JSONL, one JSON object per line, each with a `type`:
 *   {"type":"export","format":"parley.export","version":1,"exported_at":…}   first line
 *   {"type":"conversation", …the Conversation object}                      then, per conversation:
 *   {"type":"message", …the Message object}                                 its messages, oldest first
 *   {"type":"tool_invocation", …the ToolInvocation object}                  its tool invocations, oldest first
 *   {"type":"end","conversations":n,"messages":n,"tool_invocations":n}      last line: the export is whole
 * Typed lines rather than one line per conversation with everything nested: a conversation of
 * 100,000 messages is then 100,001 short lines that both export and import handle one at a time,
 * instead of one line of hundreds of megabytes that neither could hold to parse or check.
 */
export const EXPORT_FORMAT = 'parley.export';
export const EXPORT_VERSION = 1;

export type ExportFormat = 'json' | 'jsonl' | 'markdown';

export interface FormatWriter {
  begin(exportedAt: string): string;
  conversation(c: Conversation): string;
  message(m: Message): string;
  tool(t: ToolInvocation): string;
  conversationEnd(): string;
  end(counts: ExportCounts): string;
  /** Markdown reads best with tool invocations where they happened among the messages. */
  readonly interleave: boolean;
}

const line = (o: unknown) => `${JSON.stringify(o)}\n`;

export function jsonlWriter(): FormatWriter {
  return {
    interleave: false,
    begin: (exportedAt) =>
      line({ type: 'export', format: EXPORT_FORMAT, version: EXPORT_VERSION, exported_at: exportedAt }),
    conversation: (c) => line({ type: 'conversation', ...presentConversation(c) }),
    message: (m) => `${messageJson('message', m)}\n`,
    tool: (t) => `${toolJson('tool_invocation', t)}\n`,
    conversationEnd: () => '',
    end: (counts) => line({ type: 'end', ...counts }),
  };
}

/**
 * One JSON document, written as it goes:
 * {"format":"parley.export","version":1,"exported_at":…,"conversations":[{…Conversation,
 *  "messages":[…],"tool_invocations":[…]}, …],"counts":{…}}. A cut stream is invalid JSON.
 */
export function jsonWriter(conversationsBefore = 0): FormatWriter {
  let conversations = conversationsBefore;
  let inConversation: 'messages' | 'tools' | null = null;
  let itemsInArray = 0;
  return {
    interleave: false,
    begin: (exportedAt) =>
      `{"format":"${EXPORT_FORMAT}","version":${EXPORT_VERSION},"exported_at":${JSON.stringify(exportedAt)},"conversations":[`,
    conversation(c) {
      const head = JSON.stringify(presentConversation(c)).slice(0, -1);
      const sep = conversations++ === 0 ? '\n' : ',\n';
      inConversation = 'messages';
      itemsInArray = 0;
      return `${sep}${head},"messages":[`;
    },
    message(m) {
      return `${itemsInArray++ === 0 ? '' : ','}${JSON.stringify(presentMessage(m))}`;
    },
    tool(t) {
      let out = '';
      if (inConversation === 'messages') {
        out = '],"tool_invocations":[';
        inConversation = 'tools';
        itemsInArray = 0;
      }
      return `${out}${itemsInArray++ === 0 ? '' : ','}${JSON.stringify(presentTool(t))}`;
    },
    conversationEnd() {
      const out = inConversation === 'messages' ? '],"tool_invocations":[]}' : ']}';
      inConversation = null;
      return out;
    },
    end: (counts) => `\n],"counts":${JSON.stringify(counts)}}\n`,
  };
}

/** Inline text: one line, Markdown's punctuation escaped so that a title cannot open a link or a heading. */
function inline(s: string): string {
  return s.replace(/\s+/g, ' ').replace(/[\\`*_{}[\]<>#|~!]/g, (ch) => `\\${ch}`);
}

/** A fenced block whose fence is longer than any run of backticks inside it. */
function fenced(text: string, lang = ''): string {
  const longest = Math.max(0, ...Array.from(text.matchAll(/`+/g), (m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${lang}\n${text}\n${fence}\n`;
}

/** Message text as a block quote: its own Markdown still renders, but cannot end the quote or start a heading. */
function quoted(text: string): string {
  if (text.length === 0) return '> \n';
  return `${text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((l) => (l.length === 0 ? '>' : `> ${l}`))
    .join('\n')}\n`;
}

const json = (v: unknown) => JSON.stringify(v, null, 2);

/** A transcript to read: one section per conversation, messages and tool invocations in time order. */
export function markdownWriter(): FormatWriter {
  return {
    interleave: true,
    begin: (exportedAt) => `# Parley export\n\nExported ${exportedAt}.\n`,
    conversation(c) {
      const p = presentConversation(c);
      const facts = [
        `- **id:** \`${p.id}\``,
        `- **user:** ${p.user_id === null ? '—' : inline(p.user_id)} · **bot:** ${p.bot_id === null ? '—' : inline(p.bot_id)}`,
        `- **created:** ${p.created_at} · **updated:** ${p.updated_at}${p.archived ? ' · **archived**' : ''}`,
        `- **messages:** ${p.message_count} · **tool invocations:** ${p.tool_invocation_count}`,
      ];
      const ctx = Object.keys(p.context).length > 0 ? `\n**context**\n\n${fenced(json(p.context), 'json')}` : '';
      const meta = Object.keys(p.metadata).length > 0 ? `\n**metadata**\n\n${fenced(json(p.metadata), 'json')}` : '';
      return `\n---\n\n## ${p.title === null ? '(untitled)' : inline(p.title)}\n\n${facts.join('\n')}\n${ctx}${meta}`;
    },
    message(m) {
      const meta = Object.keys(m.metadata).length > 0 ? `\n${fenced(json(m.metadata), 'json')}` : '';
      return `\n### ${m.role} · ${new Date(m.createdAt).toISOString()}\n\n<sub>${m.id}</sub>\n\n${quoted(m.content)}${meta}`;
    },
    tool(t) {
      const p = presentTool(t);
      const took = p.duration_ms === null ? '' : ` · ${p.duration_ms} ms`;
      const about = p.message_id === null ? '' : ` (for ${p.message_id})`;
      return (
        `\n### tool \`${inline(p.tool_name).replace(/`/g, "'")}\` · ${p.status}${took}\n\n<sub>${p.id}${about}</sub>\n\n` +
        `input:\n\n${fenced(json(p.input), 'json')}\noutput:\n\n${fenced(json(p.output), 'json')}`
      );
    },
    conversationEnd: () => '',
    end: (counts) =>
      `\n---\n\n${counts.conversations} conversation(s), ${counts.messages} message(s), ${counts.tool_invocations} tool invocation(s).\n`,
  };
}

export const EXPORT_MEDIA: Record<ExportFormat, { contentType: string; extension: string }> = {
  json: { contentType: 'application/json; charset=utf-8', extension: 'json' },
  jsonl: { contentType: 'application/x-ndjson; charset=utf-8', extension: 'jsonl' },
  markdown: { contentType: 'text/markdown; charset=utf-8', extension: 'md' },
};

/**
 * A writer of `format`; `conversationsBefore` says how many conversations were written before
 * this writer's first (a writer that starts mid-export: an export worker's, per batch).
 */
export function writerFor(format: ExportFormat, conversationsBefore = 0): FormatWriter {
  return format === 'json' ? jsonWriter(conversationsBefore) : format === 'jsonl' ? jsonlWriter() : markdownWriter();
}

/** Bytes are sent in chunks of at least this size: few writes, and at most this much waits per chunk. */
const CHUNK_BYTES = 64 * 1024;

/** Chunk buffers kept for reuse (ChunkBuffer with `pending`): more than a response holds in its buffers at once. */
const SPARE_CHUNKS = 8;

/**
 * The records' text encoded straight into chunk buffers, one record at a time: cheaper than
 * adding the pieces up into one long string for the stream to flatten and encode (measured:
 * ~25 % less time encoding an export of long, mostly non-Latin-1 messages).
 *
 * With `pending` (how many of the bytes handed on are still held by the consumer: the response
 * stream's and the socket's buffers), the chunks are copies into buffers that are reused once
 * the consumer has let them go, instead of a new buffer per chunk left to the garbage collector
 * (an export's ~1 GB of them would otherwise pile up to V8's external-memory limit, ~64 MB,
 * between full collections). Chunks are sent in order, so a chunk is let go once the bytes
 * handed on minus `pending()` reach its end.
 */
export class ChunkBuffer {
  private readonly buf = Buffer.allocUnsafe(2 * CHUNK_BYTES);
  private pos = 0;
  /** Chunks ready to send, in order. */
  readonly ready: Buffer[] = [];
  /** Bytes put in `ready` so far (taken or not). */
  private queued = 0;
  /** Reusable buffers handed on, each with the count of bytes queued up to its chunk's end. */
  private readonly lent: { buf: Buffer; end: number }[] = [];
  private readonly spare: Buffer[] = [];

  constructor(private readonly pending?: () => number) {}

  private push(chunk: Buffer): void {
    this.ready.push(chunk);
    this.queued += chunk.length;
  }

  add(text: string): void {
    // a UTF-16 code unit takes at most 3 bytes in UTF-8
    if (text.length * 3 > this.buf.length - this.pos) {
      this.cut();
      if (text.length * 3 > this.buf.length) {
        this.push(Buffer.from(text, 'utf8'));
        return;
      }
    }
    this.pos += this.buf.write(text, this.pos, 'utf8');
    if (this.pos >= CHUNK_BYTES) this.cut();
  }

  /**
   * Bytes already encoded (JSONL lines the database wrote). With `release`, `bytes` is the whole of
   * an ArrayBuffer nobody else holds (a BLOB better-sqlite3 handed over, or PostgreSQL's COPY value copied out): once copied it is
   * detached, which frees its memory at once instead of at V8's next full collection (an export
   * makes ~1 GB of them; left to the collector they pile up to its external-memory limit, ~64 MB).
   */
  addBytes(bytes: Uint8Array, release = false): void {
    if (bytes.length > this.buf.length - this.pos) {
      this.cut();
      if (bytes.length > this.buf.length) {
        // a chunk of its own, as it is (the response holds it until it is sent)
        this.push(release ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length) : Buffer.from(bytes));
        return;
      }
    }
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    if (release && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength)
      (bytes.buffer as ArrayBuffer).transfer(0);
    if (this.pos >= CHUNK_BYTES) this.cut();
  }

  /** Whatever is written so far becomes a chunk of its own (a copy of its size: the buffer is reused). */
  cut(): void {
    if (this.pos === 0) return;
    if (this.pending === undefined) {
      this.push(Buffer.from(this.buf.subarray(0, this.pos)));
      this.pos = 0;
      return;
    }
    // bytes the consumer has let go of: queued, less those not yet taken from `ready`, less those it holds
    let waiting = 0;
    for (const c of this.ready) waiting += c.length;
    const released = this.queued - waiting - this.pending();
    while (this.lent.length > 0 && (this.lent[0] as { end: number }).end <= released) {
      const { buf } = this.lent.shift() as { buf: Buffer };
      if (this.spare.length < SPARE_CHUNKS) this.spare.push(buf);
    }
    const into = this.spare.pop() ?? Buffer.allocUnsafeSlow(this.buf.length);
    this.buf.copy(into, 0, 0, this.pos);
    this.push(into.subarray(0, this.pos));
    this.lent.push({ buf: into, end: this.queued });
    this.pos = 0;
  }
}

/**
 * One batch of items as text into `out`; `sent` is called whenever chunks are ready, so a batch of
 * long messages is not held whole as text.
 */
export function* writeItems(batch: readonly ExportItem[], writer: FormatWriter, out: ChunkBuffer): Generator<Buffer> {
  for (const it of batch) {
    switch (it.kind) {
      case 'conversation':
        out.add(writer.conversation(it.conversation));
        break;
      case 'messages':
        for (const m of it.messages) {
          out.add(writer.message(m));
          if (out.ready.length > 0) yield* out.ready.splice(0);
        }
        break;
      case 'tools':
        for (const t of it.tools) {
          out.add(writer.tool(t));
          if (out.ready.length > 0) yield* out.ready.splice(0);
        }
        break;
      case 'lines':
        // only a JSONL export asks for them (ExportOptions.lines): messageJson / toolJson lines, written by the database
        out.addBytes(it.bytes, true);
        break;
      case 'conversation_end':
        out.add(writer.conversationEnd());
        break;
      case 'end':
        out.add(writer.end(it.counts));
        break;
    }
    if (out.ready.length > 0) yield* out.ready.splice(0);
  }
}

/**
 * The items as chunks of about CHUNK_BYTES, pulled only as fast as the response drains; with
 * `pending` (ChunkBuffer's), the chunks' buffers are reused once the response has sent them.
 */
export async function* renderExport(
  batches: AsyncIterable<ExportItem[]>,
  writer: FormatWriter,
  exportedAt: string,
  pending?: () => number,
): AsyncGenerator<Buffer, void, undefined> {
  const out = new ChunkBuffer(pending);
  out.add(writer.begin(exportedAt));
  for await (const batch of batches) yield* writeItems(batch, writer, out);
  out.cut();
  yield* out.ready.splice(0);
}

/**
 * A user's conversations (those in view) as a JSONL export — what `GET /v1/export?user_id=…`
 * answers — handed to `write` piece by piece (the erase job's `export_first` file). Audited as
 * an export by `auth`.
 */
export async function exportUserJsonl(
  exporter: ExportService,
  auth: AuthContext,
  userId: string,
  exportedAt: string,
  write: (piece: Uint8Array) => Promise<void>,
): Promise<ExportCounts> {
  const opened = await exporter.openMany(auth, { userId }, { interleave: false, format: 'jsonl', lines: true });
  let counts: ExportCounts | undefined;
  async function* tap() {
    for await (const batch of opened.items) {
      for (const it of batch) if (it.kind === 'end') counts = it.counts;
      yield batch;
    }
  }
  for await (const piece of renderExport(tap(), jsonlWriter(), exportedAt)) await write(piece);
  if (!counts) throw new Error('the export ended without its end record');
  return counts;
}
