/**
 * Conformance of a backend's fused streaming steps (src/kernels/step.ts) against `ref`: the residual, every
 * state and the derived cache after several consecutive tokens, for batch 1, 3, 7 and 16, widths that are not
 * SIMD multiples and ones that are, with and without the optional biases and for RWKV-7's first and later
 * blocks. A changed parameter between two tokens must be picked up (the derived cache is refreshed where its
 * source changed, never trusted blindly).
 *
 *   stepConformance(() => myKernels)   // inside a describe block of runKernelConformance
 */
import { describe, it } from 'vitest';
import { refKernels } from '../../src/kernels/ref/index.js';
import {
  derivedCache, type GptStepShape, type GptStepWeights, type Mamba2StepShape, type Mamba2StepWeights, type MambaStepShape, type MambaStepWeights, type Rwkv6StepShape,
  type Rwkv6StepWeights, type Rwkv7StepShape, type Rwkv7StepWeights,
} from '../../src/kernels/step.js';
import type { Kernels } from '../../src/kernels/types.js';
import { Generator } from '../../src/tensor/random.js';
import { expectConform } from './conformance.js';

const TOL = { atol: 1e-4, rtol: 1e-4 };
export const rand = (g: Generator, n: number, lo = -1, hi = 1): Float32Array => Float32Array.from({ length: n }, () => lo + (hi - lo) * g.uniform());
/** Two independent copies of the same values (one per backend). */
const twin = <T>(make: () => T): [T, T] => { const a = make(); return [a, structuredClone(a)]; };

export const MAMBA: Omit<MambaStepShape, 'eps'>[] = [
  { b: 1, d: 8, di: 16, n: 4, r: 1, k: 4 },
  { b: 3, d: 7, di: 13, n: 5, r: 3, k: 3 },
  { b: 7, d: 16, di: 32, n: 16, r: 2, k: 4 },
  { b: 16, d: 16, di: 32, n: 8, r: 2, k: 4 }, // batch 16: the GEMMs' and LoRA products' two-row blocks
];

export function mambaWeights(g: Generator, s: Omit<MambaStepShape, 'eps'>, bias: boolean): MambaStepWeights {
  const { d, di, n, r, k } = s, sc = (m: number) => 1 / Math.sqrt(m);
  return {
    norm: rand(g, d, 0.5, 1.5), inProj: rand(g, 2 * di * d, -sc(d), sc(d)), inProjBias: bias ? rand(g, 2 * di) : null,
    convWeight: rand(g, di * k, -0.5, 0.5), convBias: bias ? rand(g, di) : null, xProj: rand(g, (r + 2 * n) * di, -sc(di), sc(di)),
    dtProj: rand(g, di * r, -sc(r), sc(r)), dtProjBias: rand(g, di, -4, -1), ALog: rand(g, di * n, 0, 2.5), D: rand(g, di),
    outProj: rand(g, d * di, -sc(di), sc(di)), outProjBias: bias ? rand(g, d) : null,
  };
}

export function rwkv7Weights(g: Generator, s: Rwkv7StepShape): Rwkv7StepWeights {
  const { d, f, dw, da, dv, dg } = s, sc = (m: number) => 1 / Math.sqrt(m);
  const ln = () => ({ weight: rand(g, d, 0.5, 1.5), bias: rand(g, d, -0.2, 0.2) });
  const mat = (a: number, b: number) => rand(g, a * b, -sc(a), sc(a));
  return {
    ln0: s.first ? ln() : null, ln1: ln(), ln2: ln(),
    x_r: rand(g, d, 0, 1), x_w: rand(g, d, 0, 1), x_k: rand(g, d, 0, 1), x_v: rand(g, d, 0, 1), x_a: rand(g, d, 0, 1), x_g: rand(g, d, 0, 1),
    w0: rand(g, d, -3, 1), w1: mat(d, dw), w2: mat(dw, d), a0: rand(g, d), a1: mat(d, da), a2: mat(da, d),
    v0: s.first ? null : rand(g, d), v1: s.first ? null : mat(d, dv), v2: s.first ? null : mat(dv, d),
    g1: mat(d, dg), g2: mat(dg, d), k_k: rand(g, d, 0.5, 1), k_a: rand(g, d, 0.5, 1.5), r_k: rand(g, d, -0.5, 0.5),
    receptance: mat(d, d), key: mat(d, d), value: mat(d, d), output: mat(d, d), ln_x: ln(),
    ffnXk: rand(g, d, 0, 1), ffnKey: mat(d, f), ffnValue: mat(f, d),
  };
}

