import { readFileSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';

/**
 * Pages of a SQLite database file that hold `needle` (its bytes, anywhere: rows, index entries,
 * free pages), with the table or index each page belongs to (`dbstat`), or 'free page'.
 */
export function pagesHolding(file: string, needle: string): Array<{ page: number; owner: string }> {
  const bytes = readFileSync(file);
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const owners = new Map(
      (db.prepare('SELECT pageno, name FROM dbstat').all() as Array<{ pageno: number; name: string }>).map((r) => [
        r.pageno,
        r.name,
      ]),
    );
    const out: Array<{ page: number; owner: string }> = [];
    for (let i = bytes.indexOf(needle); i !== -1; i = bytes.indexOf(needle, i + 1)) {
      const page = Math.floor(i / pageSize) + 1;
      out.push({ page, owner: owners.get(page) ?? 'free page' });
    }
    return out;
  } finally {
    db.close();
  }
}
