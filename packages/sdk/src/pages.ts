import type { CallOptions } from './types.js';

/** What every cursor-paged list answers. */
export interface CursorPage<T> {
  data: T[];
  meta: { next_cursor: string | null };
}

type Params = Record<string, unknown> & { cursor?: string; page?: number };

/**
 * A list call, not yet made. `for await` walks every item across pages; `.pages()` walks the
 * pages (with their `meta`, e.g. `meta.total`); `.page()` fetches one. Each next page resends the
 * same filters with the cursor: the server binds a cursor to the filters it was minted for.
 */
export class Paginated<T, P extends CursorPage<T>> implements AsyncIterable<T> {
  constructor(
    private readonly params: Params,
    private readonly opts: CallOptions,
    private readonly fetchPage: (params: Params, opts: CallOptions) => Promise<P>,
  ) {}

  /** One page: the first, or the one a `next_cursor` names. */
  page(cursor?: string): Promise<P> {
    return this.fetchPage(this.withCursor(cursor), this.opts);
  }

  async *pages(): AsyncGenerator<P, void, undefined> {
    let cursor: string | undefined = this.params.cursor;
    for (;;) {
      const p = await this.fetchPage(this.withCursor(cursor), this.opts);
      yield p;
      if (p.meta.next_cursor === null || p.meta.next_cursor === undefined) return;
      cursor = p.meta.next_cursor;
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for await (const p of this.pages()) yield* p.data;
  }

  /** Every item, in order (mind large lists). */
  async toArray(): Promise<T[]> {
    const out: T[] = [];
    for await (const item of this) out.push(item);
    return out;
  }

  private withCursor(cursor: string | undefined): Params {
    if (cursor === undefined) return this.params;
    // a cursor page has no page number: the cursor already says where it is
    const { page: _page, ...rest } = this.params;
    return { ...rest, cursor };
  }
}
