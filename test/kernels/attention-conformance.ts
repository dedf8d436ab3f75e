/**
 * Conformance of a backend's causal attention kernels against `ref`: y and the saved row log-sum-exps of
 * forward (`lse` is part of the contract, so a backend may implement forward alone and fall back to ref's
 * backward), and dq, dk, dv of backward from ref's lse. Head widths that are not SIMD multiples (1, 3, 5, 7,
 * 17, 33) and the usual 64, whole sequences (Tq = Tk), cache continuations (Tq < Tk), one decode step
 * (Tq = 1), batch 1, query blocks longer than a backend's tile (35, 40), and empty blocks. Outputs start
 * non-zero, so a backend that accumulates what ref writes fails. A decode step must give the bits of the
 * same row of the whole-sequence call, as on ref.
 *
 *   attentionConformance(() => myKernels)   // inside a describe block of runKernelConformance
 */
import { describe, expect, it } from 'vitest';
import { refKernels } from '../../src/kernels/ref/index.js';
import type { AttentionShape, Kernels } from '../../src/kernels/types.js';
import { Generator } from '../../src/tensor/random.js';
import { expectConform } from './conformance.js';

const TOL = { atol: 2e-5, rtol: 1e-4 };

const CASES: Omit<AttentionShape, 'scale'>[] = [
  { B: 2, H: 2, Tq: 5, Tk: 5, D: 4 },
  { B: 1, H: 1, Tq: 1, Tk: 1, D: 1 },
  { B: 2, H: 3, Tq: 3, Tk: 7, D: 5 },
  { B: 1, H: 2, Tq: 1, Tk: 33, D: 17 },
  { B: 3, H: 1, Tq: 17, Tk: 17, D: 3 },
  { B: 2, H: 2, Tq: 0, Tk: 4, D: 8 },
  { B: 1, H: 4, Tq: 0, Tk: 0, D: 2 },
  { B: 1, H: 4, Tq: 9, Tk: 9, D: 7 },
  { B: 2, H: 1, Tq: 6, Tk: 13, D: 7 },
  { B: 1, H: 3, Tq: 40, Tk: 40, D: 64 },
  { B: 2, H: 2, Tq: 35, Tk: 50, D: 33 },
  { B: 1, H: 2, Tq: 1, Tk: 70, D: 64 },
  { B: 2, H: 4, Tq: 1, Tk: 9, D: 33 },
];

export function attentionConformance(make: () => Kernels): void {
  describe('attentionForward / attentionBackward', () => {
    for (const c of CASES) {
      it(`B=${c.B} H=${c.H} Tq=${c.Tq} Tk=${c.Tk} D=${c.D}`, () => check(make(), { ...c, scale: 1 / Math.sqrt(c.D) }));
    }
    for (const D of [5, 64]) {
      it(`streaming D=${D}: each row of a whole-sequence call equals a decode step over its prefix, bit for bit`, () => checkStream(make(), D));
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
    const y = new Float32Array(nq).fill(7), lse = new Float32Array(nl).fill(7);
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
  // ds = p·(dp − Δ) cancels (to exactly 0 with one visible key): dq and dk are judged against the size of
  // the terms that cancelled, scale·|dp|·|k or q| with |dp| ≈ √D·|dy|·|v|, not against the rounding left over.
  const maxAbs = (a: Float32Array) => a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
  const dp = Math.sqrt(s.D) * maxAbs(dy) * maxAbs(v) * s.scale;
  expectConform(gb.dq, wb.dq, 'dq', { ...TOL, scale: dp * maxAbs(kk) });
  expectConform(gb.dk, wb.dk, 'dk', { ...TOL, scale: dp * maxAbs(q) });
  expectConform(gb.dv, wb.dv, 'dv');
}

/** Row i of a Tq = Tk = T call equals the Tq = 1 call over keys 0 … i, in every batch row and head. */
function checkStream(k: Kernels, D: number): void {
  const B = 2, H = 3, T = 11, C = H * D;
  const g = new Generator(500 + D);
  const rand = (n: number) => Float32Array.from({ length: n }, () => 3 * (2 * g.uniform() - 1));
  const q = rand(B * T * C), kk = rand(B * T * C), v = rand(B * T * C);
  const y = new Float32Array(B * T * C), lse = new Float32Array(B * H * T);
  k.attentionForward({ B, H, Tq: T, Tk: T, D, scale: 1 / Math.sqrt(D) }, q, kk, v, y, lse);
  for (let i = 0; i < T; i++) {
    const n = i + 1;
    const prefix = (a: Float32Array) => {
      const out = new Float32Array(B * n * C);
      for (let b = 0; b < B; b++) out.set(a.subarray(b * T * C, (b * T + n) * C), b * n * C);
      return out;
    };
    const qi = new Float32Array(B * C);
    for (let b = 0; b < B; b++) qi.set(q.subarray((b * T + i) * C, (b * T + i + 1) * C), b * C);
    const y1 = new Float32Array(B * C), lse1 = new Float32Array(B * H);
    k.attentionForward({ B, H, Tq: 1, Tk: n, D, scale: 1 / Math.sqrt(D) }, qi, prefix(kk), prefix(v), y1, lse1);
    for (let b = 0; b < B; b++) {
      expect(Array.from(y1.subarray(b * C, (b + 1) * C)), `y row ${i} batch ${b}`).toEqual(Array.from(y.subarray((b * T + i) * C, (b * T + i + 1) * C)));
      for (let h = 0; h < H; h++) expect(lse1[b * H + h], `lse row ${i}`).toBe(lse[(b * H + h) * T + i]);
    }
  }
}
