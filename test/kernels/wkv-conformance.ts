/**
 * Conformance of a backend's WKV kernels (RWKV-6 and RWKV-7) against `ref`: outputs, final states and the
 * saved checkpoint states of forward (their layout is part of the contract, so a backend may implement
 * forward alone and fall back to ref's backward), and every gradient of backward from ref's saved states.
 * Head sizes that are not SIMD multiples (1, 3, 5, 17), T = 0, and T crossing the 16-step checkpoint stride.
 *
 *   wkvConformance(() => myKernels)   // inside a describe block of runKernelConformance
 */
import { describe, it } from 'vitest';
import { refKernels } from '../../src/kernels/ref/index.js';
import { wkvSavedSizes, type Kernels, type WkvShape } from '../../src/kernels/types.js';
import { Generator } from '../../src/tensor/random.js';
import { expectConform } from './conformance.js';

const CASES: WkvShape[] = [
  { B: 2, T: 5, H: 3, N: 5 },
  { B: 1, T: 1, H: 1, N: 1 },
  { B: 2, T: 0, H: 2, N: 3 },
  { B: 1, T: 33, H: 2, N: 17 },
  { B: 3, T: 16, H: 1, N: 8 },
];

function rand(g: Generator, n: number, lo: number, hi: number): Float32Array {
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * g.uniform());
}

export function wkvConformance(make: () => Kernels): void {
  for (const version of [6, 7] as const) {
    describe(`wkv${version}Forward / wkv${version}Backward`, () => {
      for (const s of CASES) {
        it(`B=${s.B} T=${s.T} H=${s.H} N=${s.N}`, () => check(make(), version, s));
      }
    });
  }
}

function check(k: Kernels, version: 6 | 7, s: WkvShape): void {
  const g = new Generator(s.B * 1000 + s.T * 10 + s.N + version);
  const n = s.B * s.T * s.H * s.N, ns = s.B * s.H * s.N * s.N;
  const step = () => rand(g, n, -1, 1);
  const decay = rand(g, n, 0.3, 1);
  const s0 = rand(g, ns, -0.5, 0.5);
  const outs = () => ({ y: new Float32Array(n), sT: new Float32Array(ns), saved: { states: new Float32Array(wkvSavedSizes(s).states) } });
  const want = outs(), got = outs();
  const dy = step(), dsT = rand(g, ns, -1, 1);
  if (version === 6) {
    const x = { r: step(), k: step(), v: step(), w: decay, u: rand(g, s.H * s.N, -1, 1) };
    refKernels.wkv6Forward(s, x, s0, want.y, want.sT, want.saved);
    k.wkv6Forward(s, x, s0, got.y, got.sT, got.saved);
    const grads = () => ({ dr: new Float32Array(n), dk: new Float32Array(n), dv: new Float32Array(n), dw: new Float32Array(n),
      du: new Float32Array(s.H * s.N).fill(0.5), ds0: new Float32Array(ns) }); // du accumulates
    const gw = grads(), gg = grads();
    refKernels.wkv6Backward(s, x, want.saved, dy, dsT, gw);
    k.wkv6Backward(s, x, want.saved, dy, dsT, gg);
    for (const key of ['dr', 'dk', 'dv', 'dw', 'du', 'ds0'] as const) expectConform(gg[key], gw[key], `wkv6 ${key}`);
  } else {
    const kk = step();
    const x = { r: step(), w: decay, k: step(), v: step(), a: kk.map((v) => -0.5 * v), b: kk.map((v) => 0.4 * v) };
    refKernels.wkv7Forward(s, x, s0, want.y, want.sT, want.saved);
    k.wkv7Forward(s, x, s0, got.y, got.sT, got.saved);
    const grads = () => ({ dr: new Float32Array(n), dw: new Float32Array(n), dk: new Float32Array(n), dv: new Float32Array(n),
      da: new Float32Array(n), db: new Float32Array(n), ds0: new Float32Array(ns) });
    const gw = grads(), gg = grads();
    refKernels.wkv7Backward(s, x, want.saved, dy, dsT, gw);
    k.wkv7Backward(s, x, want.saved, dy, dsT, gg);
    for (const key of ['dr', 'dw', 'dk', 'dv', 'da', 'db', 'ds0'] as const) expectConform(gg[key], gw[key], `wkv7 ${key}`);
  }
  expectConform(got.y, want.y, 'y');
  expectConform(got.sT, want.sT, 'final state');
  expectConform(got.saved.states, want.saved.states, 'saved states');
}
