// Helpers for the `tokens serve` suites: start the server as a user would (the built CLI, its ready
// lines on stdout), and real clients (curl, Debian's python3) to call it.
import { execFile } from 'node:child_process';
import type { StartedCli } from './cli.js';
import type { World } from './worlds.js';

/** Debian's python3, which has python3-requests, python3-httpx and jupyter (not pyenv's). */
export const PYTHON = '/usr/bin/python3';

export interface Served {
  cli: StartedCli;
  /** The variables of the ready lines: SOUNDCLOUD_API_URL, TOKENS_SERVE_URL, … */
  vars: Record<string, string>;
  /** SIGTERM, then the exit: code 0 expected. */
  stop(): Promise<number | null>;
}

/** The `export NAME='…'` lines of a ready server, parsed. */
export function readyVars(stdout: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const m of stdout.matchAll(/^export ([A-Z_]+)='((?:[^']|'\\'')*)'$/gm))
    vars[m[1]!] = m[2]!.replace(/'\\''/g, "'");
  return vars;
}

/** `tokens serve ARGS` in the world, resolved once its TOKENS_SERVE_URL line is out. */
export async function serve(
  w: World,
  args: string[] = [],
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<Served> {
  const cli = w.sandbox.start(['serve', ...args], { env: { ...w.env, ...env }, timeoutMs: 300_000, nodeArgs });
  await new Promise<void>((resolve, reject) => {
    const check = setInterval(() => {
      if (/^export TOKENS_SERVE_URL=/m.test(cli.stdout())) {
        clearInterval(check);
        resolve();
      }
    }, 10);
    cli.result.then((r) => {
      clearInterval(check);
      reject(new Error(`tokens serve ended before it was ready (${r.code}): ${r.stderr}`));
    }, reject);
  });
  return {
    cli,
    vars: readyVars(cli.stdout()),
    stop: async () => {
      cli.child.kill('SIGTERM');
      return (await cli.result).code;
    },
  };
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A program run to its end (no shell). */
export function run(file: string, args: string[], env?: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env: env ?? process.env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** curl: the body and the status (written after it by -w). */
export async function curl(url: string, extra: string[] = []): Promise<{ status: number; body: string }> {
  const r = await run('curl', ['-sS', '-o', '-', '-w', '\n%{http_code}', ...extra, url]);
  const cut = r.stdout.lastIndexOf('\n');
  return { status: Number(r.stdout.slice(cut + 1)), body: r.stdout.slice(0, cut) };
}
