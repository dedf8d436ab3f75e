/**
 * The module graph of src/ has no cycles — type-only imports included, since a type loop between two files
 * is still two files that cannot be understood (or moved) one without the other. Found by Tarjan's
 * strongly-connected components over every relative `import … from` / `export … from` in src/.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../../src/', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

/** Relative specifiers of every static import/export-from in a file (comments stripped first). */
function specifiers(text: string): string[] {
  const code = text.replace(/\/\*[^]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const re = /(?:^|;|\n)\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]/g;
  return [...code.matchAll(re)].map((m) => m[1]!);
}

function resolveSpec(from: string, spec: string): string | null {
  const base = resolve(dirname(from), spec);
  for (const c of [base.replace(/\.js$/, '.ts'), `${base}.ts`, join(base, 'index.ts')]) if (existsSync(c) && statSync(c).isFile()) return c;
  return null;
}

/** Strongly-connected components with more than one node, or a node importing itself. */
export function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>(), low = new Map<string, number>(), onStack = new Set<string>(), stack: string[] = [];
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next); low.set(v, next); next++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do { w = stack.pop()!; onStack.delete(w); scc.push(w); } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe('import graph of src/', () => {
  it('the cycle finder finds a two-file loop, a self-import and a three-file ring, and nothing in a tree', () => {
    const g = new Map<string, string[]>([['a', ['b']], ['b', ['a', 'c']], ['c', []], ['s', ['s']], ['x', ['y']], ['y', ['z']], ['z', ['x']]]);
    expect(cycles(g)).toEqual([['a', 'b'], ['s'], ['x', 'y', 'z']]);
    expect(cycles(new Map([['a', ['b', 'c']], ['b', ['c']], ['c', []]]))).toEqual([]);
  });

  it('the parser sees imports, type imports and re-exports, not commented-out ones', () => {
    const text = "import { a } from './a.js';\nimport type { B } from '../b.js';\nexport * as c from './c.js';\nexport { d } from './d.js';\n// import { e } from './e.js';\nimport 'node:fs';\n";
    expect(specifiers(text)).toEqual(['./a.js', '../b.js', './c.js', './d.js']);
  });

  it('has no import cycles, and models/ imports nothing from the layers above it', () => {
    const graph = new Map<string, string[]>();
    const unresolved: string[] = [];
    for (const f of files(src)) {
      const deps: string[] = [];
      for (const s of specifiers(readFileSync(f, 'utf8'))) {
        const r = resolveSpec(f, s);
        if (r === null) unresolved.push(`${relative(src, f)} → ${s}`);
        else deps.push(relative(src, r));
      }
      graph.set(relative(src, f), deps);
    }
    expect(graph.size).toBeGreaterThan(50);
    expect(unresolved.filter((u) => !u.includes('/generated/'))).toEqual([]);
    expect(cycles(graph)).toEqual([]);
    const upward = [...graph].flatMap(([f, deps]) => (f.startsWith('models/') ? deps.filter((d) => !/^(models|nn|ops|kernels|autograd|tensor)\//.test(d)).map((d) => `${f} → ${d}`) : []));
    expect(upward).toEqual([]);
  });
});
