#!/usr/bin/env node
// Thin entry: everything lives in dist/, built from src/ by `npm install` (prepare). CommonJS
// (bin/package.json), so a warm call never starts the ES module loader: dist/fast.cjs answers
// `get` and `exec` from a fresh token cache itself and hands everything else to dist/main.js.
'use strict';

require('../dist/fast.cjs').run(process.argv.slice(2), require('node:path').join(__dirname, '..'));
