// The error bounds documented in wasm/assembly/math.ts and pointwise.ts, measured: the vectorised exp,
// sigmoid, tanh, softplus and GELU against float64 on a dense sweep, in units in the last place (ulp) of
// the float32 result (GELU's float64 reference: the erf of src/kernels/ref/erf.ts, checked against C's erf).
import { describe, expect, it } from 'vitest';
import { createWasmKernels, loadWasmModuleSync, type WasmVariant } from '../../src/kernels/wasm/index.js';
import type { UnaryOp } from '../../src/kernels/types.js';
import { gelu } from '../../src/kernels/ref/erf.js';

const f32 = Math.fround;
/** One ulp of float32 at |y| (the spacing of float32 values around y). */
function ulp(y: number): number {
  const a = Math.abs(f32(y));
  if (a < 1.1754943508222875e-38) return 1.401298464324817e-45;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

const exact: Record<string, (x: number) => number> = {
  exp: Math.exp,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: Math.tanh,
  softplus: (x) => (x > 20 ? x : Math.log1p(Math.exp(x))),
  gelu,
};

function worstUlps(variant: WasmVariant, op: UnaryOp, lo: number, hi: number): { ulps: number; at: number } {
  const k = createWasmKernels(loadWasmModuleSync(variant)!, { minElements: 0, threads: 1 });
  const n = 200_001;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = lo + ((hi - lo) * i) / (n - 1);
  const y = new Float32Array(n);
  k.unary(op, x, y, n, 0);
  let worst = 0, at = 0;
  for (let i = 0; i < n; i++) {
    const e = exact[op]!(x[i]!);
    if (Math.abs(e) < 1.1754943508222875e-38) continue; // subnormal results: see the absolute bound below
    const u = Math.abs(y[i]! - e) / ulp(e);
    if (u > worst) { worst = u; at = x[i]!; }
  }
  return { ulps: worst, at };
}

for (const variant of ['simd', 'relaxed'] as WasmVariant[]) {
  describe(`wasm math error bounds (${variant})`, () => {
    it('exp: ≤ 2 ulp on [−87.3, 88.72]', () => {
      expect(worstUlps(variant, 'exp', -87.3, 88.72).ulps).toBeLessThanOrEqual(2);
    });
    it('sigmoid: ≤ 4 ulp on [−80, 30]', () => {
      expect(worstUlps(variant, 'sigmoid', -80, 30).ulps).toBeLessThanOrEqual(4);
    });
    it('tanh: ≤ 2 ulp on [−10, 10] (polynomial below 0.625, exp form above)', () => {
      expect(worstUlps(variant, 'tanh', -10, 10).ulps).toBeLessThanOrEqual(2);
      expect(worstUlps(variant, 'tanh', -0.7, 0.7).ulps).toBeLessThanOrEqual(2);
    });
    it('softplus: ≤ 4 ulp on [−30, 30]; GELU: ≤ 16 ulp on [−5, 30] (its tail below −5 is smaller than 1e−6)', () => {
      expect(worstUlps(variant, 'softplus', -30, 30).ulps).toBeLessThanOrEqual(4);
      expect(worstUlps(variant, 'gelu', -5, 30).ulps).toBeLessThanOrEqual(16);
    });
    it('special values: ±Inf, NaN, overflow, underflow', () => {
      const k = createWasmKernels(loadWasmModuleSync(variant)!, { minElements: 0, threads: 1 });
      const x = Float32Array.from([Infinity, -Infinity, NaN, 89, -104, 0, -0, 1e-30]);
      const run = (op: UnaryOp) => { const y = new Float32Array(x.length); k.unary(op, x, y, x.length, 0); return Array.from(y); };
      expect(run('exp')).toEqual([Infinity, 0, NaN, Infinity, 0, 1, 1, 1]);
      expect(run('tanh').slice(0, 3)).toEqual([1, -1, NaN]);
      expect(run('tanh')[7]).toBe(f32(1e-30));
      const s = run('sigmoid');
      expect(s.slice(0, 3)).toEqual([1, expect.closeTo(0, 37), NaN]);
      expect(s[5]).toBe(0.5);
    });
  });
}
