// The sequence kernels split over independent (sequence, head) blocks: 2 threads must give the same bits
// as 1, at sizes where the job really is split (several blocks per thread, a tail stretch, N not a
// multiple of 4). The conformance suite on the 2-thread backend (wasm.test.ts) checks values against ref.
import { describe, expect, it } from 'vitest';
import { createWasmKernels, loadWasmModuleSync } from '../../src/kernels/wasm/index.js';
import { wkvSavedSizes, type AttentionShape, type SelectiveScanShape, type WkvShape } from '../../src/kernels/types.js';

const kernels = createWasmKernels(loadWasmModuleSync('relaxed-shared')!, { minGemmWork: 0, minElements: 0, threads: 2, minMacsPerThread: 1 });
await kernels.pool?.whenOnline();
const rnd = (n: number, seed: number, lo = -1, hi = 1) => Float32Array.from({ length: n }, (_, i) => lo + ((hi - lo) * (1 + Math.sin(i * 0.37 + seed * 1.7))) / 2);

/** Runs `f` on 1 and then on 2 threads; each call returns its outputs, which must match bit for bit. */
function sameBits(f: () => Float32Array[]): void {
  kernels.setThreads(1);
  const one = f();
  kernels.setThreads(2);
  const two = f();
  expect(two.length).toBe(one.length);
  for (let i = 0; i < one.length; i++) expect(Array.from(two[i]!)).toEqual(Array.from(one[i]!));
}

describe('sequence kernels on 2 threads equal 1 thread bit for bit', () => {
  it('a worker is online', () => expect(kernels.pool?.workersOnline).toBe(1));
  const s: WkvShape = { B: 3, T: 37, H: 3, N: 6 };
  const n = s.B * s.T * s.H * s.N, ns = s.B * s.H * s.N * s.N;
  for (const version of [6, 7] as const) {
    it(`wkv${version} forward and backward`, () => {
      const x = version === 6
        ? { r: rnd(n, 1), k: rnd(n, 2), v: rnd(n, 3), w: rnd(n, 4, 0.5, 1), u: rnd(s.H * s.N, 5) }
        : { r: rnd(n, 1), w: rnd(n, 4, 0.5, 1), k: rnd(n, 2), v: rnd(n, 3), a: rnd(n, 6, -0.5, 0.5), b: rnd(n, 7, -0.5, 0.5) };
      const s0 = rnd(ns, 8, -0.1, 0.1), dy = rnd(n, 9), dsT = rnd(ns, 10);
      sameBits(() => {
        const y = new Float32Array(n), sT = new Float32Array(ns), saved = { states: new Float32Array(wkvSavedSizes(s).states) };
        const grads = { dr: new Float32Array(n), dw: new Float32Array(n), dk: new Float32Array(n), dv: new Float32Array(n), ds0: new Float32Array(ns) };
        if (version === 6) {
          const x6 = x as { r: Float32Array; k: Float32Array; v: Float32Array; w: Float32Array; u: Float32Array };
          const g = { ...grads, du: rnd(s.H * s.N, 11) }; // du accumulates: summed over sequences in a fixed order
          kernels.wkv6Forward(s, x6, s0, y, sT, saved);
          kernels.wkv6Backward(s, x6, saved, dy, dsT, g);
          return [y, sT, saved.states, g.dr, g.dk, g.dv, g.dw, g.du, g.ds0];
        }
        const x7 = x as { r: Float32Array; w: Float32Array; k: Float32Array; v: Float32Array; a: Float32Array; b: Float32Array };
        const g = { ...grads, da: new Float32Array(n), db: new Float32Array(n) };
        kernels.wkv7Forward(s, x7, s0, y, sT, saved);
        kernels.wkv7Backward(s, x7, saved, dy, dsT, g);
        return [y, sT, saved.states, g.dr, g.dw, g.dk, g.dv, g.da, g.db, g.ds0];
      });
    });
  }
  for (const [Tq, Tk] of [[45, 45], [7, 52]] as const) {
    it(`causal attention forward and backward (Tq ${Tq}, Tk ${Tk})`, () => {
      const s: AttentionShape = { B: 2, H: 3, Tq, Tk, D: 10, scale: 1 / Math.sqrt(10) };
      const nq = s.B * Tq * s.H * s.D, nk = s.B * Tk * s.H * s.D;
      const q = rnd(nq, 1), k = rnd(nk, 2), v = rnd(nk, 3), dy = rnd(nq, 4);
      sameBits(() => {
        const y = new Float32Array(nq), lse = new Float32Array(s.B * s.H * Tq);
        const dq = new Float32Array(nq), dk = rnd(nk, 5), dv = rnd(nk, 6); // dk, dv must be overwritten
        kernels.attentionForward(s, q, k, v, y, lse);
        kernels.attentionBackward(s, q, k, v, lse, dy, dq, dk, dv);
        return [y, lse, dq, dk, dv];
      });
    });
  }
  it('selective scan forward, split over (row, channel) blocks', () => {
    const s: SelectiveScanShape = { b: 2, t: 29, di: 7, n: 6 }; // 14 blocks: a thread's share starts mid-row
    const bt = s.b * s.t;
    const p = { x: rnd(bt * s.di, 1), delta: rnd(bt * s.di, 2, 0.01, 1), A: rnd(s.di * s.n, 3, -2, -0.1), B: rnd(bt * s.n, 4), C: rnd(bt * s.n, 5), D: rnd(s.di, 6) };
    const h0 = rnd(s.b * s.di * s.n, 7);
    sameBits(() => {
      const y = new Float32Array(bt * s.di), hT = new Float32Array(h0.length), hs = new Float32Array(bt * s.di * s.n);
      kernels.selectiveScanForward(s, p, h0, y, hT, hs);
      return [y, hT, hs];
    });
  });
});