export const RWKV7: Rwkv7StepShape[] = [
  { b: 1, d: 8, nh: 2, hs: 4, f: 32, dw: 4, da: 4, dv: 4, dg: 8, first: true },
  { b: 3, d: 15, nh: 3, hs: 5, f: 33, dw: 3, da: 5, dv: 7, dg: 6, first: false },
  { b: 7, d: 32, nh: 2, hs: 16, f: 64, dw: 8, da: 8, dv: 4, dg: 16, first: false },
  { b: 2, d: 64, nh: 1, hs: 64, f: 17, dw: 5, da: 3, dv: 3, dg: 3, first: true },
  { b: 16, d: 42, nh: 2, hs: 21, f: 48, dw: 8, da: 4, dv: 5, dg: 21, first: false },
];

export const MAMBA2: Omit<Mamba2StepShape, 'eps' | 'normEps'>[] = [
  { b: 1, d: 8, nh: 2, hs: 8, g: 1, n: 8, k: 4, dPerChannel: false },
  { b: 3, d: 7, nh: 3, hs: 5, g: 3, n: 5, k: 3, dPerChannel: true },
  { b: 7, d: 16, nh: 4, hs: 8, g: 2, n: 16, k: 4, dPerChannel: false },
  { b: 16, d: 16, nh: 2, hs: 9, g: 1, n: 12, k: 4, dPerChannel: true },
];

export function mamba2Weights(g: Generator, s: Omit<Mamba2StepShape, 'eps' | 'normEps'>, bias: boolean): Mamba2StepWeights {
  const { d, nh, hs, n, k } = s, di = nh * hs, cd = di + 2 * s.g * n, rows = di + cd + nh, sc = (m: number) => 1 / Math.sqrt(m);
  return {
    norm: rand(g, d, 0.5, 1.5), inProj: rand(g, rows * d, -sc(d), sc(d)), inProjBias: bias ? rand(g, rows) : null,
    convWeight: rand(g, cd * k, -0.5, 0.5), convBias: bias ? rand(g, cd) : null, dtBias: rand(g, nh, -4, -1), ALog: rand(g, nh, 0, 2.5),
    D: rand(g, s.dPerChannel ? di : nh), gatedNorm: rand(g, di, 0.5, 1.5), outProj: rand(g, d * di, -sc(di), sc(di)), outProjBias: bias ? rand(g, d) : null,
  };
}

export const RWKV6: Rwkv6StepShape[] = [
  { b: 1, d: 8, nh: 2, hs: 4, f: 32, dm: 4, dw: 8, first: true },
  { b: 3, d: 15, nh: 3, hs: 5, f: 33, dm: 3, dw: 5, first: false },
  { b: 7, d: 32, nh: 2, hs: 16, f: 64, dm: 8, dw: 4, first: false },
  { b: 16, d: 42, nh: 2, hs: 21, f: 40, dm: 5, dw: 6, first: true },
];

export function rwkv6Weights(g: Generator, s: Rwkv6StepShape): Rwkv6StepWeights {
  const { d, f, dm, dw } = s, sc = (m: number) => 1 / Math.sqrt(m);
  const ln = () => ({ weight: rand(g, d, 0.5, 1.5), bias: rand(g, d, -0.2, 0.2) });
  const mat = (a: number, b: number) => rand(g, a * b, -sc(a), sc(a));
  const mix = () => rand(g, d, 0, 1);
  return {
    ln0: s.first ? ln() : null, ln1: ln(), ln2: ln(),
    time_maa_x: mix(), time_maa_w: mix(), time_maa_k: mix(), time_maa_v: mix(), time_maa_r: mix(), time_maa_g: mix(),
    time_maa_w1: mat(d, 5 * dm), time_maa_w2: rand(g, 5 * dm * d, -0.3, 0.3), time_decay: rand(g, d, -4, 0.5),
    time_decay_w1: mat(d, dw), time_decay_w2: mat(dw, d), time_faaaa: rand(g, d, -0.5, 0.5),
    receptance: mat(d, d), key: mat(d, d), value: mat(d, d), gate: mat(d, d), output: mat(d, d), ln_x: ln(),
    ffnMaaK: mix(), ffnMaaR: mix(), ffnKey: mat(d, f), ffnReceptance: mat(d, d), ffnValue: mat(f, d),
  };
}

