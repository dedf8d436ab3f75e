// The WebAssembly backend, all four builds (plain SIMD and relaxed-SIMD FMA, each on its own memory and on
// a shared one), against the reference. minGemmWork: 0 sends even 1×1×1 products through wasm, so the
// tails are tested, not skipped.
import { describe, expect, it } from 'vitest';
import { refKernels } from '../../src/kernels/ref/index.js';
import { createWasmKernels, loadWasmModuleSync, type WasmVariant } from '../../src/kernels/wasm/index.js';
import { runKernelConformance } from './conformance.js';

for (const variant of ['simd', 'relaxed', 'simd-shared', 'relaxed-shared'] as WasmVariant[]) {
  const mod = loadWasmModuleSync(variant);
  describe(`wasm module (${variant})`, () => {
    it('loads on this engine', () => {
      expect(mod?.variant).toBe(variant);
    });
  });
  if (mod) runKernelConformance({ name: `wasm-${variant}`, make: () => createWasmKernels(mod, { minGemmWork: 0, minElements: 0, threads: 1 }) });
}

// Threads: every GEMM split across 2 threads (minMacsPerThread: 1), once the worker has joined.
const threaded = createWasmKernels(loadWasmModuleSync('relaxed-shared')!, { minGemmWork: 0, minElements: 0, threads: 2, minMacsPerThread: 1 });
await threaded.pool?.whenOnline();
describe('wasm threads', () => {
  it('a worker pool runs on shared memory in Node', () => {
    expect(threaded.pool?.size).toBe(2);
    expect(threaded.pool?.workersOnline).toBe(1);
  });
  it('a split GEMM or recurrent layer gives the same bits as one thread', () => {
    const rnd = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + s));
    for (const [m, n, k, tA, tB] of [[130, 41, 300, false, false], [64, 1030, 33, false, true], [37, 64, 129, true, false]] as const) {
      const a = rnd(m * k, 1), b = rnd(k * n, 2);
      const one = new Float32Array(m * n), two = new Float32Array(m * n);
      threaded.setThreads(1);
      threaded.gemm(tA, tB, m, n, k, a, 0, b, 0, one, 0, false);
      threaded.setThreads(2);
      threaded.gemm(tA, tB, m, n, k, a, 0, b, 0, two, 0, false);
      expect(Array.from(two)).toEqual(Array.from(one));
    }
  });
});
runKernelConformance({ name: 'wasm-relaxed-shared, 2 threads', make: () => threaded });

describe('wasm backend: float64 goes to ref', () => {
  it('gemm on Float64Array equals ref bit for bit', () => {
    const k = createWasmKernels(loadWasmModuleSync()!, { minGemmWork: 0, threads: 1 });
    const a = Float64Array.from({ length: 35 }, (_, i) => Math.sin(i)), b = Float64Array.from({ length: 35 }, (_, i) => Math.cos(i));
    const want = new Float64Array(25), got = new Float64Array(25);
    refKernels.gemm(false, true, 5, 5, 7, a, 0, b, 0, want, 0, false);
    k.gemm(false, true, 5, 5, 7, a, 0, b, 0, got, 0, false);
    expect(Array.from(got)).toEqual(Array.from(want));
  });
});

describe('wasm gemm: a row does not depend on the batch it is computed in', () => {
  for (const k of [5, 300, 600]) {
    it(`row i of an m×n·k product equals the 1-row product, bit for bit (k=${k})`, () => {
      const w = createWasmKernels(loadWasmModuleSync()!, { minGemmWork: 0, threads: 1 });
      const m = 13, n = 37;
      const a = Float32Array.from({ length: m * k }, (_, i) => Math.sin(i * 0.7)), b = Float32Array.from({ length: n * k }, (_, i) => Math.cos(i * 0.3));
      const all = new Float32Array(m * n);
      w.gemm(false, true, m, n, k, a, 0, b, 0, all, 0, false);
      for (const i of [0, 5, 12]) {
        const row = new Float32Array(n);
        w.gemm(false, true, 1, n, k, a, i * k, b, 0, row, 0, false);
        expect(Array.from(row)).toEqual(Array.from(all.subarray(i * n, (i + 1) * n)));
      }
    });
  }
});

