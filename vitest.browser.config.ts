import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string): string => fileURLToPath(new URL(`./src/${p}`, import.meta.url));

// The browser tests (test/browser): Debian's Chromium through playwright-core, one file at a time.
export default defineConfig({
  // Node-side checks (e.g. loading the explorer's checkpoint) use the sources, as the pages do, never a stale dist/.
  resolve: {
    conditions: ['source'],
    alias: [{ find: /^seqlab$/, replacement: src('index.ts') }, { find: /^seqlab\/(node|worker|experiments)$/, replacement: src('$1/index.ts') }],
  },
  test: {
    include: ['test/browser/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
