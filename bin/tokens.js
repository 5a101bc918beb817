#!/usr/bin/env node
// Thin entry: everything lives in the bundle built from src/ by `npm install` (prepare).
import { main } from '../dist/main.js';

const code = await main(process.argv.slice(2));
// Exit once stdout has drained, so nothing (a keep-alive socket, a stdin reader) holds us open.
process.stdout.write('', () => process.exit(code));
