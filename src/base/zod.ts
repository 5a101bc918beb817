// zod for our schemas, in its tree-shakeable form: zod/mini runs the same checks as classic zod
// (both are zod/v4/core underneath), but bundles to a small fraction of it; classic zod carries
// every locale and every method, about 750 KB that a cold `get` had to load and compile. Classic
// zod sets English messages on import; mini sets none, so this module does (the config errors
// quote them, and describeIssues reads them).
// Import it as a namespace (`import * as z from './zod.js'`) and use its members directly, so the
// bundler keeps only those.
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

export * from 'zod/mini';
