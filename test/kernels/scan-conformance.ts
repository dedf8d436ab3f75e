/**
 * Conformance of a backend's state-space kernels (causal conv1d, selective scan, chunked SSD) against
 * `ref`: outputs, final states and the forward pass's saved buffers (their layout is part of the contract,
 * so a backend may implement forward alone and fall back to ref's backward), then every gradient of
 * backward from ref's saved buffers, with and without each upstream gradient (null means zeros). Every
 * gradient accumulates, so each starts from non-zero values. Widths that are not SIMD multiples
 * (1, 3, 5, 7, 17, 33), t = 0, batch 1, no bias / no D, a forward that saves nothing (streaming), and SSD
 * chunk lengths that do not divide t.
 *
 *   scanConformance(() => myKernels)   // inside a describe block of runKernelConformance
 */
import { describe, expect, it } from 'vitest';
import { refKernels } from '../../src/kernels/ref/index.js';
import { selectiveScanSavedSize, ssdChunks, type ConvShape, type Kernels, type SelectiveScanShape, type SSDShape } from '../../src/kernels/types.js';
import { Generator } from '../../src/tensor/random.js';
import { expectConform } from './conformance.js';

const rand = (g: Generator, n: number, lo = -1, hi = 1): Float32Array => Float32Array.from({ length: n }, () => lo + (hi - lo) * g.uniform());
const zeros = (n: number) => new Float32Array(n);

const CONV: ConvShape[] = [{ b: 2, t: 5, c: 3, k: 4 }, { b: 1, t: 1, c: 1, k: 1 }, { b: 2, t: 0, c: 5, k: 3 }, { b: 1, t: 33, c: 17, k: 4 }, { b: 3, t: 2, c: 7, k: 4 },
  { b: 2, t: 7, c: 33, k: 2 }, { b: 1, t: 17, c: 64, k: 4 }];
const SCAN: SelectiveScanShape[] = [{ b: 2, t: 5, di: 3, n: 4 }, { b: 1, t: 1, di: 1, n: 1 }, { b: 2, t: 0, di: 5, n: 3 }, { b: 1, t: 33, di: 17, n: 16 },
  { b: 2, t: 7, di: 7, n: 5 }, { b: 1, t: 17, di: 33, n: 7 }, { b: 3, t: 3, di: 5, n: 33 }, { b: 2, t: 32, di: 6, n: 8 }, { b: 2, t: 50, di: 3, n: 5 }];
const SSD: SSDShape[] = [
  { b: 2, t: 7, nh: 2, hs: 3, g: 1, n: 4, q: 3, dPerChannel: false },
  { b: 1, t: 1, nh: 1, hs: 1, g: 1, n: 1, q: 4, dPerChannel: false },
  { b: 2, t: 0, nh: 2, hs: 5, g: 2, n: 3, q: 2, dPerChannel: true },
  { b: 1, t: 33, nh: 4, hs: 17, g: 2, n: 5, q: 16, dPerChannel: false },
  { b: 3, t: 8, nh: 3, hs: 4, g: 3, n: 7, q: 8, dPerChannel: true },
  { b: 1, t: 20, nh: 2, hs: 33, g: 1, n: 17, q: 1, dPerChannel: true },
  { b: 2, t: 5, nh: 4, hs: 7, g: 2, n: 33, q: 64, dPerChannel: false },
  { b: 1, t: 40, nh: 2, hs: 64, g: 1, n: 32, q: 16, dPerChannel: false },
];

export function scanConformance(make: () => Kernels): void {
  describe('causalConv1dForward / causalConv1dBackward', () => {
    for (const s of CONV) {
      for (const bias of [true, false]) it(`b=${s.b} t=${s.t} c=${s.c} k=${s.k}${bias ? '' : ' no bias'}`, () => checkConv(make(), s, bias));
    }
  });
  describe('selectiveScanForward / selectiveScanBackward', () => {
    for (const s of SCAN) {
      for (const withD of [true, false]) it(`b=${s.b} t=${s.t} di=${s.di} n=${s.n}${withD ? '' : ' no D'}`, () => checkScan(make(), s, withD));
    }
    it('streaming: batch row 1 fed one step per call gives the bits of the whole-batch, whole-sequence call', () => checkScanStream(make()));
  });
  describe('ssdForward / ssdBackward', () => {
    for (const s of SSD) {
      for (const withD of [true, false]) {
        it(`b=${s.b} t=${s.t} nh=${s.nh} hs=${s.hs} g=${s.g} n=${s.n} q=${s.q}${withD ? (s.dPerChannel ? ' D per channel' : '') : ' no D'}`,
          () => checkSSD(make(), s, withD));
      }
    }
  });
}

