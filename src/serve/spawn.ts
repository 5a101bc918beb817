// Starting the server as a process of its own (`serve --background`, `exec --serve`): a fresh Node
// running tokens with the child environment (no withheld variable in its environ, which
// /proc/PID/environ would show for its whole life) and the withheld values it needs as JSON on fd 3.
// It answers with its ready lines on stdout; the last one is TOKENS_SERVE_URL.
import { spawn } from 'node:child_process';
import { withheldVariables } from '../providers/registry.js';
import type { Deps } from '../broker/deps.js';
import type { ProviderDescriptor } from '../model/model.js';

export type Spawned =
  | { pid: number; lines: string[]; vars: Record<string, string> }
  /** It ended before it was ready (its stderr said why): the exit code to end with. */
  | { code: number };

/** What the started server is told on its command line (the options of `tokens serve`). */
export interface ServerArguments {
  providers: readonly ProviderDescriptor[];
  profile: string;
  listen?: string | undefined;
  socket?: string | undefined;
  maxWaitSeconds: number;
  verbose: boolean;
}

const READY_LINE = /^export ([A-Z_]+)='((?:[^']|'\\'')*)'$/;

export function spawnServer(deps: Deps, options: ServerArguments, role: 'exec' | 'background'): Promise<Spawned> {
  const args = [
    'serve',
    '--profile',
    options.profile,
    '--max-wait',
    String(options.maxWaitSeconds),
    '--serve-role',
    role,
    ...options.providers.flatMap((p) => ['--provider', p.id]),
    ...(options.listen !== undefined ? ['--listen', options.listen] : []),
    ...(options.socket !== undefined ? ['--socket', options.socket] : []),
    ...(options.verbose ? ['--verbose'] : []),
  ];
  const handed: Record<string, string> = {};
  for (const name of withheldVariables(deps.providers)) {
    const value = deps.env[name];
    if (value !== undefined && value !== '') handed[name] = value;
  }
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args], {
    env: deps.childEnv,
    // exec --serve: its log lines are the user's; a detached one's only until it is ready.
    stdio: ['ignore', 'pipe', role === 'exec' ? 'inherit' : 'pipe', 'pipe'],
    detached: role === 'background',
  });
  const handover = child.stdio[3] as NodeJS.WritableStream;
  handover.on('error', () => undefined);
  handover.end(JSON.stringify(handed));
  if (role === 'background') child.stderr!.on('data', (chunk: Buffer) => deps.io.stderr.write(chunk.toString()));

  return new Promise((resolve) => {
    const lines: string[] = [];
    const vars: Record<string, string> = {};
    let buffered = '';
    let ready = false;
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      let end: number;
      while (!ready && (end = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        const m = READY_LINE.exec(line);
        if (!m) continue;
        lines.push(`${line}\n`);
        vars[m[1]!] = m[2]!.replace(/'\\''/g, "'");
        if (m[1] === 'TOKENS_SERVE_URL') {
          ready = true;
          child.stdout!.destroy();
          if (role === 'background') {
            child.stderr!.destroy();
            child.unref();
          }
          resolve({ pid: child.pid!, lines, vars });
        }
      }
    });
    child.on('error', () => !ready && resolve({ code: 5 }));
    child.on('exit', (code, signal) => {
      if (!ready) resolve({ code: code ?? (signal ? 128 : 5) });
    });
  });
}
