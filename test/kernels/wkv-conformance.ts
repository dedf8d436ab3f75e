/**
 * Conformance of a backend's WKV kernels (RWKV-6 and RWKV-7) against `ref`: outputs, final states and the
 * saved checkpoint states of forward (their layout is part of the contract, so a backend may implement
 * forward alone and fall back to ref's backward), and every gradient of backward from ref's saved states,
 * with and without each upstream gradient (null means zeros). Gradient buffers start non-zero, so a
 * backend that accumulates what ref writes (or the reverse: RWKV-6's du accumulates) fails. Head sizes
 * that are not SIMD multiples (1, 3, 5, 7, 17, 33) and the official 64, T = 0, batch 1, and T on and
 * across the 16-step checkpoint stride (16, 17, 33, 40).
 *
 *   wkvConformance(() => myKernels)   // inside a describe block of runKernelConformance
 */
import { describe, expect, it } from 'vitest';
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
  { B: 2, T: 40, H: 1, N: 7 },
  { B: 1, T: 17, H: 1, N: 33 },
  { B: 1, T: 18, H: 2, N: 64 },
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
      it('streaming: batch row 1 fed one step per call gives the bits of the whole-batch, whole-sequence call', () => checkStream(make(), version));
    });
  }
}

/** T one-step calls on one sequence equal (bit for bit) its row of one T-step call over the batch. */
function checkStream(k: Kernels, version: 6 | 7): void {
  const s: WkvShape = { B: 3, T: 20, H: 2, N: 19 };
  const g = new Generator(77 + version);
  const C = s.H * s.N, n = s.B * s.T * C, NN = s.N * s.N, ns = s.B * s.H * NN;
  const x = { r: rand(g, n, -1, 1), w: rand(g, n, 0.3, 1), k: rand(g, n, -1, 1), v: rand(g, n, -1, 1), a: rand(g, n, -0.3, 0.3),
    b: rand(g, n, -0.3, 0.3), u: rand(g, C, -1, 1) };
  const run = (sh: WkvShape, xx: typeof x, s0: Float32Array, y: Float32Array, sT: Float32Array) => {
    const saved = { states: new Float32Array(wkvSavedSizes(sh).states) };
    if (version === 6) k.wkv6Forward(sh, xx, s0, y, sT, saved);
    else k.wkv7Forward(sh, xx, s0, y, sT, saved);
  };
  const s0 = rand(g, ns, -0.5, 0.5), all = new Float32Array(n), sT = new Float32Array(ns);
  run(s, x, s0, all, sT);
  let state = s0.slice(s.H * NN, 2 * s.H * NN);
  for (let t = 0; t < s.T; t++) {
    const row = (a: Float32Array) => a.slice((s.T + t) * C, (s.T + t + 1) * C); // batch row 1, step t
    const y = new Float32Array(C), next = new Float32Array(s.H * NN);
    run({ ...s, B: 1, T: 1 }, { r: row(x.r), w: row(x.w), k: row(x.k), v: row(x.v), a: row(x.a), b: row(x.b), u: x.u }, state, y, next);
    expect(Array.from(y), `y at step ${t}`).toEqual(Array.from(row(all)));
    state = next;
  }
  expect(Array.from(state), 'final state').toEqual(Array.from(sT.subarray(s.H * NN, 2 * s.H * NN)));
}

function check(k: Kernels, version: 6 | 7, s: WkvShape): void {
  const g = new Generator(s.B * 1000 + s.T * 10 + s.N + version);
  const n = s.B * s.T * s.H * s.N, ns = s.B * s.H * s.N * s.N;
  const step = () => rand(g, n, -1, 1);
  const decay = rand(g, n, 0.3, 1);
  const s0 = rand(g, ns, -0.5, 0.5);
  const outs = () => ({ y: new Float32Array(n), sT: new Float32Array(ns), saved: { states: new Float32Array(wkvSavedSizes(s).states) } });
  // `bare`: the forward without saved states (no backward to feed) must give the same bits.
  const want = outs(), got = outs(), bare = outs();
  const dy = step(), dsT = rand(g, ns, -1, 1);
  /** [dy given, dsT given]: both, only the output's, only the final state's. */
  const upstream = [[true, true], [true, false], [false, true]] as const;
  /** A buffer of n values filled with `v` (the starting value of a gradient buffer). */
  const filled = (n: number, v: number) => new Float32Array(n).fill(v);
  if (version === 6) {
    const x = { r: step(), k: step(), v: step(), w: decay, u: rand(g, s.H * s.N, -1, 1) };
    refKernels.wkv6Forward(s, x, s0, want.y, want.sT, want.saved);
    k.wkv6Forward(s, x, s0, got.y, got.sT, got.saved);
    k.wkv6Forward(s, x, s0, bare.y, bare.sT, null);
    // du accumulates; the others are written, so their starting values must vanish.
    const grads = () => ({ dr: filled(n, 0.25), dk: filled(n, -0.75), dv: filled(n, 3), dw: filled(n, -2),
      du: filled(s.H * s.N, 0.5), ds0: filled(ns, 1.5) });
    for (const [withDy, withDsT] of upstream) {
      const gw = grads(), gg = grads();
      refKernels.wkv6Backward(s, x, want.saved, withDy ? dy : null, withDsT ? dsT : null, gw);
      k.wkv6Backward(s, x, want.saved, withDy ? dy : null, withDsT ? dsT : null, gg);
      for (const key of ['dr', 'dk', 'dv', 'dw', 'du', 'ds0'] as const) expectConform(gg[key], gw[key], `wkv6 ${key} (dy=${withDy} dsT=${withDsT})`);
    }
  } else {
    const kk = step();
    const x = { r: step(), w: decay, k: step(), v: step(), a: kk.map((v) => -0.5 * v), b: kk.map((v) => 0.4 * v) };
    refKernels.wkv7Forward(s, x, s0, want.y, want.sT, want.saved);
    k.wkv7Forward(s, x, s0, got.y, got.sT, got.saved);
    k.wkv7Forward(s, x, s0, bare.y, bare.sT, null);
    // Every gradient is written: the starting values must vanish.
    const grads = () => ({ dr: filled(n, 0.25), dw: filled(n, -0.75), dk: filled(n, 3), dv: filled(n, -2),
      da: filled(n, 0.5), db: filled(n, 7), ds0: filled(ns, 1.5) });
    for (const [withDy, withDsT] of upstream) {
      const gw = grads(), gg = grads();
      refKernels.wkv7Backward(s, x, want.saved, withDy ? dy : null, withDsT ? dsT : null, gw);
      k.wkv7Backward(s, x, want.saved, withDy ? dy : null, withDsT ? dsT : null, gg);
      for (const key of ['dr', 'dw', 'dk', 'dv', 'da', 'db', 'ds0'] as const) expectConform(gg[key], gw[key], `wkv7 ${key} (dy=${withDy} dsT=${withDsT})`);
    }
  }
  expectConform(got.y, want.y, 'y');
  expectConform(got.sT, want.sT, 'final state');
  expectConform(got.saved.states, want.saved.states, 'saved states');
  expect(Array.from(bare.y)).toEqual(Array.from(got.y));
  expect(Array.from(bare.sT)).toEqual(Array.from(got.sT));
}
