// The LSTM streaming step's own path on the wasm backend (src/kernels/wasm/lstm-step.ts → the lstmStep export):
// `recurrentForward` with T = 1 and nothing saved takes it, with anything saved the generic binder does. The
// two must give the same bits (the step equals `forward`), on 1 and 2 threads (the job is split over blocks of
// hidden units), with resident and ordinary arrays, with a state advanced in place, and stay within the
// suite's tolerance of `ref`.
import { describe, expect, it } from 'vitest';
import { refKernels } from '../../src/kernels/ref/index.js';
import type { RecurrentShape, RecurrentWeights } from '../../src/kernels/types.js';
import { createWasmKernels, loadWasmModuleSync } from '../../src/kernels/wasm/index.js';
import { expectClose } from '../helpers.js';

const kernels = createWasmKernels(loadWasmModuleSync('relaxed-shared')!, { minGemmWork: 0, minElements: 0, threads: 2, minMacsPerThread: 1 });
await kernels.pool?.whenOnline();
const rnd = (n: number, seed: number, lo = -1, hi = 1) => Float32Array.from({ length: n }, (_, i) => lo + ((hi - lo) * (1 + Math.sin(i * 0.37 + seed * 1.7))) / 2);
/** A resident copy (in wasm memory, used in place) or the array itself. */
const place = (a: Float32Array, resident: boolean): Float32Array => {
  if (!resident) return a;
  const r = kernels.resident(a.length)!;
  r.set(a);
  return r;
};

interface Case { N: number; I: number; H: number; bias: boolean; resident: boolean }
const CASES: Case[] = [
  { N: 1, I: 128, H: 256, bias: true, resident: true }, // the W4 shape
  { N: 1, I: 13, H: 20, bias: true, resident: false }, // k not a multiple of 4; 5 blocks of units over 2 threads
  { N: 7, I: 24, H: 32, bias: true, resident: true },
  { N: 7, I: 9, H: 12, bias: false, resident: false },
  { N: 2, I: 5, H: 8, bias: true, resident: false }, // fewer blocks than… well, 2 blocks: one per thread
];

function setup(c: Case) {
  const { N, I, H } = c, GH = 4 * H, sc = 1 / Math.sqrt(H);
  const w: RecurrentWeights = {
    wih: place(rnd(GH * I, 1, -sc, sc), c.resident), whh: place(rnd(GH * H, 2, -sc, sc), c.resident),
    bih: c.bias ? place(rnd(GH, 3, -sc, sc), c.resident) : null, bhh: c.bias ? place(rnd(GH, 4, -sc, sc), c.resident) : null, whr: null,
  };
  const s: RecurrentShape = { kind: 'lstm', T: 1, N, I, H, P: H, reverse: false, lengths: null };
  return { s, w, x: rnd(N * I, 5), h0: rnd(N * H, 6, -0.5, 0.5), c0: rnd(N * H, 7, -2, 2) };
}

/** Three consecutive steps through `recurrentForward`; saved: the generic path (a backward could follow). */
function run(k: typeof kernels | typeof refKernels, c: Case, generic: boolean): Float32Array[] {
  const { s, w, x, h0, c0 } = setup(c);
  const { N, H } = c;
  const out: Float32Array[] = [];
  let h = h0, cc = c0;
  for (let t = 0; t < 3; t++) {
    const y = new Float32Array(N * H), hn = new Float32Array(N * H), cn = new Float32Array(N * H);
    const saved = generic ? { gates: new Float32Array(N * 4 * H), h: new Float32Array(N * H), c: new Float32Array(N * H), aux: new Float32Array(0) } : null;
    k.recurrentForward(s, x.map((v) => v + t * 0.1), w, h, cc, y, hn, cn, saved);
    out.push(y, hn, cn);
    h = hn; cc = cn;
  }
  return out;
}

const same = (a: Float32Array[], b: Float32Array[], what: string) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Array.from(a[i]!), `${what} ${i}`).toEqual(Array.from(b[i]!));
};

describe('LSTM streaming step (wasm lstmStep) equals the generic path and ref', () => {
  it('a worker is online (so the 2-thread runs really split)', () => expect(kernels.pool?.workersOnline).toBe(1));
  for (const c of CASES) {
    it(`N ${c.N} I ${c.I} H ${c.H}${c.bias ? '' : ' no bias'}${c.resident ? ' resident' : ''}`, () => {
      kernels.setThreads(1);
      const generic = run(kernels, c, true), fast1 = run(kernels, c, false);
      kernels.setThreads(2);
      const fast2 = run(kernels, c, false);
      same(fast1, generic, 'fast (1 thread) vs generic');
      same(fast2, generic, 'fast (2 threads) vs generic');
      const ref = run(refKernels, c, true);
      fast2.forEach((a, i) => expectClose(a, ref[i]!, 1e-5, 1e-4, `vs ref ${i}`));
    });
  }
  it('a state advanced in place (hn = h0, cn = c0) gives the same values', () => {
    for (const resident of [false, true]) {
      const c: Case = { N: 3, I: 16, H: 24, bias: true, resident };
      const { s, w, x } = setup(c);
      const { h0, c0 } = setup(c);
      const h = place(h0.slice(), resident), cc = place(c0.slice(), resident);
      const y = new Float32Array(3 * 24), hn = new Float32Array(3 * 24), cn = new Float32Array(3 * 24), y2 = new Float32Array(3 * 24);
      kernels.setThreads(2);
      kernels.recurrentForward(s, x, w, h0, c0, y, hn, cn, null);
      kernels.recurrentForward(s, x, w, h, cc, y2, h, cc, null);
      expect(Array.from(y2)).toEqual(Array.from(y));
      expect(Array.from(h)).toEqual(Array.from(hn));
      expect(Array.from(cc)).toEqual(Array.from(cn));
    }
  });
});
