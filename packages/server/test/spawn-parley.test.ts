import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { freePort, listensOn, PortTaken, spawnParley, spawnParleyOn } from './helpers/processes.js';

/**
 * The harness's `parley serve` child is ready only when /readyz answers from that child. A port from
 * freePort() can be taken by another test's server before the child binds it; the old readiness
 * check took any 200 from the port, and a kill round then talked to a stranger (401 for its key).
 */
test('a server started on a port another process answers on is not taken for ready', async () => {
  const port = await freePort();
  // an impostor that answers /readyz 200, as another test's server would
  const impostor = http.createServer((_req, res) => res.end('{"status":"ok"}'));
  await new Promise<void>((r) => impostor.listen(port, '127.0.0.1', r));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-spawn-'));
  try {
    assert.equal(listensOn(process.pid, port), true, 'the impostor (this process) listens on the port');
    const outcome = await spawnParleyOn(port, {}, {}, dataDir).then(
      async (p) => {
        await p.stop();
        return 'taken for ready';
      },
      (err: unknown) => err,
    );
    assert.ok(outcome instanceof PortTaken, `the start on a taken port: ${String(outcome)}`);
    // spawnParley picks another port and gets a server of its own
    const proc = await spawnParley({});
    try {
      const own = Number(new URL(proc.url).port);
      assert.notEqual(own, port);
      assert.equal(listensOn(proc.child.pid as number, own), true, 'the child listens on its port');
      assert.equal(listensOn(proc.child.pid as number, port), false, "the child does not hold the impostor's port");
    } finally {
      await proc.stop();
    }
  } finally {
    impostor.closeAllConnections();
    await new Promise((r) => impostor.close(r));
    rmSync(dataDir, { recursive: true, force: true });
  }
});