const GPT: Omit<GptStepShape, 'eps'>[] = [
  { b: 1, C: 8, H: 2, p: 0 },
  { b: 3, C: 15, H: 3, p: 5 },
  { b: 7, C: 16, H: 2, p: 37 },
  { b: 1, C: 64, H: 4, p: 70 },
  // A cache with room to grow (stream i's rows start at row i·cap), as the models' KV slabs; batch 16.
  { b: 3, C: 15, H: 3, p: 5, cap: 9 },
  { b: 16, C: 16, H: 2, p: 20, cap: 23 },
];

function gptWeights(g: Generator, C: number, bias: boolean): GptStepWeights {
  const sc = (m: number) => 1 / Math.sqrt(m), mat = (o: number, i: number) => rand(g, o * i, -sc(i), sc(i));
  const ln = () => ({ weight: rand(g, C, 0.5, 1.5), bias: bias ? rand(g, C, -0.2, 0.2) : null });
  const b = (n: number) => (bias ? rand(g, n, -0.2, 0.2) : null);
  return {
    ln1: ln(), cAttn: mat(3 * C, C), cAttnBias: b(3 * C), attnProj: mat(C, C), attnProjBias: b(C),
    ln2: ln(), cFc: mat(4 * C, C), cFcBias: b(4 * C), mlpProj: mat(C, 4 * C), mlpProjBias: b(C),
  };
}

