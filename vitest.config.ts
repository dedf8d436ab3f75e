import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    conditions: ['source'],
    // The package's own name (cli/ imports 'seqlab' as users do) → the sources; without this, Vite resolves the
    // self-reference to the built dist/, which may be stale or absent.
    alias: [
      { find: /^seqlab$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
      { find: /^seqlab\/node$/, replacement: fileURLToPath(new URL('./src/node/index.ts', import.meta.url)) },
    ],
  },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
