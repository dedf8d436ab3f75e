/**
 * Conformance of a backend's causal attention kernels against `ref`: y and the saved row log-sum-exps of
 * forward (`lse` is part of the contract, so a backend may implement forward alone and fall back to ref's
 * backward), and dq, dk, dv of backward from ref's lse. Head widths that are not SIMD multiples (1, 3, 5, 17),
 * whole sequences (Tq = Tk), cache continuations (Tq < Tk), one decode step (Tq = 1), and empty blocks.
 *
 *   attentionConformance(() => myKernels)   // inside a describe block of runKernelConformance
 */
import { describe, it } from 'vitest';
import { refKernels } from '../../src/kernels/ref/index.js';
import type { AttentionShape, Kernels } from '../../src/kernels/types.js';
import { Generator } from '../../src/tensor/random.js';
import { expectConform } from './conformance.js';

const CASES: Omit<AttentionShape, 'scale'>[] = [
  { B: 2, H: 2, Tq: 5, Tk: 5, D: 4 },
  { B: 1, H: 1, Tq: 1, Tk: 1, D: 1 },
  { B: 2, H: 3, Tq: 3, Tk: 7, D: 5 },
  { B: 1, H: 2, Tq: 1, Tk: 33, D: 17 },
  { B: 3, H: 1, Tq: 17, Tk: 17, D: 3 },
  { B: 2, H: 2, Tq: 0, Tk: 4, D: 8 },
  { B: 1, H: 4, Tq: 0, Tk: 0, D: 2 },
];

export function attentionConformance(make: () => Kernels): void {
  describe('attentionForward / attentionBackward', () => {
    for (const c of CASES) {
      it(`B=${c.B} H=${c.H} Tq=${c.Tq} Tk=${c.Tk} D=${c.D}`, () => check(make(), { ...c, scale: 1 / Math.sqrt(c.D) }));
    }
  });
}

function check(k: Kernels, s: AttentionShape): void {
  const g = new Generator(s.B * 1000 + s.Tk * 10 + s.D);
  const rand = (n: number) => Float32Array.from({ length: n }, () => 2 * g.uniform() - 1);
  const C = s.H * s.D, nq = s.B * s.Tq * C, nk = s.B * s.Tk * C, nl = s.B * s.H * s.Tq;
  // Scaled-up inputs so the softmax is far from uniform.
  const q = rand(nq).map((x) => 3 * x), kk = rand(nk).map((x) => 3 * x), v = rand(nk), dy = rand(nq);
  const fwd = (kern: Kernels) => {
    const y = new Float32Array(nq), lse = new Float32Array(nl);
    kern.attentionForward(s, q, kk, v, y, lse);
    return { y, lse };
  };
  const want = fwd(refKernels), got = fwd(k);
  expectConform(got.y, want.y, 'y');
  expectConform(got.lse, want.lse, 'lse');
  const bwd = (kern: Kernels) => {
    // Garbage in the outputs: backward must overwrite, not accumulate.
    const d = { dq: new Float32Array(nq).fill(7), dk: new Float32Array(nk).fill(7), dv: new Float32Array(nk).fill(7) };
    kern.attentionBackward(s, q, kk, v, want.lse, dy, d.dq, d.dk, d.dv);
    return d;
  };
  const wb = bwd(refKernels), gb = bwd(k);
  expectConform(gb.dq, wb.dq, 'dq');
  expectConform(gb.dk, wb.dk, 'dk');
  expectConform(gb.dv, wb.dv, 'dv');
}
