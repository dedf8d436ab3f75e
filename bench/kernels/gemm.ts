/**
 * GEMM throughput through the `Kernels` interface (so the wasm numbers include copying the operands into
 * wasm memory and the result out). Each shape is first checked against a float64 dot product on
 * sampled entries, then timed.
 */
import type { Kernels } from '../../src/kernels/types.js';
import { measure, type Row } from '../harness.js';

export const GEMM_SHAPES: [number, number, number][] = [[32, 256, 1024], [2048, 128, 1024], [1024, 1024, 1024]];

function filled(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; a[i] = s / 2 ** 32 - 0.5; }
  return a;
}

export function benchGemm(k: Kernels, quick: boolean): Row[] {
  const rows: Row[] = [];
  for (const [m, n, kk] of GEMM_SHAPES) {
    const a = filled(m * kk, 1), b = filled(kk * n, 2), c = new Float32Array(m * n);
    const run = () => k.gemm(false, false, m, n, kk, a, 0, b, 0, c, 0, false);
    run();
    for (let t = 0; t < 32; t++) {
      const i = (t * 7919) % m, j = (t * 104729) % n;
      let s = 0;
      for (let p = 0; p < kk; p++) s += a[i * kk + p]! * b[p * n + j]!;
      if (Math.abs(s - c[i * n + j]!) > 1e-4 * Math.sqrt(kk)) throw new Error(`gemm ${m}×${n}×${kk} on ${k.name}: C[${i},${j}] = ${c[i * n + j]}, expected ${s}`);
    }
    const slow = k.name === 'ref';
    const timing = measure(run, slow ? { warmup: 0, minRuns: 1, minTime: quick ? 0 : 2000, maxRuns: 5 } : { warmup: 3, minRuns: 5, minTime: quick ? 300 : 1500 });
    rows.push({ group: 'gemm', workload: `GEMM ${m}×${n}×${kk}`, backend: k.name, timing, value: (2 * m * n * kk) / timing.median / 1e6, unit: 'GFLOP/s' });
  }
  return rows;
}
