/**
 * The benchmark's moving parts, kept as small registries so that engines (PostgreSQL), peers
 * (Express) and scenarios (search, deep pages, deletes) are added by appending an entry.
 */

/** Everything a scenario needs to know about the prepared data, whatever the engine. */
export interface Dataset {
  engine: string;
  databaseUrl: string;
  workspaceId: string;
  /** A read:ai key of that workspace (its own rate limit set high, so the limiter runs but never refuses). */
  apiKey: string;
  conversationIds: string[];
  conversations: number;
  messages: number;
  /** Removes the data (temp files, databases). */
  drop(): Promise<void>;
}

/** One HTTP server under test: Parley itself, or a peer doing the same work more simply. */
export interface TargetDef {
  /** Short name printed in tables, e.g. `parley`, `parley-info`, `node-http`. */
  name: string;
  kind: 'parley' | 'peer';
  /** Script forked as the server process; it answers the `ready` IPC message with its URL. */
  script: string;
  /** Passed to the script as JSON in argv[2]. */
  options: Record<string, unknown>;
}

export interface EngineDef {
  name: string;
  prepare(size: { conversations: number; quiet: boolean }): Promise<Dataset>;
  /** Parley variants and peers run against this engine's data; the first Parley one is the one judged. */
  targets(ds: Dataset): TargetDef[];
  /** Per scenario, per peer: this engine's own targets, where they differ from the scenario's. */
  ratioTargets?: Record<string, Record<string, number>>;
}

export interface RequestSpec {
  method: 'GET';
  path: string;
}

export interface ScenarioDef {
  name: string;
  description: string;
  /** Requests cycled through by every connection. */
  requests(ds: Dataset): RequestSpec[];
  /** Minimum Parley/peer median throughput ratio, per peer name. */
  targets: Record<string, number>;
  /** A scenario that sets up its own servers (not an HTTP load): run once, outside the engine loop. */
  standalone?: (opts: { quick: boolean }) => Promise<{ key: string; markdown: string; record: unknown; pass: boolean }>;
}

export interface LoadResult {
  requests: number;
  errors: number;
  /** First non-2xx status or error message seen, for diagnosis. */
  firstError: string | null;
  durationMs: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}
