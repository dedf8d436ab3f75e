/**
 * Vectorised exp, sigmoid and tanh on 4 float32 lanes (Cephes' single-precision algorithms).
 *
 * Error bounds, measured against float64 Math.exp/Math.tanh over a dense sweep of [−30, 30] plus the
 * special values (test/kernels/wasm-math.test.ts asserts them):
 * - vexp:     ≤ 2 ulp for x in [−87.3, 88.72] (normal results); +Inf above 88.72, 0 below −103.97;
 *             subnormal results (x in [−103.97, −87.3]) to within one subnormal step times 2.
 * - vsigmoid: ≤ 4 ulp where the result is normal (x ≥ −87); subnormal tail to within 1e−38 absolute.
 * - vtanh:    ≤ 2 ulp: an odd polynomial for |x| < 0.625 (where 1 − 2/(e^{2x}+1) would cancel),
 *             the exp form above it; exactly ±1 beyond |x| ≈ 9.
 * (Measured maxima on x86-64, both builds: exp 1.x ulp, sigmoid 3.0, tanh 1.3; test/kernels/wasm-math.test.ts.)
 */
import { fma, splat } from './vec';

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const OVERFLOW: f32 = 88.72283; // e^x > FLT_MAX above
const UNDERFLOW: f32 = -103.97208; // e^x < half the smallest subnormal below
const EXP_HI: f32 = 88.72283;
const EXP_LO: f32 = -103.97208;
/** 1.5 · 2²³: an integer-valued float n with |n| < 2²² plus this has n + 0x4B400000 as its bits. */
const MAGIC: f32 = 12582912.0;

/**
 * e^x = 2^n · e^r with n = round(x·log2 e), r = x − n·ln 2 (ln 2 split in two for exactness),
 * e^r by a degree-6 polynomial on |r| ≤ ln2/2, and 2^n applied as two factors 2^⌊n/2⌋ · 2^⌈n/2⌉,
 * each built from exponent bits, so results near FLT_MAX and in the subnormal range are reached
 * without the exponent field overflowing.
 */
// @ts-ignore: decorator
@inline export function vexpCore(x: v128): v128 {
  // pmin/pmax (one instruction each on x86, where wasm's min/max take several for NaN and ±0) clamp the
  // same: the bounds are neither NaN nor 0, and a NaN x stays NaN either way.
  x = f32x4.pmin(f32x4.pmax(x, splat(EXP_LO)), splat(EXP_HI));
  const n = f32x4.nearest(f32x4.mul(x, splat(LOG2E)));
  let r = f32x4.sub(x, f32x4.mul(n, splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, splat(LN2_LO)));
  let p = splat(1.9875691500e-4);
  p = fma(p, r, splat(1.3981999507e-3));
  p = fma(p, r, splat(8.3334519073e-3));
  p = fma(p, r, splat(4.1665795894e-2));
  p = fma(p, r, splat(1.6666665459e-1));
  p = fma(p, r, splat(5.0000001201e-1));
  p = fma(p, f32x4.mul(r, r), f32x4.add(r, splat(1)));
  // n is an integer in [−150, 128]: its int32 from the bits of n + 1.5·2²³ (exact), not the saturating
  // conversion (several instructions on x86); the same value.
  const ni = i32x4.sub(f32x4.add(n, splat(MAGIC)), i32x4.splat(0x4B400000));
  const n1 = i32x4.shr_s(ni, 1), n2 = i32x4.sub(ni, n1);
  const bias = i32x4.splat(127);
  return f32x4.mul(f32x4.mul(p, i32x4.shl(i32x4.add(n1, bias), 23)), i32x4.shl(i32x4.add(n2, bias), 23));
}

/** e^x with IEEE overflow to +Inf and underflow to 0 (and NaN propagated). */
// @ts-ignore: decorator
@inline export function vexp(x: v128): v128 {
  let y = vexpCore(x);
  y = v128.bitselect(f32x4.splat(Infinity), y, f32x4.gt(x, splat(OVERFLOW)));
  y = v128.andnot(y, f32x4.lt(x, splat(UNDERFLOW)));
  return v128.bitselect(x, y, f32x4.ne(x, x));
}

/** σ(x) = 1 / (1 + e^−x); the clamp inside vexpCore keeps e^−x finite, so no Inf/Inf. */
// @ts-ignore: decorator
@inline export function vsigmoid(x: v128): v128 {
  return f32x4.div(splat(1), f32x4.add(splat(1), vexpCore(f32x4.neg(x))));
}

/**
 * tanh x: for |x| < 0.625 an odd polynomial (1 − 2/(e^{2x}+1) would cancel there); otherwise
 * sign(x) · (1 − 2/(e^{2|x|} + 1)), which is exactly ±1 in float32 beyond |x| ≈ 9.
 */
// @ts-ignore: decorator
@inline export function vtanh(x: v128): v128 {
  const ax = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = splat(-5.70498872745e-3);
  p = fma(p, z, splat(2.06390887954e-2));
  p = fma(p, z, splat(-5.37397155531e-2));
  p = fma(p, z, splat(1.33314422036e-1));
  p = fma(p, z, splat(-3.33332819422e-1));
  const small = fma(f32x4.mul(p, z), x, x);
  const e = vexpCore(f32x4.add(ax, ax));
  let big = f32x4.sub(splat(1), f32x4.div(splat(2), f32x4.add(e, splat(1))));
  big = v128.or(big, v128.and(x, i32x4.splat(0x80000000))); // copy the sign of x
  return v128.bitselect(small, big, f32x4.lt(ax, splat(0.625)));
}

// Scalar versions for the leftover elements: the same algorithm on lane 0, so tails match the body.
// @ts-ignore: decorator
@inline export function sexp(x: f32): f32 { return f32x4.extract_lane(vexp(splat(x)), 0); }
// @ts-ignore: decorator
@inline export function ssigmoid(x: f32): f32 { return f32x4.extract_lane(vsigmoid(splat(x)), 0); }
// @ts-ignore: decorator
@inline export function stanh(x: f32): f32 { return f32x4.extract_lane(vtanh(splat(x)), 0); }
