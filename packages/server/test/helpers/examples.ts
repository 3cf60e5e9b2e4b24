import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * Runs a seed page's code examples as printed, with only the base URL, key and ids replaced.
 * Substitutions are literal string replacements applied to the example text.
 */
const run = promisify(execFile);
/** The examples talk to 127.0.0.1: never through a proxy the environment may name. */
const env = { ...process.env, NO_PROXY: '*', no_proxy: '*' };

export function substitute(text: string, subs: Record<string, string>): string {
  let out = text;
  for (const [from, to] of Object.entries(subs)) out = out.split(from).join(to);
  return out;
}

export interface HttpReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Runs a curl command line through sh; `-i`-style output (headers then body) is parsed. */
export async function curl(command: string): Promise<HttpReply> {
  // -s quiets the progress meter; -i (if the example lacks it) lets us see the status and headers
  const cmd = command.replace(/^curl /, 'curl -s -i ');
  const { stdout } = await run('sh', ['-c', cmd], { maxBuffer: 10_000_000, env });
  const split = stdout.indexOf('\r\n\r\n');
  const head = split === -1 ? stdout : stdout.slice(0, split);
  const body = split === -1 ? '' : stdout.slice(split + 4);
  const [statusLine, ...lines] = head.split('\r\n');
  const status = Number((statusLine ?? '').split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status, headers, body };
}

/**
 * Runs a JavaScript example as printed inside an async function (top-level await works), with a
 * captured console; `observe` is an expression appended to return what the example computed.
 */
export async function javascript(
  code: string,
  observe = 'undefined',
): Promise<{ value: unknown; logs: unknown[][]; errors: unknown[][] }> {
  const logs: unknown[][] = [];
  const errors: unknown[][] = [];
  const fakeConsole = { log: (...a: unknown[]) => logs.push(a), error: (...a: unknown[]) => errors.push(a) };
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
    ...args: string[]
  ) => (...a: unknown[]) => Promise<unknown>;
  const fn = new AsyncFunction('console', 'fetch', `${code}\n;return (${observe});`);
  const value = await fn(fakeConsole, fetch);
  return { value, logs, errors };
}

/** True when Python with `requests` is installed here (the Python examples need it). */
export async function hasPythonRequests(): Promise<boolean> {
  try {
    await run('python3', ['-c', 'import requests']);
    return true;
  } catch {
    return false;
  }
}

/** Runs a Python example as printed; rejects when it exits non-zero (an `assert` failed). */
export async function python(code: string): Promise<{ stdout: string; stderr: string }> {
  return run('python3', ['-c', code], { maxBuffer: 10_000_000, env });
}

/**
 * Runs a JavaScript example as a Node ES module in its own process, as a reader pasting it into
 * a file would: the process lives until the example's promises settle. Never rejects; the exit
 * code tells whether the example threw.
 */
export async function node(code: string): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const r = await run(process.execPath, ['--input-type=module', '-e', code], { maxBuffer: 10_000_000, env });
    return { ...r, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : 1 };
  }
}
