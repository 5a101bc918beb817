// The hidden prompt, on a real terminal: `login` run in a pseudo-terminal (python3's pty module)
// must ask on the terminal, never echo what is typed, and store the secret.
import { spawn } from 'node:child_process';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ANSWERING_PTY } from '../support/pty.js';
import { BIN, Sandbox } from '../support/cli.js';
import { startProviderServer, type ProviderServer } from '../support/servers.js';

const SECRET = 'cm_typed_refresh_0f9e8d7c6b';

let server: ProviderServer;
let sandbox: Sandbox;
beforeEach(async () => {
  server = await startProviderServer({ chartmetric: { refreshTokens: [SECRET] } });
  sandbox = await Sandbox.create();
});
afterEach(async () => {
  await server.close();
  await sandbox.dispose();
});

function inTerminal(args: string[], env: Record<string, string>): Promise<{ code: number | null; screen: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', ANSWERING_PTY, SECRET, 'refresh token: ', process.execPath, BIN, ...args], {
      env,
    });
    let screen = '';
    child.stdout.on('data', (d: Buffer) => (screen += d.toString()));
    child.on('error', () => reject(new Error('python3 is needed for the terminal test (Debian: python3)')));
    child.on('close', (code) => resolve({ code, screen }));
  });
}

it('asks on the terminal with echo off, and stores what was typed', async () => {
  const env = {
    ...sandbox.baseEnv(),
    ...server.env(),
    TOKENS_STORE: 'file',
    TOKENS_PASSPHRASE: 'pty-passphrase-1',
    TERM: 'xterm',
  };
  const { code, screen } = await inTerminal(['login', 'chartmetric'], env);
  sandbox.outputs.push(screen);
  expect(screen).toContain('Chartmetric refresh token: ');
  expect(code).toBe(0);
  expect(screen).not.toContain(SECRET);
  expect(server.requests.at(-1)!.json).toEqual({ refreshtoken: SECRET });
  expect(await sandbox.findSecrets([SECRET, 'pty-passphrase-1'])).toEqual([]);
});
