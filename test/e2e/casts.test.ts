/**
 * The model/state contract holds without casts: no `as unknown as` anywhere in src/, no `as never` in the
 * CLI, no `as Float32Array` in the wasm bindings (bind.ts's float32 guard is a real type guard). Comments
 * are ignored.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

function hits(dir: string, re: RegExp): string[] {
  return files(join(root, dir)).flatMap((f) => {
    const code = readFileSync(f, 'utf8').replace(/\/\*[^]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    return code.split('\n').flatMap((line, i) => (re.test(line) ? [`${relative(root, f)}:${i + 1}`] : []));
  });
}

it('no `as unknown as` in src/', () => {
  expect(hits('src', /\bas unknown as\b/)).toEqual([]);
});

it('no `as never` in cli/', () => {
  expect(hits('cli', /\bas never\b/)).toEqual([]);
});

it('no `as Float32Array` in the wasm kernel bindings', () => {
  expect(hits('src/kernels/wasm', /\bas Float32Array\b/)).toEqual([]);
});
