import { type Config, redact } from '../config.js';
import { createParley } from '../parley.js';

/**
 * `parley serve`: starts the HTTP server, prints the first-start banner. SIGINT/SIGTERM close it
 * with the configured grace (requests in flight finish, then exit 0); a second signal exits at once.
 */
export async function serve(config: Config): Promise<void> {
  const parley = await createParley(config);
  const address = await parley.start();
  if (parley.bootstrapped) {
    const { workspace, key } = parley.bootstrapped;
    process.stdout.write(
      [
        '',
        '  Parley is set up. This is the instance admin key; it is shown once and stored only as a hash:',
        '',
        `    ${key.secret}`,
        '',
        `  workspace: ${workspace.id} (default)`,
        `  try: curl -H "Authorization: Bearer ${key.secret}" ${address}/v1/conversations`,
        '',
      ].join('\n'),
    );
  }
  parley.app.log.info({ address, database: redact(config.database.url) }, 'parley listening');
  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) {
      // a second signal: the operator does not want to wait for the grace
      parley.app.log.warn({ signal }, 'second signal: exiting now');
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    closing = true;
    const graceMs = config.lifecycle.shutdownGraceMs;
    parley.app.log.info({ signal, graceMs }, 'shutting down');
    parley.close({ graceMs }).then(
      () => process.exit(0),
      (err) => {
        parley.app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}
