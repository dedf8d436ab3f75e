import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const src = (p: string): string => fileURLToPath(new URL(`../src/${p}`, import.meta.url));
// Cross-origin isolation: the headers that let the Worker's wasm threads share memory.
const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

// The explorer imports seqlab by its package name, as any app does; here the name points at the sources.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  resolve: { alias: [{ find: /^seqlab$/, replacement: src('index.ts') }, { find: /^seqlab\/worker$/, replacement: src('worker/index.ts') },
    { find: /^seqlab\/experiments$/, replacement: src('experiments/index.ts') }] },
  worker: { format: 'es' },
  server: { headers: isolation, fs: { allow: [fileURLToPath(new URL('..', import.meta.url))] } },
  preview: { headers: isolation },
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 2000 },
});
