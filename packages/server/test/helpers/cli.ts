// Runs the real `parley` CLI as a child process, with a user's environment: none of the test
// runner's PARLEY_ settings, only the ones a test gives.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliArgv } from './server-command.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
/** Guards against a hung child only; nothing is asserted about time. */
const HANG_GUARD_MS = 60_000;

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('PARLEY_') && k !== 'PORT' && k !== 'HOST' && k !== 'COLUMNS') env[k] = v;
  }
  return { ...env, PARLEY_LOG_LEVEL: 'info', ...extra };
}

export function startCli(
  args: string[],
  env: Record<string, string>,
  stdin: 'ignore' | 'pipe' = 'ignore',
): ChildProcess {
  return spawn(process.execPath, [...cliArgv(), ...args], {
    cwd: REPO_ROOT,
    env: cleanEnv(env),
    stdio: [stdin, 'pipe', 'pipe'],
  });
}

/** Runs the CLI to its end; `stdin` is piped in when given (else stdin is closed). */
export function runCli(args: string[], env: Record<string, string> = {}, opts: { stdin?: string } = {}): Promise<Run> {
  const child = startCli(args, env, opts.stdin === undefined ? 'ignore' : 'pipe');
  if (opts.stdin !== undefined) child.stdin?.end(opts.stdin);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`parley ${args.join(' ')} did not exit; stdout: ${stdout} stderr: ${stderr}`));
    }, HANG_GUARD_MS);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Runs the CLI on a pseudo-terminal (util-linux `script`), so that stdin is a TTY: `answer` is
 * typed once the output shows `prompt`.
 */
export function runCliOnTerminal(
  args: string[],
  env: Record<string, string>,
  prompt: string,
  answer: string,
): Promise<Run & { prompted: boolean }> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, ...cliArgv(), ...args].map(quote).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], {
    cwd: REPO_ROOT,
    env: cleanEnv(env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let prompted = false;
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
    if (!prompted && stdout.includes(prompt)) {
      prompted = true;
      child.stdin?.write(`${answer}\n`);
    }
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`parley ${args.join(' ')} did not exit on a terminal; output: ${stdout} ${stderr}`));
    }, HANG_GUARD_MS);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr, prompted });
    });
  });
}
