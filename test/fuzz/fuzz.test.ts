/**
 * Every registered parser (test/fuzz/parsers.ts: safetensors, checkpoint metadata, torch.save, ONNX) against a
 * few thousand seeded mutations of valid files: each case returns or throws a SeqlabError — no other
 * exception, no case over a second, no result larger than the parser's stated bound. `npm run fuzz` runs
 * the same harness for a million cases and more (README, "Fuzzing").
 */
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';
import { fuzz, registeredParsers, runCase, type Parser } from './harness.js';
import './parsers.js';

const CASES: Record<string, number> = { safetensors: 3000, 'checkpoint metadata': 3000, 'torch.save (zip + pickle)': 800, 'ONNX (protobuf + graph import)': 2000 };

describe('fuzz: every parser returns or throws one clear error', () => {
  it('the registry holds the safetensors, checkpoint, torch and ONNX readers', () => {
    expect(registeredParsers().map((p) => p.name)).toEqual(['safetensors', 'checkpoint metadata', 'torch.save (zip + pickle)', 'ONNX (protobuf + graph import)']);
  });

  for (const p of registeredParsers()) {
    it(`${p.name}: ${CASES[p.name] ?? 1000} cases, 0 crashes, none slow, none over the bound`, () => {
      const s = fuzz(p, 7, 0, CASES[p.name] ?? 1000);
      expect(s.firstCrash, JSON.stringify(s.firstCrash)).toBeUndefined();
      expect({ crashes: s.crashes, slow: s.slow, overBound: s.overBound }).toEqual({ crashes: 0, slow: 0, overBound: 0 });
      // The mutations reach both outcomes: some inputs still parse, most are refused.
      expect(s.ok).toBeGreaterThan(0);
      expect(s.errors).toBeGreaterThan(s.cases / 2);
    });
  }

  it('the harness itself tells a crash, a clean error and an allocation over the bound apart', () => {
    const base: Omit<Parser, 'parse'> = { name: 'probe', seeds: () => [new Uint8Array(4)], bound: (n) => n, boundText: 'n' };
    expect(runCase({ ...base, parse: () => { throw new TypeError('x'); } }, new Uint8Array(4)).outcome).toBe('crash');
    expect(runCase({ ...base, parse: () => { throw new sl.WeightImportError({ op: 'p' }); } }, new Uint8Array(4)).outcome).toBe('error');
    expect(runCase({ ...base, parse: () => 100 }, new Uint8Array(4)).overBound).toBe(true);
  });
});
