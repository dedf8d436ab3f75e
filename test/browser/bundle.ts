/** Bundle a test page from the repository's sources (not the package: bundlers.test.ts covers that). */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as esbuild from 'esbuild';

const SRC = resolve(import.meta.dirname, '../../src');

/** `entry` → `out/main.js` + `out/index.html`; `seqlab` resolves to src/index.ts, `seqlab/worker` to src/worker. */
export async function bundleFromSource(entry: string | Record<string, string>, out: string): Promise<void> {
  await esbuild.build({
    entryPoints: typeof entry === 'string' ? { main: entry } : entry,
    bundle: true, format: 'esm', outdir: out, logLevel: 'warning', sourcemap: 'inline',
    alias: { seqlab: join(SRC, 'index.ts'), 'seqlab/worker': join(SRC, 'worker/index.ts') },
  });
  writeFileSync(join(out, 'index.html'), '<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head>' +
    '<body><script type="module" src="./main.js"></script></body></html>');
}
