// The fused streaming steps split their GEMMs, LoRA products and per-(stream, head) state updates over the
// pool (wasm/assembly/step-state.ts): on 2 threads they must give the same bits as on 1, and stream i's
// result must not depend on the batch it is stepped in (the same bits as stepping it alone). Every split is
// forced here (minMacsPerThread 1); step-conformance.ts checks the values against ref.
import { describe, expect, it } from 'vitest';
import { derivedCache } from '../../src/kernels/step.js';
import { createWasmKernels, loadWasmModuleSync } from '../../src/kernels/wasm/index.js';
import { Generator } from '../../src/tensor/random.js';
import { MAMBA, MAMBA2, RWKV6, RWKV7, mamba2Weights, mambaWeights, rand, rwkv6Weights, rwkv7Weights } from './step-conformance.js';

const kernels = createWasmKernels(loadWasmModuleSync('relaxed-shared')!, { minGemmWork: 0, minElements: 0, threads: 2, minMacsPerThread: 1 });
await kernels.pool?.whenOnline();

/** Per stream, the arrays a step reads and writes: each [b, per-stream size], stream i at i · size. */
type Streams = Float32Array[];
const TOKENS = 3;

/** Stream i's rows of every array. */
const slice = (a: Streams, i: number, b: number): Streams => a.map((x) => x.slice((i * x.length) / b, ((i + 1) * x.length) / b));

/**
 * Runs `step` (one token for the b streams in `arrays`, in place) TOKENS times on 1 thread, on 2, and on
 * each stream alone (b = 1, 2 threads); all three must agree bit for bit.
 */
function check(b: number, arrays: Streams, step: (b: number, a: Streams) => void): void {
  const run = (threads: number, bsz: number, a: Streams) => {
    kernels.setThreads(threads);
    const c = a.map((x) => x.slice());
    for (let t = 0; t < TOKENS; t++) step(bsz, c);
    return c;
  };
  const one = run(1, b, arrays), two = run(2, b, arrays);
  for (let j = 0; j < one.length; j++) expect(Array.from(two[j]!), `array ${j}, 2 threads`).toEqual(Array.from(one[j]!));
  for (let i = 0; i < b; i++) {
    const alone = run(2, 1, slice(arrays, i, b)), inBatch = slice(one, i, b);
    for (let j = 0; j < alone.length; j++) expect(Array.from(alone[j]!), `stream ${i}, array ${j}, alone`).toEqual(Array.from(inBatch[j]!));
  }
}

describe('fused steps: 2 threads equal 1, and a stream in a batch equals it alone, bit for bit', () => {
  it('a worker is online', () => expect(kernels.pool?.workersOnline).toBe(1));
  for (const shape of MAMBA.filter((s) => s.b > 1)) {
    it(`mambaStep b=${shape.b} di=${shape.di} n=${shape.n}`, () => {
      const g = new Generator(7), s = { ...shape, eps: 1e-5 }, { b, d, di, n, k } = s, w = mambaWeights(g, shape, true);
      check(b, [rand(g, b * d, -2, 2), rand(g, b * di * k), rand(g, b * di * n)], (bsz, [x, conv, ssm]) =>
        kernels.mambaStep({ ...s, b: bsz }, w, derivedCache(di * n), x!, { conv: conv!, ssm: ssm! }));
    });
  }
  for (const shape of MAMBA2.filter((s) => s.b > 1)) {
    it(`mamba2Step b=${shape.b} nh=${shape.nh} hs=${shape.hs} g=${shape.g} n=${shape.n}`, () => {
      const g = new Generator(8), s = { ...shape, eps: 1e-5, normEps: 1e-5 }, { b, d, nh, hs, n, k } = s;
      const cd = nh * hs + 2 * s.g * n, w = mamba2Weights(g, shape, true);
      check(b, [rand(g, b * d, -2, 2), rand(g, b * cd * k), rand(g, b * nh * hs * n)], (bsz, [x, conv, ssm]) =>
        kernels.mamba2Step({ ...s, b: bsz }, w, derivedCache(nh), x!, { conv: conv!, ssm: ssm! }));
    });
  }
  for (const s of RWKV6.filter((q) => q.b > 1)) {
    it(`rwkv6Step b=${s.b} d=${s.d} nh=${s.nh} hs=${s.hs}`, () => {
      const g = new Generator(9), { b, d, nh, hs } = s, w = rwkv6Weights(g, s);
      check(b, [rand(g, b * d, -2, 2), rand(g, b * d), rand(g, b * nh * hs * hs, -0.5, 0.5), rand(g, b * d)], (bsz, [x, att, wkv, ffn]) =>
        kernels.rwkv6Step({ ...s, b: bsz }, w, x!, { attXPrev: att!, wkv: wkv!, ffnXPrev: ffn! }));
    });
  }
  for (const s of RWKV7.filter((q) => q.b > 1)) {
    it(`rwkv7Step b=${s.b} d=${s.d} nh=${s.nh} hs=${s.hs}${s.first ? ' (block 0)' : ''}`, () => {
      const g = new Generator(10), { b, d, nh, hs } = s, w = rwkv7Weights(g, s);
      check(b, [rand(g, b * d, -2, 2), rand(g, b * d), rand(g, b * d), rand(g, b * nh * hs * hs, -0.5, 0.5), rand(g, b * d)],
        (bsz, [x, vFirst, att, wkv, ffn]) => kernels.rwkv7Step({ ...s, b: bsz }, w, x!, vFirst!, { attXPrev: att!, wkv: wkv!, ffnXPrev: ffn! }));
    });
  }
});
