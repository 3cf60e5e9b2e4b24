// Progress bars for long work (seeding, export, import, and the erase command), drawn by
// cli-progress on stderr. Only for a person watching: no bar when stdout or stderr is not a
// terminal (a pipe, a file, CI) or when the output is JSON for a script.
import cliProgress from 'cli-progress';

export interface Progress {
  /** Work done so far; `total` when the estimate changed; `note` shown after the bar (e.g. bytes). */
  update(done: number, total?: number, note?: string): void;
  /** Ends the bar (leaving its last state on screen); safe to call twice. */
  stop(): void;
}

export interface ProgressOptions {
  /** What is being counted, e.g. "messages". */
  unit: string;
  total: number;
  /** False for --json / --jsonl: never draw. */
  enabled?: boolean;
  /** Stdout carries the command's data (an export to stdout): a terminal on stderr is enough. */
  stderrOnly?: boolean;
}

const SILENT: Progress = { update() {}, stop() {} };

/** Whether a bar would be drawn: a person at a terminal, not a script reading stdout. */
export function progressAllowed(stderrOnly = false): boolean {
  return (stderrOnly || process.stdout.isTTY === true) && process.stderr.isTTY === true;
}

/** A bar counting `unit` toward `total`, or one that draws nothing when a bar is not wanted. */
export function startProgress(opts: ProgressOptions): Progress {
  if (opts.enabled === false || !progressAllowed(opts.stderrOnly)) return SILENT;
  const bar = new cliProgress.SingleBar(
    {
      format: `{bar} {percentage}% | {value}/{total} ${opts.unit} | {rate}/s | eta {eta_formatted}{note}`,
      formatValue: (v, _o, type) => (type === 'value' || type === 'total' ? v.toLocaleString('en') : String(v)),
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 20,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = performance.now();
  bar.start(Math.max(1, opts.total), 0, { rate: '0', note: '' });
  let stopped = false;
  return {
    update(done, total, note) {
      if (stopped) return;
      if (total !== undefined) bar.setTotal(Math.max(1, total));
      const secs = Math.max(0.001, (performance.now() - started) / 1000);
      bar.update(done, { rate: Math.round(done / secs).toLocaleString('en'), note: note ? ` | ${note}` : '' });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
