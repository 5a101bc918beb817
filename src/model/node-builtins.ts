// node:http and node:https, required rather than imported. An ES import of a built-in reads every one
// of its exports, and on current Node node:http's `WebSocket` export is a getter that loads undici
// (~17 ms) and node:assert, whose set-up of process.stderr makes a piped stderr non-blocking for
// every process sharing it (the command `exec` becomes among them).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const loadHttp = (): typeof import('node:http') => require('node:http');
export const loadHttps = (): typeof import('node:https') => require('node:https');
