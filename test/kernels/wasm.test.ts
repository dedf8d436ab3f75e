// The WebAssembly backend, both builds (plain SIMD and relaxed-SIMD FMA), against the reference.
// minGemmWork: 0 sends even 1×1×1 products through wasm, so the tails are tested, not skipped.
import { describe, expect, it } from 'vitest';
import { refKernels } from '../../src/kernels/ref/index.js';
import { createWasmKernels, loadWasmModuleSync, type WasmVariant } from '../../src/kernels/wasm/index.js';
import { runKernelConformance } from './conformance.js';

for (const variant of ['simd', 'relaxed'] as WasmVariant[]) {
  const mod = loadWasmModuleSync(variant);
  describe(`wasm module (${variant})`, () => {
    it('loads on this engine', () => {
      expect(mod?.variant).toBe(variant);
    });
  });
  if (mod) runKernelConformance({ name: `wasm-${variant}`, make: () => createWasmKernels(mod, { minGemmWork: 0 }) });
}

describe('wasm backend: float64 goes to ref', () => {
  it('gemm on Float64Array equals ref bit for bit', () => {
    const k = createWasmKernels(loadWasmModuleSync()!, { minGemmWork: 0 });
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
      const w = createWasmKernels(loadWasmModuleSync()!, { minGemmWork: 0 });
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
