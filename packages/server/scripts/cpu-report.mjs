// Loaded into every test file's process when PARLEY_TEST_CPU_REPORT names a file (run-tests.mjs adds
// it to NODE_OPTIONS): at exit, appends one line — the test file, the CPU seconds of its own process,
// of the children it waited for (spawned servers, CLI runs, chromium), and its wall seconds — which
// run-tests.mjs sums up after the run. Linux only (/proc); anything else loads it and writes nothing.
import { appendFileSync, readFileSync } from 'node:fs';

const out = process.env.PARLEY_TEST_CPU_REPORT;
const file = process.argv.find((a) => a.endsWith('.test.ts'));
if (out && file) {
  const started = Date.now();
  process.on('exit', () => {
    try {
      // fields after the command name: utime, stime, cutime, cstime are the 12th to 15th (clock ticks)
      const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
      const ticks = (i) => Number(f[i]) / 100;
      const own = ticks(11) + ticks(12);
      const children = ticks(13) + ticks(14);
      const name = file.slice(file.lastIndexOf('/test/') + '/test/'.length);
      appendFileSync(
        out,
        `${name}\t${own.toFixed(2)}\t${children.toFixed(2)}\t${((Date.now() - started) / 1000).toFixed(1)}\n`,
      );
    } catch {
      // no /proc: nothing to report
    }
  });
}
