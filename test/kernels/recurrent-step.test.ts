// The streaming step `recurrentStep` (one layer, one timestep, the state advanced in place at an offset):
// on wasm the recurrentStep export for RNN, LSTM and reset-after GRU without projection and H a multiple of
// 4 (wasm/assembly/recurrent-step.ts, split over blocks of hidden units), recurrentForward with T = 1 for the
// rest. Each must give the bits of the generic whole-sequence path (recurrentForward with saved buffers, as
// in training) over the same tokens — on 1 and 2 threads, with resident and ordinary arrays — and stay within
// the suite's tolerance of `ref`, whose own step is recurrentForward over one timestep (equal bit for bit).
import { describe, expect, it } from 'vitest';
import { refKernels } from '../../src/kernels/ref/index.js';
import { GATES, recurrentSavedSizes, type RecurrentKind, type RecurrentShape, type RecurrentWeights } from '../../src/kernels/types.js';
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

interface Case { kind: RecurrentKind; N: number; I: number; H: number; P?: number; bias: boolean; resident: boolean }
const CASES: Case[] = [
  { kind: 'lstm', N: 1, I: 128, H: 256, bias: true, resident: true }, // the W4 shape
  { kind: 'lstm', N: 1, I: 13, H: 20, bias: true, resident: false }, // k not a multiple of 4; 5 blocks of units over 2 threads
  { kind: 'lstm', N: 7, I: 24, H: 32, bias: true, resident: true },
  { kind: 'lstm', N: 7, I: 9, H: 12, bias: false, resident: false },
  { kind: 'lstm', N: 2, I: 5, H: 8, bias: true, resident: false },
  { kind: 'gru', N: 1, I: 128, H: 256, bias: true, resident: true },
  { kind: 'gru', N: 7, I: 13, H: 20, bias: true, resident: false },
  { kind: 'gru', N: 3, I: 9, H: 12, bias: false, resident: true },
  { kind: 'rnn_tanh', N: 1, I: 128, H: 256, bias: true, resident: true },
  { kind: 'rnn_tanh', N: 7, I: 13, H: 20, bias: true, resident: false },
  { kind: 'rnn_relu', N: 3, I: 9, H: 12, bias: false, resident: true },
  // The generic path (recurrentForward with T = 1): reset-before GRU, H not a multiple of 4, a projected LSTM.
  { kind: 'gru_reset_before', N: 3, I: 9, H: 12, bias: true, resident: false },
  { kind: 'gru', N: 2, I: 7, H: 10, bias: true, resident: true },
  { kind: 'lstm', N: 2, I: 7, H: 12, P: 5, bias: true, resident: false },
];

const L = 3, LAYER = 1; // the state of layer 1 of a 3-layer [L, N, ·] stack: offsets, not views

function setup(c: Case) {
  const { kind, N, I, H } = c, P = c.P ?? H, GH = GATES[kind] * H, sc = 1 / Math.sqrt(H);
  const w: RecurrentWeights = {
    wih: place(rnd(GH * I, 1, -sc, sc), c.resident), whh: place(rnd(GH * P, 2, -sc, sc), c.resident),
    bih: c.bias ? place(rnd(GH, 3, -sc, sc), c.resident) : null, bhh: c.bias ? place(rnd(GH, 4, -sc, sc), c.resident) : null,
    whr: P !== H ? place(rnd(P * H, 8, -sc, sc), c.resident) : null,
  };
  const s: RecurrentShape = { kind, T: 1, N, I, H, P, reverse: false, lengths: null };
  return { s, w, P, x: rnd(N * I, 5), h0: rnd(N * P, 6, -0.5, 0.5), c0: kind === 'lstm' ? rnd(N * H, 7, -2, 2) : null };
}

/** Three tokens through the generic path: recurrentForward with saved buffers (what training runs). */
function generic(k: typeof kernels | typeof refKernels, c: Case): Float32Array[] {
  const { s, w, P, x, h0, c0 } = setup(c), { N, H } = c, z = recurrentSavedSizes(s);
  const out: Float32Array[] = [];
  let h = h0, cc = c0;
  for (let t = 0; t < 3; t++) {
    const y = new Float32Array(N * P), hn = new Float32Array(N * P), cn = cc ? new Float32Array(N * H) : null;
    const saved = { gates: new Float32Array(z.gates), h: new Float32Array(z.h), c: new Float32Array(z.c), aux: new Float32Array(z.aux) };
    k.recurrentForward(s, x.map((v) => v + t * 0.1), w, h, cc, y, hn, cn, saved);
    out.push(y, hn, cn ?? new Float32Array(0));
    h = hn; cc = cn;
  }
  return out;
}

/** Three tokens through recurrentStep, the state in place inside [L, N, ·] buffers (resident or not). */
function stepped(k: typeof kernels | typeof refKernels, c: Case): Float32Array[] {
  const { s, w, P, x, h0, c0 } = setup(c), { N, H } = c;
  const h = place(rnd(L * N * P, 9), c.resident), cc = c0 ? place(rnd(L * N * H, 10), c.resident) : null;
  h.set(h0, LAYER * N * P);
  cc?.set(c0!, LAYER * N * H);
  const hOthers = [...h.subarray(0, LAYER * N * P), ...h.subarray((LAYER + 1) * N * P)];
  const out: Float32Array[] = [];
  for (let t = 0; t < 3; t++) {
    const y = new Float32Array(N * P);
    k.recurrentStep(s, x.map((v) => v + t * 0.1), w, h, LAYER * N * P, cc, LAYER * N * H, y);
    out.push(y, h.slice(LAYER * N * P, (LAYER + 1) * N * P), cc ? cc.slice(LAYER * N * H, (LAYER + 1) * N * H) : new Float32Array(0));
  }
  // The other layers' rows were left alone.
  expect([...h.subarray(0, LAYER * N * P), ...h.subarray((LAYER + 1) * N * P)]).toEqual(hOthers);
  return out;
}

const same = (a: Float32Array[], b: Float32Array[], what: string) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Array.from(a[i]!), `${what} ${i}`).toEqual(Array.from(b[i]!));
};

describe('recurrentStep (the streaming step) equals the whole-sequence path and ref', () => {
  it('a worker is online (so the 2-thread runs really split)', () => expect(kernels.pool?.workersOnline).toBe(1));
  for (const c of CASES) {
    it(`${c.kind} N ${c.N} I ${c.I} H ${c.H}${c.P ? ` P ${c.P}` : ''}${c.bias ? '' : ' no bias'}${c.resident ? ' resident' : ''}`, () => {
      kernels.setThreads(1);
      const whole = generic(kernels, c), fast1 = stepped(kernels, c);
      kernels.setThreads(2);
      const fast2 = stepped(kernels, c);
      same(fast1, whole, 'step (1 thread) vs forward');
      same(fast2, whole, 'step (2 threads) vs forward');
      const ref = generic(refKernels, c);
      same(stepped(refKernels, c), ref, 'ref step vs ref forward');
      fast2.forEach((a, i) => expectClose(a, ref[i]!, 1e-5, 1e-4, `vs ref ${i}`));
    });
  }
});
