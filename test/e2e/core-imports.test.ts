/**
 * The core runs in browsers: nothing under src/ except src/node/ may import a Node module at run time
 * (type-only imports and `process.getBuiltinModule` probes behind a feature check are fine).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const src = fileURLToPath(new URL('../../src/', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

it('no runtime import of a Node module outside src/node', () => {
  const offenders: string[] = [];
  for (const f of files(src)) {
    const rel = relative(src, f);
    if (rel.startsWith('node/')) continue;
    const text = readFileSync(f, 'utf8');
    // static `import x from 'node:…'` / `from 'fs'` (not `import type`), and top-level require
    const re = /^\s*import\s+(?!type\b)[^'"]*from\s+['"](node:[^'"]+|fs|path|os|child_process|worker_threads)['"]/gm;
    for (const m of text.matchAll(re)) offenders.push(`${rel}: ${m[0].trim()}`);
  }
  expect(offenders).toEqual([]);
});
