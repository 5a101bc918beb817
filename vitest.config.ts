import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // CLI tests run bin/tokens.js, which loads dist/: build it once, fresh, before any test.
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: keep child-process-heavy files from starving each other's timing.
    maxWorkers: 2,
  },
});