export function stepConformance(make: () => Kernels): void {
  describe('mambaStep', () => {
    for (const shape of MAMBA) {
      for (const bias of [false, true]) {
        it(`b=${shape.b} d=${shape.d} di=${shape.di} n=${shape.n} r=${shape.r} k=${shape.k}${bias ? ' with biases' : ''}`, () => {
          const k = make(), g = new Generator(shape.b * 100 + shape.d + (bias ? 1 : 0));
          const s = { ...shape, eps: 1e-5 }, { b, d, di, n } = s;
          const w = mambaWeights(g, shape, bias);
          const [A1, A2] = twin(() => derivedCache(di * n));
          const [x1, x2] = twin(() => rand(g, b * d, -2, 2));
          const [st1, st2] = twin(() => ({ conv: rand(g, b * di * s.k), ssm: rand(g, b * di * n) }));
          for (let t = 0; t < 4; t++) {
            if (t === 2) w.ALog[3]! += 0.5; // a parameter update between tokens
            refKernels.mambaStep(s, w, A1, x1, st1);
            k.mambaStep(s, w, A2, x2, st2);
            expectConform(x2, x1, `token ${t}: x`, TOL);
            expectConform(st2.conv, st1.conv, `token ${t}: conv`, TOL);
            expectConform(st2.ssm, st1.ssm, `token ${t}: ssm`, TOL);
            expectConform(A2.value, A1.value, `token ${t}: A`, TOL);
          }
        });
      }
    }
  });

  describe('rwkv7Step', () => {
    for (const s of RWKV7) {
      it(`b=${s.b} d=${s.d} nh=${s.nh} hs=${s.hs} f=${s.f}${s.first ? ' (block 0)' : ''}`, () => {
        const k = make(), g = new Generator(s.b * 100 + s.d);
        const { b, d, nh, hs } = s;
        const w = rwkv7Weights(g, s);
        const [x1, x2] = twin(() => rand(g, b * d, -2, 2));
        const [vf1, vf2] = twin(() => rand(g, b * d));
        const [st1, st2] = twin(() => ({ attXPrev: rand(g, b * d), wkv: rand(g, b * nh * hs * hs, -0.5, 0.5), ffnXPrev: rand(g, b * d) }));
        for (let t = 0; t < 3; t++) {
          refKernels.rwkv7Step(s, w, x1, vf1, st1);
          k.rwkv7Step(s, w, x2, vf2, st2);
          expectConform(x2, x1, `token ${t}: x`, TOL);
          expectConform(vf2, vf1, `token ${t}: vFirst`, TOL);
          expectConform(st2.attXPrev, st1.attXPrev, `token ${t}: attXPrev`, TOL);
          expectConform(st2.wkv, st1.wkv, `token ${t}: wkv`, TOL);
          expectConform(st2.ffnXPrev, st1.ffnXPrev, `token ${t}: ffnXPrev`, TOL);
        }
      });
    }
  });

  describe('mamba2Step', () => {
    for (const shape of MAMBA2) {
      for (const bias of [false, true]) {
        it(`b=${shape.b} d=${shape.d} nh=${shape.nh} hs=${shape.hs} g=${shape.g} n=${shape.n}${shape.dPerChannel ? ' D per channel' : ''}${bias ? ' with biases' : ''}`, () => {
          const k = make(), g = new Generator(shape.b * 100 + shape.d + (bias ? 1 : 0));
          const s = { ...shape, eps: 1e-5, normEps: 1e-5 }, { b, nh, hs, n } = s, cd = nh * hs + 2 * s.g * n;
          const w = mamba2Weights(g, shape, bias);
          const [A1, A2] = twin(() => derivedCache(nh));
          const [x1, x2] = twin(() => rand(g, b * s.d, -2, 2));
          const [st1, st2] = twin(() => ({ conv: rand(g, b * cd * s.k), ssm: rand(g, b * nh * hs * n) }));
          for (let t = 0; t < 4; t++) {
            if (t === 2) w.ALog[nh - 1]! += 0.5;
            refKernels.mamba2Step(s, w, A1, x1, st1);
            k.mamba2Step(s, w, A2, x2, st2);
            expectConform(x2, x1, `token ${t}: x`, TOL);
            expectConform(st2.conv, st1.conv, `token ${t}: conv`, TOL);
            expectConform(st2.ssm, st1.ssm, `token ${t}: ssm`, TOL);
            expectConform(A2.value, A1.value, `token ${t}: A`, TOL);
          }
        });
      }
    }
  });

  describe('rwkv6Step', () => {
    for (const s of RWKV6) {
      it(`b=${s.b} d=${s.d} nh=${s.nh} hs=${s.hs} f=${s.f}${s.first ? ' (block 0)' : ''}`, () => {
        const k = make(), g = new Generator(s.b * 100 + s.d);
        const { b, d, nh, hs } = s;
        const w = rwkv6Weights(g, s);
        const [x1, x2] = twin(() => rand(g, b * d, -2, 2));
        const [st1, st2] = twin(() => ({ attXPrev: rand(g, b * d), wkv: rand(g, b * nh * hs * hs, -0.5, 0.5), ffnXPrev: rand(g, b * d) }));
        for (let t = 0; t < 3; t++) {
          refKernels.rwkv6Step(s, w, x1, st1);
          k.rwkv6Step(s, w, x2, st2);
          expectConform(x2, x1, `token ${t}: x`, TOL);
          expectConform(st2.attXPrev, st1.attXPrev, `token ${t}: attXPrev`, TOL);
          expectConform(st2.wkv, st1.wkv, `token ${t}: wkv`, TOL);
          expectConform(st2.ffnXPrev, st1.ffnXPrev, `token ${t}: ffnXPrev`, TOL);
        }
      });
    }
  });

  describe('gptStep', () => {
    for (const shape of GPT) {
      for (const bias of [false, true]) {
        it(`b=${shape.b} C=${shape.C} H=${shape.H} p=${shape.p}${shape.cap ? ` cap=${shape.cap}` : ''}${bias ? ' with biases' : ''}`, () => {
          const k = make(), g = new Generator(shape.b * 100 + shape.C + shape.p);
          const { b, C, cap } = shape, w = gptWeights(g, C, bias);
          const [x1, x2] = twin(() => rand(g, b * C, -2, 2));
          // Two tokens: the second over the cache the first extended (packed: rows copied as a caller would;
          // with room (cap): in place). Rows past the ones read are random too, and must be left alone.
          const rows = cap ?? shape.p + 1;
          let [k1, k2] = twin(() => rand(g, b * rows * C)), [v1, v2] = twin(() => rand(g, b * rows * C));
          for (let t = 0; t < 2; t++) {
            const s = { ...shape, p: shape.p + t, eps: 1e-5 };
            if (cap !== undefined) {
              refKernels.gptStep(s, w, x1, k1, v1);
              k.gptStep(s, w, x2, k2, v2);
              expectConform(x2, x1, `token ${t}: x`, TOL);
              expectConform(k2, k1, `token ${t}: k cache`, TOL);
              expectConform(v2, v1, `token ${t}: v cache`, TOL);
              continue;
            }
            refKernels.gptStep(s, w, x1, k1, v1);
            k.gptStep(s, w, x2, k2, v2);
            expectConform(x2, x1, `token ${t}: x`, TOL);
            expectConform(k2, k1, `token ${t}: k cache`, TOL);
            expectConform(v2, v1, `token ${t}: v cache`, TOL);
            const grow = (a: Float32Array) => {
              const T = s.p + 1, out = new Float32Array(b * (T + 1) * C);
              for (let i = 0; i < b; i++) out.set(a.subarray(i * T * C, (i + 1) * T * C), i * (T + 1) * C);
              return out;
            };
            [k1, k2, v1, v2] = [grow(k1), grow(k2), grow(v1), grow(v2)];
          }
        });
      }
    }
  });
}