describe('wasm backend: resident arrays (shared memory) are used in place', () => {
  const mod = loadWasmModuleSync('relaxed-shared');
  it('resident storage is zeroed, lives in wasm memory, and survives memory growth', () => {
    const k = createWasmKernels(mod!, { minGemmWork: 0, threads: 1 });
    const a = k.resident(1000)!;
    expect(a).not.toBeNull();
    expect(a.every((v) => v === 0)).toBe(true);
    expect(k.heap.addressOf(a)).toBeGreaterThan(0);
    a.fill(3);
    const before = k.heap.capacity;
    k.resident(before / 4); // forces the memory to grow
    expect(k.heap.capacity).toBeGreaterThan(before);
    expect(a[999]).toBe(3);
    expect(k.heap.addressOf(new Float32Array(4))).toBe(-1);
  });

  it('gemm and the recurrent kernels give the same bits on resident and ordinary arrays', () => {
    const k = createWasmKernels(mod!, { minGemmWork: 0, threads: 1 });
    const res = (x: Float32Array) => { const r = k.resident(x.length)!; r.set(x); return r; };
    const rnd = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + s));
    const a = rnd(7 * 9, 1), b = rnd(9 * 5, 2);
    const c1 = new Float32Array(35).fill(1), c2 = res(new Float32Array(35).fill(1));
    k.gemm(false, false, 7, 5, 9, a, 0, b, 0, c1, 0, true);
    k.gemm(false, false, 7, 5, 9, res(a), 0, res(b), 0, c2, 0, true);
    expect(Array.from(c2)).toEqual(Array.from(c1));

    const T = 4, N = 3, I = 5, H = 6, GH = 4 * H;
    const s = { kind: 'lstm' as const, T, N, I, H, P: H, reverse: false, lengths: null };
    const w = { wih: rnd(GH * I, 3), whh: rnd(GH * H, 4), bih: rnd(GH, 5), bhh: rnd(GH, 6), whr: null };
    const wr = { wih: res(w.wih), whh: res(w.whh), bih: res(w.bih), bhh: res(w.bhh), whr: null };
    const x = rnd(T * N * I, 7), h0 = rnd(N * H, 8), c0 = rnd(N * H, 9);
    const outs = (r: boolean) => {
      const f = (n: number) => (r ? k.resident(n)! : new Float32Array(n));
      return { y: f(T * N * H), hn: f(N * H), cn: f(N * H), saved: { gates: f(T * N * GH), h: f(T * N * H), c: f(T * N * H), aux: f(0) } };
    };
    const o1 = outs(false), o2 = outs(true);
    k.recurrentForward(s, x, w, h0, c0, o1.y, o1.hn, o1.cn, o1.saved);
    k.recurrentForward(s, res(x), wr, res(h0), res(c0), o2.y, o2.hn, o2.cn, o2.saved);
    expect(Array.from(o2.y)).toEqual(Array.from(o1.y));
    expect(Array.from(o2.saved.gates)).toEqual(Array.from(o1.saved.gates));
    const grads = (r: boolean) => {
      const f = (n: number) => (r ? k.resident(n)! : new Float32Array(n));
      return { dx: f(T * N * I), dh0: f(N * H), dc0: f(N * H), dwih: f(GH * I), dwhh: f(GH * H), dbih: f(GH), dbhh: f(GH), dwhr: null };
    };
    const g1 = grads(false), g2 = grads(true);
    k.recurrentBackward(s, x, w, h0, c0, o1.saved, o1.y, null, null, g1);
    k.recurrentBackward(s, res(x), wr, res(h0), res(c0), o2.saved, o2.y, null, null, g2);
    for (const key of ['dx', 'dh0', 'dc0', 'dwih', 'dwhh', 'dbih', 'dbhh'] as const) expect(Array.from(g2[key])).toEqual(Array.from(g1[key]));
  });
});