/** Run `call` on ref and on the backend into fresh `make()` buffers; every buffer must agree. Returns ref's. */
function both<T extends Record<string, Float32Array>>(k: Kernels, what: string, make: () => T, call: (kk: Kernels, o: T) => void): T {
  const want = make(), got = make();
  call(refKernels, want);
  call(k, got);
  for (const key of Object.keys(want)) expectConform(got[key]!, want[key]!, `${what} ${key}`);
  return want;
}

/** [dy given, d(final state) given]: both, only the output's, only the final state's. */
const UPSTREAM = [[true, true], [true, false], [false, true]] as const;

function checkConv(k: Kernels, s: ConvShape, withBias: boolean): void {
  const g = new Generator(s.b * 100 + s.t * 10 + s.c);
  const x = rand(g, s.b * s.t * s.c), w = rand(g, s.c * s.k), bias = withBias ? rand(g, s.c) : null, win = rand(g, s.b * s.c * s.k);
  const out = both(k, 'conv', () => ({ y: zeros(s.b * s.t * s.c), window: zeros(s.b * s.c * s.k) }),
    (kk, o) => kk.causalConv1dForward(s, x, w, bias, win, o.y, o.window));
  const dy = rand(g, out.y.length), dwin = rand(g, out.window.length);
  for (const [withDy, withDwin] of UPSTREAM) {
    // Every gradient accumulates: start from non-zero values.
    both(k, `conv (dy=${withDy} dwindowOut=${withDwin})`, () => ({ dx: filled(x.length, 0.25), dw: filled(w.length, 0.5),
      ...(withBias ? { db: filled(s.c, -1) } : {}), dwindow: filled(win.length, 2) }),
    (kk, o) => kk.causalConv1dBackward(s, x, w, win, withDy ? dy : null, withDwin ? dwin : null,
      { dx: o.dx, dw: o.dw, db: o.db ?? null, dwindow: o.dwindow }));
  }
}

const filled = (n: number, v: number) => zeros(n).fill(v);
/** Every gradient accumulates: each starts from its own non-zero value. */
const scanGrads = (x: number, delta: number, A: number, B: number, C: number, D: number, h0: number) => () => ({
  dx: filled(x, 0.25), ddelta: filled(delta, -0.5), dA: filled(A, 0.5), dB: filled(B, 1.5), dC: filled(C, -2),
  ...(D > 0 ? { dD: filled(D, 3) } : {}), dh0: filled(h0, -0.75),
});
const scanGradArgs = (o: ReturnType<ReturnType<typeof scanGrads>>) => ({ ...o, dD: o.dD ?? null });

function checkScan(k: Kernels, s: SelectiveScanShape, withD: boolean): void {
  const g = new Generator(s.b * 100 + s.t * 10 + s.di);
  const bt = s.b * s.t;
  const p = { x: rand(g, bt * s.di), delta: rand(g, bt * s.di, 0.01, 1), A: rand(g, s.di * s.n, -2, -0.1), B: rand(g, bt * s.n), C: rand(g, bt * s.n),
    D: withD ? rand(g, s.di) : null };
  const h0 = rand(g, s.b * s.di * s.n, -0.5, 0.5);
  const out = both(k, 'scan', () => ({ y: zeros(bt * s.di), hT: zeros(h0.length), hs: zeros(selectiveScanSavedSize(s)) }),
    (kk, o) => kk.selectiveScanForward(s, p, h0, o.y, o.hT, o.hs));
  // A forward that saves nothing (no backward will run: streaming, noGrad).
  both(k, 'scan without hs', () => ({ y: zeros(bt * s.di), hT: zeros(h0.length) }), (kk, o) => kk.selectiveScanForward(s, p, h0, o.y, o.hT, null));
  const dy = rand(g, out.y.length), dhT = rand(g, h0.length);
  for (const [withDy, withDhT] of UPSTREAM) {
    both(k, `scan (dy=${withDy} dhT=${withDhT})`, scanGrads(p.x.length, p.delta.length, p.A.length, p.B.length, p.C.length, withD ? s.di : 0, h0.length),
      (kk, o) => kk.selectiveScanBackward(s, p, h0, out.hs, withDy ? dy : null, withDhT ? dhT : null, scanGradArgs(o)));
  }
}

