// node:http and node:https, loaded by process.getBuiltinModule (documented since Node 22.3) rather
// than imported. An ES import of a built-in reads every one of its exports, and on current Node
// node:http's `WebSocket` export is a getter that loads undici (~17 ms) and node:assert, whose set-up
// of process.stderr makes a piped stderr non-blocking for every process sharing it (the command
// `exec` becomes among them). The same call works in the CommonJS bundle (dist/fast.cjs, which
// starts `tokens serve`) and in the ES modules of the full program.
export const loadHttp = (): typeof import('node:http') => process.getBuiltinModule('node:http');
export const loadHttps = (): typeof import('node:https') => process.getBuiltinModule('node:https');
