/**
 * The attention kernels' contract beyond values: a decode step over a cache equals the matching row of the
 * whole-sequence call, bit for bit in ref. The conformance harness (attention-conformance.ts) runs from
 * runKernelConformance, on ref, every wasm build and the 2-thread backend.
 */
import { describe, expect, it } from 'vitest';
import { refKernels } from '../../src/kernels/ref/index.js';

describe('attention: the last query of a whole sequence equals one decode step over the cache', () => {
  it('ref, bit for bit', () => {
    const B = 2, H = 2, D = 3, T = 6, C = H * D;
    const f = (n: number, c: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + c));
    const q = f(B * T * C, 1), k = f(B * T * C, 2), v = f(B * T * C, 3);
    const y = new Float32Array(B * T * C), lse = new Float32Array(B * H * T);
    refKernels.attentionForward({ B, H, Tq: T, Tk: T, D, scale: 0.5 }, q, k, v, y, lse);
    const qLast = new Float32Array(B * C);
    for (let b = 0; b < B; b++) qLast.set(q.subarray((b * T + T - 1) * C, (b * T + T) * C), b * C);
    const y1 = new Float32Array(B * C), lse1 = new Float32Array(B * H);
    refKernels.attentionForward({ B, H, Tq: 1, Tk: T, D, scale: 0.5 }, qLast, k, v, y1, lse1);
    for (let b = 0; b < B; b++) expect(Array.from(y1.subarray(b * C, (b + 1) * C))).toEqual(Array.from(y.subarray((b * T + T - 1) * C, (b * T + T) * C)));
  });
});
