/**
 * The machine's arithmetic peak as this module's code can reach it (bench/roofline.ts): twelve f32x4
 * accumulators updated by `fma` (vec.ts: one relaxed-SIMD fused multiply-add, or a multiply then an add in
 * the plain SIMD build) with no memory traffic, enough independent chains to cover the instructions'
 * latency. Each iteration is 12 · 4 multiply-adds = 96 flops.
 */
import { fma, splat } from './vec';

/** `iters` iterations of the register-only loop; returns a value that depends on all of them (so nothing is dropped). */
export function fmaPeak(iters: i32, m: f32, c: f32): f32 {
  const mv = splat(m), cv = splat(c);
  let a0 = splat(1), a1 = splat(2), a2 = splat(3), a3 = splat(4), a4 = splat(5), a5 = splat(6);
  let a6 = splat(7), a7 = splat(8), a8 = splat(9), a9 = splat(10), a10 = splat(11), a11 = splat(12);
  for (let i = 0; i < iters; i++) {
    a0 = fma(a0, mv, cv); a1 = fma(a1, mv, cv); a2 = fma(a2, mv, cv); a3 = fma(a3, mv, cv);
    a4 = fma(a4, mv, cv); a5 = fma(a5, mv, cv); a6 = fma(a6, mv, cv); a7 = fma(a7, mv, cv);
    a8 = fma(a8, mv, cv); a9 = fma(a9, mv, cv); a10 = fma(a10, mv, cv); a11 = fma(a11, mv, cv);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  const t = f32x4.add(s, f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11)));
  return f32x4.extract_lane(t, 0) + f32x4.extract_lane(t, 1) + f32x4.extract_lane(t, 2) + f32x4.extract_lane(t, 3);
}
