/**
 * The tiny vector vocabulary every kernel is written in: 4 float32 lanes, load/store, splat, fused
 * multiply-add and a horizontal sum. `fma` is the one place the two builds differ: with relaxed SIMD it
 * is `f32x4.relaxed_madd` (one fused instruction on x86 with FMA and on ARM; the result may or may not
 * be rounded once — either is fine for us), otherwise a multiply then an add.
 */

/** Lanes per vector. */
export const W: i32 = 4;

// @ts-ignore: decorator
@inline export function vload(p: usize): v128 { return v128.load(p); }
// @ts-ignore: decorator
@inline export function vstore(p: usize, v: v128): void { v128.store(p, v); }
// @ts-ignore: decorator
@inline export function splat(x: f32): v128 { return f32x4.splat(x); }

/** The r < 4 values at p (a row's or a range's leftover) as one vector, the other lanes 0. */
// @ts-ignore: decorator
@inline export function loadTail(p: usize, r: i32): v128 {
  let v = splat(0);
  v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (r > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (r > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/** a·b + c */
// @ts-ignore: decorator
@inline export function fma(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** c − a·b */
// @ts-ignore: decorator
@inline export function fnma(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_nmadd(a, b, c);
  return f32x4.sub(c, f32x4.mul(a, b));
}

/** Sum of the 4 lanes. */
// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  const s = f32x4.add(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1);
}

/** Maximum of the 4 lanes. */
// @ts-ignore: decorator
@inline export function hmax(v: v128): f32 {
  const s = f32x4.max(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  return max(f32x4.extract_lane(s, 0), f32x4.extract_lane(s, 1));
}

// Scalar element access by float index from a byte pointer.
// @ts-ignore: decorator
@inline export function ld(p: usize, i: i32): f32 { return load<f32>(p + (<usize>i << 2)); }
// @ts-ignore: decorator
@inline export function st(p: usize, i: i32, v: f32): void { store<f32>(p + (<usize>i << 2), v); }
/** Byte address of float element i. */
// @ts-ignore: decorator
@inline export function at(p: usize, i: i32): usize { return p + (<usize>i << 2); }

/** Σ a_i b_i over n float32 values: 4 lane sums, folded by hsum, then the tail in order. */
export function dot(a: usize, b: usize, n: i32): f32 {
  let acc = splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) acc = fma(v128.load(a + (<usize>i << 2)), v128.load(b + (<usize>i << 2)), acc);
  let s = hsum(acc);
  for (; i < n; i++) s += load<f32>(a + (<usize>i << 2)) * load<f32>(b + (<usize>i << 2));
  return s;
}
