import { defineConfig } from 'vitest/config';

// The browser tests (test/browser): Debian's Chromium through playwright-core, one file at a time.
export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
