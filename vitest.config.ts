import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    conditions: ['source'],
    // The package's own name (cli/ imports 'seqlab' as users do) → the sources; without this, Vite resolves the
    // self-reference to the built dist/, which may be stale or absent.
    alias: [
      { find: /^seqlab$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
      { find: /^seqlab\/node$/, replacement: fileURLToPath(new URL('./src/node/index.ts', import.meta.url)) },
      { find: /^seqlab\/experiments$/, replacement: fileURLToPath(new URL('./src/experiments/index.ts', import.meta.url)) },
      { find: /^seqlab\/worker$/, replacement: fileURLToPath(new URL('./src/worker/index.ts', import.meta.url)) },
    ],
  },
  test: {
    testTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', './test/summary-reporter.ts'],
    // Every suite runs on the default backend (wasm where it loads); the model, golden and ONNX suites run
    // a second time on the reference backend, so both backends must match PyTorch. (Kernel-level
    // agreement of the two is test/kernels/conformance.ts; gradchecks are float64, which is always ref.)
    projects: [
      // (`include` is set per project: `extends: true` concatenates arrays with the root's.)
      {
        extends: true,
        // test/browser runs in Chromium through its own config (npm run test:browser).
        test: { name: 'default', include: ['src/**/*.test.ts', 'test/**/*.test.ts'], exclude: [...configDefaults.exclude, 'test/browser/**'] },
      },
      {
        extends: true,
        test: {
          name: 'ref',
          include: ['test/models/**/*.test.ts', 'test/golden/**/*.test.ts', 'test/onnx/**/*.test.ts', 'test/e2e/char-lm-trajectory.test.ts'],
          env: { SEQLAB_BACKEND: 'ref' },
        },
      },
    ],
  },
});
