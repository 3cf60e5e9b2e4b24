import type { Config } from '../config.js';
import { seedData } from '../seed/run.js';
import { withStore } from './local-admin.js';
import { fail } from './output.js';
import { startProgress } from './progress.js';

export interface SeedDataOptions {
  workspaces?: string;
  conversations?: string;
  messages?: string;
  seed?: string;
  json?: boolean;
}

/** `parley seed-data`: fills the database with generated data; a progress bar on a terminal. */
export async function seedDataCommand(config: Config, values: SeedDataOptions): Promise<void> {
  const whole = (name: string, raw: string | undefined, def: number): number => {
    if (raw === undefined) return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive whole number`);
    return n;
  };
  const opts = {
    workspaces: whole('workspaces', values.workspaces, 10),
    conversations: whole('conversations', values.conversations, 100_000),
    messages: whole('messages', values.messages, 1_000_000),
    seed: whole('seed', values.seed, 1),
    now: Date.UTC(2026, 10, 1),
  };
  await withStore(config, async (store) => {
    const bar = startProgress({ unit: 'messages', total: opts.messages, enabled: !values.json });
    let report: Awaited<ReturnType<typeof seedData>>;
    try {
      report = await seedData(store, opts, { onProgress: (done, total) => bar.update(done, total) });
    } finally {
      bar.stop();
    }
    process.stdout.write(
      `${values.json ? JSON.stringify(report) : `seeded ${report.workspaces} workspaces, ${report.conversations.toLocaleString('en')} conversations, ${report.messages.toLocaleString('en')} messages, ${report.toolInvocations.toLocaleString('en')} tool invocations in ${report.seconds.toFixed(1)} s (${Math.round(report.messages / report.seconds).toLocaleString('en')} messages/s); largest workspace ${report.largestWorkspace.id} with ${report.largestWorkspace.conversations.toLocaleString('en')} conversations`}\n`,
    );
  });
}
