// The `parley` command: the program, its commands, and how a failure becomes a line on stderr and an
// exit code. Operator commands (serve, migrate, seed-data, and keys/workspaces without a server) open
// the database named by PARLEY_DATABASE_URL; remote commands talk to a running server through the SDK.
import { Command, CommanderError } from 'commander';
import { registerAdmin } from './admin.js';
import { EXIT, reportError } from './output.js';
import { registerAudit } from './remote/audit.js';
import { registerConversations } from './remote/conversations.js';
import { registerErase } from './remote/erase.js';
import { registerExport } from './remote/export.js';
import { registerHolds } from './remote/holds.js';
import { registerImport } from './remote/import.js';
import { registerMessages } from './remote/messages.js';
import { registerTrash } from './remote/trash.js';
import { registerWebhooks } from './remote/webhooks.js';
import type { SeedDataOptions } from './seed-data.js';

const MORE_HELP = `
Examples:
  parley serve                                   start the server (also what \`parley\` alone does)
  parley migrate                                 apply database migrations and exit
  parley workspaces create acme                  a workspace and its first admin key (operator)
  parley keys create --name backend --scopes read:ai,write:ai
  parley keys create --instance-admin            a new instance admin key (a lost one is replaced)
  parley seed-data --conversations 1000 --messages 10000
  PARLEY_URL=http://127.0.0.1:8080 PARLEY_KEY=prl_… parley conversations search acme
  parley conversations show conv_… --json
  parley conversations delete conv_… --yes
  parley audit --action conversation.deleted --all --jsonl
  parley export --user u_42 --out u_42.jsonl         a user's conversations, whole or not at all
  parley import u_42.jsonl                           idempotent: a second run creates nothing new
  parley holds create --matter m-7 --reason "dispute 2026-114"

Operator commands read the server's configuration from PARLEY_* variables (README.md) and act on
its database directly. keys and workspaces go to a server instead when --url or PARLEY_URL is set
(--local forces the database); conversations, messages and audit always go to a server, with the
key from --key or PARLEY_KEY. So do export, import, purge, trash, holds and webhooks.

Exit codes: 0 ok; 1 the server answered with an error (or an operator command failed);
2 usage (unknown command or option, bad value); 3 cannot connect to the server; 4 the key was
refused (401) or lacks the permission (403).`;

export function buildProgram(): Command {
  const program = new Command('parley')
    .description('Parley: a conversation store for AI assistants')
    .addHelpText('after', MORE_HELP)
    .exitOverride()
    .configureOutput({
      outputError: (str, write) => write(str),
    });

  program
    .command('serve')
    .description('start the HTTP server (the default command)')
    .action(async () => {
      const [{ serve }, { operatorConfig }] = await Promise.all([import('./serve.js'), import('./local-admin.js')]);
      return serve(operatorConfig());
    });
  program
    .command('migrate')
    .description('apply database migrations and exit')
    .action(async () => {
      const [{ migrate }, { operatorConfig }] = await Promise.all([import('./migrate.js'), import('./local-admin.js')]);
      return migrate(operatorConfig());
    });
  registerAdmin(program);
  program
    .command('seed-data')
    .description('fill the database with realistic generated data (benchmarks, demos)')
    .option('--workspaces <n>', 'workspaces (default 10)')
    .option('--conversations <n>', 'conversations (default 100000)')
    .option('--messages <n>', 'messages (default 1000000)')
    .option('--seed <n>', 'random seed (default 1)')
    .option('--json', 'print the report as JSON (and no progress bar)')
    .action(async (opts: SeedDataOptions) => {
      const [{ seedDataCommand }, { operatorConfig }] = await Promise.all([
        import('./seed-data.js'),
        import('./local-admin.js'),
      ]);
      return seedDataCommand(operatorConfig(), opts);
    });
  registerConversations(program);
  registerMessages(program);
  registerAudit(program);
  registerErase(program);
  // data lifecycle: export, import, trash and purge, legal holds, webhooks
  registerExport(program);
  registerImport(program);
  registerTrash(program);
  registerHolds(program);
  registerWebhooks(program);

  // every command and group rejects what it does not know, with its own help after the error
  const strict = (cmd: Command) => {
    cmd.exitOverride().configureOutput({ outputError: (str, write) => write(str) });
    cmd.showHelpAfterError('(add --help for usage)');
    cmd.commands.forEach(strict);
  };
  program.commands.forEach(strict);
  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  // the unknown command's message names it the way the user typed it, then the whole usage
  program.on('command:*', (operands: string[]) => {
    process.stderr.write(
      `error: unknown command ${JSON.stringify(operands[0])}\n\n${program.helpInformation()}${MORE_HELP}\n`,
    );
    throw new CommanderError(EXIT.usage, 'parley.unknownCommand', 'unknown command');
  });
  try {
    await program.parseAsync(argv.length === 0 ? ['serve'] : argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      const ok = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0;
      process.exitCode = ok ? EXIT.ok : EXIT.usage;
      return;
    }
    reportError(err);
    // a failed start may leave handles open (a pool, a listener): the error is final
    process.exit(process.exitCode);
  }
}

await main(process.argv.slice(2));
