/**
 * The roofline the batched streaming step is held to, measured in the run that times it (bench/run.ts
 * `--only stream`, and bench/models/lm.ts per family):
 *
 *   peak  — the machine's arithmetic ceiling for this code: a register-only loop of the wasm module's `fma`
 *           (wasm/assembly/roofline.ts), once in the relaxed-SIMD build (one fused multiply-add) and once
 *           in the plain SIMD build (a multiply, then an add: both on the loop's chain, so that number is the
 *           plain build's dependent-chain rate rather than its throughput), GFLOP/s on one thread.
 *   GEMV  — a batch-1 step reads every weight once: y = W·x over the model's parameter count.
 *   GEMM  — a batch-16 step does 16× the multiply-adds over the same weights: Y = X·Wᵀ, X [16, 256].
 *
 * A batch-16 step does at least the GEMM's work, so batch-16 / batch-1 ≥ 16 × (GEMV rate / GEMM rate);
 * with the GEMM at the machine's peak the floor is 16 × (GEMV rate / peak). Both are printed next to the
 * measured ratio.
 */
import { loadWasmModuleSync, type WasmVariant } from '../src/kernels/wasm/index.js';
import { kernels, residentCopy } from '../src/kernels/index.js';
import * as sl from '../src/index.js';
import type { Row } from './harness.js';

/** Flops per `fmaPeak` iteration: 12 f32x4 multiply-adds. */
const FLOPS_PER_ITER = 96;

/** A run of the register-only loop in `variant`'s build (500,000 iterations ≈ 1 ms), timed inside a bench's rounds; null where the build cannot load. */
export function peakProbe(variant: WasmVariant, iters = 500_000): { run: () => void; flops: number } | null {
  const mod = loadWasmModuleSync(variant);
  if (mod === null || mod.variant !== variant) return null;
  return { run: () => { mod.exports.fmaPeak(iters, 0.999999, 1e-6); }, flops: FLOPS_PER_ITER * iters };
}

/** GFLOP/s of the register-only fma loop in `variant`'s build on this thread, median of `runs`. */
export function fmaPeakGflops(variant: WasmVariant, runs = 7, iters = 2_000_000): number | null {
  const p = peakProbe(variant, iters);
  if (p === null) return null;
  p.run(); // tier-up
  const ts: number[] = [];
  for (let r = 0; r < runs; r++) { const t0 = performance.now(); p.run(); ts.push(performance.now() - t0); }
  ts.sort((x, y) => x - y);
  return p.flops / ts[ts.length >> 1]! / 1e6;
}

/** The two builds' peaks as bench rows (one thread; the 2-thread ceiling is twice this on 2 free cores). */
export function benchPeak(backend: string): Row[] {
  const rows: Row[] = [];
  const row = (what: string, v: number | null) => {
    if (v !== null) rows.push({ group: 'roofline', workload: what, backend, timing: { median: 0, min: 0, max: 0, runs: 7 }, value: v, unit: 'GFLOP/s' });
  };
  row('peak per thread: register-only f32x4 relaxed fma loop', fmaPeakGflops('relaxed'));
  row('peak per thread: register-only f32x4 mul + add loop (plain SIMD build)', fmaPeakGflops('simd'));
  return rows;
}

/**
 * `reps` products Y[m, rows] = X[m, 256] · Wᵀ over P weights (W [P/256, 256] resident, as a model's parameters),
 * through the backend's gemm (split across the pool like a step's): m = 1 is the GEMV floor, m = 16 the batch-16 GEMM.
 */
export function weightProduct(P: number, m: number, reps: number): { run: () => void; flops: number } {
  const cols = 256, rows = Math.round(P / cols);
  const W = residentCopy(sl.randn([rows, cols], { seed: 5 }).data);
  const x = residentCopy(new Float32Array(m * cols).fill(0.5)), y = residentCopy(new Float32Array(m * rows)), k = kernels();
  return { run: () => { for (let i = 0; i < reps; i++) k.gemm(false, true, m, rows, cols, x, 0, W, 0, y, 0, false); }, flops: 2 * m * rows * cols };
}
