// Runs the built CLI (bin/tokens.js) as a child process with its own HOME, the way a user or a
// script would, and keeps every byte it printed so tests can search them for secrets.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
/** The CLI under test: the private build of this test run (global-setup.ts), else the checkout's. */
export const BIN = process.env.TOKENS_TEST_BIN ?? join(ROOT, 'bin/tokens.js');
/** The bundle directory of that build. */
export const DIST = process.env.TOKENS_TEST_DIST ?? join(ROOT, 'dist');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
  args?: string[];
}

export interface StartOptions extends RunOptions {
  /** Leave stdin open after writing `input`, for the caller to write more (child.stdin) and end. */
  keepStdinOpen?: boolean;
  /** Node's own arguments, before bin/tokens.js (`--import` a tracer). */
  nodeArgs?: string[];
}

/** A CLI run in progress (see Sandbox.start). */
export interface StartedCli {
  child: ChildProcessWithoutNullStreams;
  /** Settles when the process has exited and its streams have closed. */
  result: Promise<CliResult>;
  /** What the process has printed so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the stderr seen so far once `pattern` matches it; rejects if the process ends first. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
}

/** A temporary HOME with XDG dirs inside it, plus a record of every output seen there. */
export class Sandbox {
  readonly outputs: string[] = [];
  private constructor(readonly home: string) {}

  static async create(): Promise<Sandbox> {
    return new Sandbox(await mkdtemp(join(tmpdir(), 'tokens-test-')));
  }

  /** The environment a CLI run gets: nothing of the developer's own HOME, XDG or tokens settings. */
  baseEnv(): Record<string, string> {
    const keep = ['PATH', 'LANG', 'TERM', 'SYSTEMROOT', 'TMPDIR'];
    const env: Record<string, string> = {};
    for (const name of keep) if (process.env[name]) env[name] = process.env[name]!;
    return { ...env, HOME: this.home, NO_COLOR: '1', TOKENS_HTTP_TIMEOUT: '5' };
  }

  run(args: string[], options: RunOptions = {}): Promise<CliResult> {
    const env: Record<string, string> = { ...this.baseEnv() };
    for (const [k, v] of Object.entries(options.env ?? {})) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    return runNode([BIN, ...args], env, options).then((result) => {
      this.outputs.push(result.stdout, result.stderr);
      return result;
    });
  }

  /**
   * Starts the CLI without waiting for it (a login that blocks until the browser comes back). Its
   * outputs are recorded in `outputs` once it exits, like run's.
   */
  start(args: string[], options: StartOptions = {}): StartedCli {
    const env: Record<string, string> = { ...this.baseEnv() };
    for (const [k, v] of Object.entries(options.env ?? {})) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    // Default stdio: three pipes.
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), BIN, ...args], { env });
    let stdout = '';
    let stderr = '';
    let exited = false;
    const watchers = new Set<() => void>();
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      for (const w of watchers) w();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    const result = new Promise<CliResult>((resolvePromise, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        exited = true;
        for (const w of watchers) w();
        this.outputs.push(stdout, stderr);
        resolvePromise({ code, signal, stdout, stderr });
      });
    });
    result.catch(() => undefined);
    child.stdin.on('error', () => undefined);
    if (options.input !== undefined) child.stdin.write(options.input);
    if (!options.keepStdinOpen) child.stdin.end();
    const waitForStderr = (pattern: RegExp, timeoutMs = 15_000) =>
      new Promise<RegExpExecArray>((resolvePromise, reject) => {
        const check = () => {
          const m = pattern.exec(stderr);
          if (m) done(() => resolvePromise(m));
          else if (exited)
            done(() => reject(new Error(`the CLI exited before printing ${pattern}; stderr: ${stderr}`)));
        };
        const t = setTimeout(
          () => done(() => reject(new Error(`timed out waiting for ${pattern} on stderr: ${stderr}`))),
          timeoutMs,
        );
        const done = (settle: () => void) => {
          clearTimeout(t);
          watchers.delete(check);
          settle();
        };
        watchers.add(check);
        check();
      });
    return { child, result, stdout: () => stdout, stderr: () => stderr, waitForStderr };
  }

  /** Every file under HOME, as bytes. */
  async files(): Promise<Array<{ path: string; bytes: Buffer }>> {
    const out: Array<{ path: string; bytes: Buffer }> = [];
    const walk = async (dir: string) => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (entry.isFile()) out.push({ path, bytes: await readFile(path) });
      }
    };
    await walk(this.home);
    return out;
  }

  /**
   * Where any of the secrets appears in outputs or files. `allowed` are outputs in which a value
   * may legitimately appear (the token `get` was asked for).
   */
  async findSecrets(secrets: string[], allowed: string[] = []): Promise<string[]> {
    const hits: string[] = [];
    const needles = secrets
      .filter((s) => s.length >= 6)
      .flatMap((s) => [s, Buffer.from(s).toString('base64'), encodeURIComponent(s)]);
    this.outputs.forEach((text, i) => {
      if (allowed.includes(text)) return;
      for (const n of needles) if (text.includes(n)) hits.push(`output #${i} contains ${n.slice(0, 4)}…`);
    });
    for (const file of await this.files()) {
      for (const n of needles)
        if (file.bytes.includes(Buffer.from(n))) hits.push(`${file.path} contains ${n.slice(0, 4)}…`);
    }
    return hits;
  }

  async dispose(): Promise<void> {
    await rm(this.home, { recursive: true, force: true });
  }
}

export function runNode(argv: string[], env: Record<string, string>, options: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, argv, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}