/** t one-step calls on one sequence equal (bit for bit) its row of one t-step call over the batch. */
function checkScanStream(k: Kernels): void {
  const s: SelectiveScanShape = { b: 3, t: 9, di: 6, n: 7 };
  const g = new Generator(91);
  const bt = s.b * s.t, dn = s.di * s.n;
  const p = { x: rand(g, bt * s.di), delta: rand(g, bt * s.di, 0.01, 1), A: rand(g, dn, -2, -0.1), B: rand(g, bt * s.n), C: rand(g, bt * s.n), D: rand(g, s.di) };
  const h0 = rand(g, s.b * dn, -0.5, 0.5), y = zeros(bt * s.di), hT = zeros(s.b * dn);
  k.selectiveScanForward(s, p, h0, y, hT, null);
  let h = h0.slice(dn, 2 * dn);
  for (let ti = 0; ti < s.t; ti++) {
    const r = s.t + ti; // batch row 1, step ti
    const q = { ...p, x: p.x.slice(r * s.di, (r + 1) * s.di), delta: p.delta.slice(r * s.di, (r + 1) * s.di),
      B: p.B.slice(r * s.n, (r + 1) * s.n), C: p.C.slice(r * s.n, (r + 1) * s.n) };
    const yy = zeros(s.di), next = zeros(dn);
    k.selectiveScanForward({ ...s, b: 1, t: 1 }, q, h, yy, next, null);
    expect(Array.from(yy), `y at step ${ti}`).toEqual(Array.from(y.subarray(r * s.di, (r + 1) * s.di)));
    h = next;
  }
  expect(Array.from(h), 'final state').toEqual(Array.from(hT.subarray(dn, 2 * dn)));
}

function checkSSD(k: Kernels, s: SSDShape, withD: boolean): void {
  const g = new Generator(s.b * 100 + s.t * 10 + s.hs + s.q);
  const bt = s.b * s.t, hsz = s.hs * s.n;
  const nD = s.dPerChannel ? s.nh * s.hs : s.nh;
  const p = { x: rand(g, bt * s.nh * s.hs), delta: rand(g, bt * s.nh, 0.01, 1), A: rand(g, s.nh, -2, -0.1), B: rand(g, bt * s.g * s.n),
    C: rand(g, bt * s.g * s.n), D: withD ? rand(g, nD) : null };
  const sh = { ...s, dPerChannel: withD && s.dPerChannel };
  const h0 = rand(g, s.b * s.nh * hsz, -0.5, 0.5);
  const out = both(k, 'ssd', () => ({ y: zeros(p.x.length), hT: zeros(h0.length), chunkStates: zeros(s.b * ssdChunks(s) * s.nh * hsz) }),
    (kk, o) => kk.ssdForward(sh, p, h0, o.y, o.hT, o.chunkStates));
  both(k, 'ssd without chunk states', () => ({ y: zeros(p.x.length), hT: zeros(h0.length) }), (kk, o) => kk.ssdForward(sh, p, h0, o.y, o.hT, null));
  const dy = rand(g, out.y.length), dhT = rand(g, h0.length);
  for (const [withDy, withDhT] of UPSTREAM) {
    both(k, `ssd (dy=${withDy} dhT=${withDhT})`, scanGrads(p.x.length, p.delta.length, s.nh, p.B.length, p.C.length, withD ? nD : 0, h0.length),
      (kk, o) => kk.ssdBackward(sh, p, out.chunkStates, withDy ? dy : null, withDhT ? dhT : null, scanGradArgs(o)));
  }
}
