import http from 'node:http';

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/**
 * A real HTTP receiver on 127.0.0.1: records every POST and answers what `respond` says
 * (a status, or 'hang' to never answer until closed).
 */
export class Receiver {
  readonly got: Received[] = [];
  respond: (r: Received, n: number) => number | 'hang' = () => 204;
  private readonly server: http.Server;
  private readonly hung: http.ServerResponse[] = [];
  url = '';

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
        this.got.push(r);
        const answer = this.respond(r, this.got.length);
        if (answer === 'hang') {
          this.hung.push(res);
          return;
        }
        res.writeHead(answer).end();
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const addr = this.server.address();
    if (typeof addr !== 'object' || addr === null) throw new Error('no address');
    this.url = `http://127.0.0.1:${addr.port}/hook`;
    return this;
  }

  /** Bodies received, parsed. */
  events(): Array<{ id: string; type: string; data: any }> {
    return this.got.map((r) => JSON.parse(r.body));
  }

  async close(): Promise<void> {
    for (const res of this.hung) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Waits until `cond` holds (polling), or fails with `what`. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
