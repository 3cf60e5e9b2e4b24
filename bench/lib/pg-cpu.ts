/**
 * CPU of the PostgreSQL server processes working for one database, from /proc (the server runs on
 * this machine in the bench): each client backend's title is `postgres: <cluster>: <user> <db>
 * <host>(<port>) <state>`. Autovacuum workers are left out (their work is the server's own
 * schedule, not the request's). A backend that exits between the two readings is lost to the
 * sum, so the scenarios keep their pools' connections busy or alive over a turn; where /proc is
 * not the server's (a remote server), the figure is NaN.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpuSeconds } from '../harness.js';

export type PgCpuMark = Map<number, number>;

/** The CPU seconds so far of each backend of database `db`, by pid. */
export function pgBackends(db: string): PgCpuMark {
  const out: PgCpuMark = new Map();
  const token = ` ${db} `;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!cmd.startsWith('postgres: ') || !cmd.includes(token) || cmd.includes('autovacuum')) continue;
    const s = cpuSeconds(Number(entry));
    if (Number.isFinite(s)) out.set(Number(entry), s);
  }
  return out;
}

/** CPU seconds the backends of `db` used since `mark` (a backend new since then counts from 0). */
export function pgCpuSince(db: string, mark: PgCpuMark): number {
  const now = pgBackends(db);
  if (now.size === 0 && mark.size === 0) return Number.NaN;
  let sum = 0;
  for (const [pid, s] of now) sum += s - (mark.get(pid) ?? 0);
  return sum;
}

/** The database name of a postgres:// URL, or null for another engine's. */
export function pgDatabaseName(url: string): string | null {
  if (!/^postgres(ql)?:/.test(url)) return null;
  return decodeURIComponent(new URL(url).pathname.slice(1));
}
