import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../clock.js';

/** What an artifact file holds once written: its size and SHA-256 (hex), for the receipt. */
export interface WrittenArtifact {
  bytes: number;
  sha256: string;
}

/**
 * Files a job leaves for the administrator to download (the erase's `export_first` JSONL), kept
 * under `<dir>/<workspace id>/<job id>.jsonl` until they expire (`ttlMs` after they were written)
 * or are deleted. Outside the database on purpose: the erasure leaves nothing of the user in it,
 * and the file is the operator's to keep or delete. Ids are validated before they reach a path.
 */
export class JobArtifacts {
  constructor(
    private readonly dir: string,
    readonly ttlMs: number,
    private readonly clock: Clock,
  ) {}

  private fileOf(workspaceId: string, jobId: string): string {
    if (!/^[A-Za-z0-9_-]+$/.test(workspaceId) || !/^[A-Za-z0-9_-]+$/.test(jobId)) {
      throw new Error('artifact ids must be plain ids');
    }
    return path.join(this.dir, workspaceId, `${jobId}.jsonl`);
  }

  /**
   * Writes the artifact: `produce` hands pieces to `write`; they go to a file of this attempt
   * that is synced and then renamed over the final name, so a reader never sees half a file
   * and a runner that crashed mid-way leaves only a `.part` (removed by the sweep).
   */
  async write<T>(
    workspaceId: string,
    jobId: string,
    produce: (write: (piece: string | Uint8Array) => Promise<void>) => Promise<T>,
  ): Promise<WrittenArtifact & { value: T }> {
    const final = this.fileOf(workspaceId, jobId);
    await mkdir(path.dirname(final), { recursive: true, mode: 0o700 });
    const part = `${final}.${randomBytes(6).toString('hex')}.part`;
    const fh = await open(part, 'w', 0o600);
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      const value = await produce(async (piece) => {
        const buf = typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece;
        hash.update(buf);
        bytes += buf.length;
        await fh.write(buf);
      });
      await fh.sync();
      await fh.close();
      await rename(part, final);
      return { bytes, sha256: hash.digest('hex'), value };
    } catch (err) {
      await fh.close().catch(() => undefined);
      await rm(part, { force: true });
      throw err;
    }
  }

  /** The artifact as a stream, or null when there is none (never written, deleted or expired). */
  async open(workspaceId: string, jobId: string, expiresAt: number): Promise<ReadStream | null> {
    const file = this.fileOf(workspaceId, jobId);
    if (this.clock.now() >= expiresAt) {
      await rm(file, { force: true });
      return null;
    }
    try {
      await stat(file);
    } catch {
      return null;
    }
    return createReadStream(file);
  }

  /** Deletes the artifact; false when there was none. */
  async remove(workspaceId: string, jobId: string): Promise<boolean> {
    const file = this.fileOf(workspaceId, jobId);
    try {
      await stat(file);
    } catch {
      return false;
    }
    await rm(file, { force: true });
    return true;
  }

  /** Removes artifacts (and attempts' leftovers) older than the time to live; how many it removed. */
  async sweep(): Promise<number> {
    const cutoff = this.clock.now() - this.ttlMs;
    let removed = 0;
    let workspaces: string[];
    try {
      workspaces = await readdir(this.dir);
    } catch {
      return 0;
    }
    for (const ws of workspaces) {
      let files: string[];
      try {
        files = await readdir(path.join(this.dir, ws));
      } catch {
        continue;
      }
      for (const f of files) {
        const file = path.join(this.dir, ws, f);
        const s = await stat(file).catch(() => null);
        if (s && s.mtimeMs < cutoff) {
          await rm(file, { force: true });
          removed++;
        }
      }
    }
    return removed;
  }
}
