import { type Config, redact } from '../config.js';
import { createParley } from '../parley.js';

/** `parley serve`: starts the HTTP server, prints the first-start banner, shuts down on SIGINT/SIGTERM. */
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
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    parley.app.log.info({ signal }, 'shutting down');
    parley.close().then(
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
