// Progress bars for long work (seeding, and the export, import and erase commands to come), drawn by
// cli-progress on stderr. Only for a person watching: no bar when stdout or stderr is not a
// terminal (a pipe, a file, CI) or when the output is JSON for a script.
import cliProgress from 'cli-progress';

export interface Progress {
  /** Work done so far; `total` when the estimate changed. */
  update(done: number, total?: number): void;
  /** Ends the bar (leaving its last state on screen); safe to call twice. */
  stop(): void;
}

export interface ProgressOptions {
  /** What is being counted, e.g. "messages". */
  unit: string;
  total: number;
  /** False for --json / --jsonl: never draw. */
  enabled?: boolean;
}

const SILENT: Progress = { update() {}, stop() {} };

/** Whether a bar would be drawn: a person at a terminal, not a script reading stdout. */
export function progressAllowed(): boolean {
  return process.stdout.isTTY === true && process.stderr.isTTY === true;
}

/** A bar counting `unit` toward `total`, or one that draws nothing when a bar is not wanted. */
export function startProgress(opts: ProgressOptions): Progress {
  if (opts.enabled === false || !progressAllowed()) return SILENT;
  const bar = new cliProgress.SingleBar(
    {
      format: `{bar} {percentage}% | {value}/{total} ${opts.unit} | {rate}/s | eta {eta_formatted}`,
      formatValue: (v, _o, type) => (type === 'value' || type === 'total' ? v.toLocaleString('en') : String(v)),
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 20,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = performance.now();
  bar.start(Math.max(1, opts.total), 0, { rate: '0' });
  let stopped = false;
  return {
    update(done, total) {
      if (stopped) return;
      if (total !== undefined) bar.setTotal(Math.max(1, total));
      const secs = Math.max(0.001, (performance.now() - started) / 1000);
      bar.update(done, { rate: Math.round(done / secs).toLocaleString('en') });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
