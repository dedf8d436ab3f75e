/**
 * The WKV kernels' contract beyond values: the forward pass's saved states are the states before steps
 * 0, 16, 32, … (so a backend may implement forward alone and use ref's backward). The conformance harness
 * (wkv-conformance.ts) runs from runKernelConformance, on ref and every wasm build.
 */
import { describe, expect, it } from 'vitest';
import { refKernels } from '../../src/kernels/ref/index.js';
import { WKV_CHECKPOINT_EVERY, wkvSavedSizes, type WkvShape } from '../../src/kernels/types.js';

describe('WKV saved states are checkpoints every 16 steps', () => {
  for (const version of [6, 7] as const) {
    it(`wkv${version}`, () => {
      const s: WkvShape = { B: 2, T: 40, H: 2, N: 3 };
      const n = s.B * s.T * s.H * s.N, ns = s.B * s.H * s.N * s.N;
      const f = (i: number, c: number) => Math.sin(i * 0.37 + c);
      const inputs = (T: number) => {
        const pick = (c: number, lo = -1, hi = 1) => Float32Array.from({ length: s.B * T * s.H * s.N }, (_, i) => {
          const b = Math.floor(i / (T * s.H * s.N)), rest = i % (T * s.H * s.N); // same values for each prefix length
          return lo + ((hi - lo) * (1 + f(b * s.T * s.H * s.N + rest, c))) / 2;
        });
        return { r: pick(1), k: pick(2), v: pick(3), w: pick(4, 0.5, 1), u: Float32Array.from({ length: s.H * s.N }, (_, i) => f(i, 5)), a: pick(6, -0.5, 0.5), b: pick(7, -0.5, 0.5) };
      };
      const run = (T: number) => {
        const sh = { ...s, T }, y = new Float32Array(s.B * T * s.H * s.N), sT = new Float32Array(ns);
        const saved = { states: new Float32Array(wkvSavedSizes(sh).states) };
        const s0 = Float32Array.from({ length: ns }, (_, i) => 0.1 * f(i, 8));
        if (version === 6) refKernels.wkv6Forward(sh, inputs(T), s0, y, sT, saved);
        else refKernels.wkv7Forward(sh, inputs(T), s0, y, sT, saved);
        return { sT, saved: saved.states };
      };
      expect(n).toBeGreaterThan(0);
      const full = run(s.T), stretches = Math.ceil(s.T / WKV_CHECKPOINT_EVERY), NN = s.N * s.N;
      for (let c = 0; c < stretches; c++) {
        const prefix = run(c * WKV_CHECKPOINT_EVERY).sT; // the state before step 16c
        for (let bh = 0; bh < s.B * s.H; bh++) {
          expect(Array.from(full.saved.subarray((bh * stretches + c) * NN, (bh * stretches + c + 1) * NN))).toEqual(Array.from(prefix.subarray(bh * NN, (bh + 1) * NN)));
        }
      }
    });
  }
});
