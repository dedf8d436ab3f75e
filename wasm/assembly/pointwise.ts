/**
 * Elementwise functions over n contiguous float32 values, 4 lanes at a time (math.ts has exp, sigmoid and
 * tanh with their error bounds; softplus and GELU are below, by fitted polynomials), with the leftover
 * n mod 4 values through the same vector code; relu and neg (exact, as the reference). Backward: dx = dy ⊙ f'(x)
 * for silu, softplus, GELU, relu and neg; for exp, tanh and sigmoid from y = f(x), bit for bit the reference's.
 * Every value is computed the same way wherever a range starts, so parallel.ts may split any range.
 */
import { vexp, vsigmoid, vtanh } from './math';
import { fma, loadTail, splat } from './vec';

export const UNARY_EXP = 0, UNARY_TANH = 1, UNARY_SIGMOID = 2, UNARY_SILU = 3, UNARY_SOFTPLUS = 4, UNARY_GELU = 5, UNARY_RELU = 6, UNARY_NEG = 7;

// @ts-ignore: decorator
@inline function apply(op: i32, x: v128): v128 {
  if (op == UNARY_EXP) return vexp(x);
  if (op == UNARY_TANH) return vtanh(x);
  if (op == UNARY_SIGMOID) return vsigmoid(x);
  if (op == UNARY_SOFTPLUS) return vsoftplus(x);
  if (op == UNARY_GELU) return vgelu(x);
  if (op == UNARY_RELU) return v128.bitselect(x, splat(0), f32x4.gt(x, splat(0))); // x > 0 ? x : 0 (NaN → 0, as the reference)
  if (op == UNARY_NEG) return f32x4.neg(x);
  return f32x4.mul(x, vsigmoid(x)); // silu
}

// @ts-ignore: decorator
@inline function storeTail(out: usize, r: i32, y: v128): void {
  store<f32>(out, f32x4.extract_lane(y, 0));
  if (r > 1) store<f32>(out, f32x4.extract_lane(y, 1), 4);
  if (r > 2) store<f32>(out, f32x4.extract_lane(y, 2), 8);
}

// @ts-ignore: decorator
@inline function run(op: i32, x: usize, out: usize, n: i32): void {
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) {
    const q = <usize>i << 2;
    v128.store(out + q, apply(op, v128.load(x + q)));
  }
  const r = n - n4;
  if (r) storeTail(out + (<usize>n4 << 2), r, apply(op, loadTail(x + (<usize>n4 << 2), r)));
}

const SQRT1_2: f32 = 0.70710678;
const INV_SQRT_2PI: f32 = 0.39894228;

/**
 * erfc(a) for a ≥ 0 as e^{−a²} · P(1/(1 + a/2)), P a degree-10 least-squares fit of erfc(a)·e^{a²} on
 * [0, 6.5] (tools/fit-pointwise.py: ≤ 2.2e−7 relative in float32; beyond 6.5 the factor e^{−a²} < 5e−19).
 * `ea2` is e^{−a²}, which the caller shares with the Gaussian density.
 */
// @ts-ignore: decorator
@inline function verfc(a: v128, ea2: v128): v128 {
  const t = f32x4.div(splat(1), fma(splat(0.5), a, splat(1)));
  let p = splat(0.03848010301589966);
  p = fma(p, t, splat(-0.2729526162147522));
  p = fma(p, t, splat(0.803289532661438));
  p = fma(p, t, splat(-1.2085460424423218));
  p = fma(p, t, splat(0.9138789176940918));
  p = fma(p, t, splat(-0.39723438024520874));
  p = fma(p, t, splat(0.3472435772418976));
  p = fma(p, t, splat(0.2058432400226593));
  p = fma(p, t, splat(0.2884572148323059));
  p = fma(p, t, splat(0.28151726722717285));
  p = fma(p, t, splat(2.3274473278434016e-05));
  return f32x4.mul(ea2, p);
}

/** Φ(x), the standard normal CDF, from erfc on |x|/√2 (no cancellation for x < 0, where Φ is small); `ea2` = e^{−x²/2}. */
// @ts-ignore: decorator
@inline function vPhi(x: v128, ea2: v128): v128 {
  const half = f32x4.mul(splat(0.5), verfc(f32x4.mul(f32x4.abs(x), splat(SQRT1_2)), ea2));
  return v128.bitselect(half, f32x4.sub(splat(1), half), f32x4.lt(x, splat(0)));
}

// @ts-ignore: decorator
@inline function vHalfSquareExp(x: v128): v128 { return vexp(f32x4.mul(splat(-0.5), f32x4.mul(x, x))); }

/**
 * GELU(x) = x Φ(x) (PyTorch's exact, erf-based GELU): ≤ 16 ulp on [−5, 30] (about 11 measured, mostly the
 * rounding of x² inside e^{−x²/2}; test/kernels/wasm-math.test.ts), below −5 within 5e−7 of a value under 1e−6.
 */
// @ts-ignore: decorator
@inline export function vgelu(x: v128): v128 { return f32x4.mul(x, vPhi(x, vHalfSquareExp(x))); }

/** GELU′(x) = Φ(x) + x φ(x), φ(x) = e^{−x²/2}/√(2π). */
// @ts-ignore: decorator
@inline function vgeluGrad(x: v128): v128 {
  const e = vHalfSquareExp(x);
  return fma(f32x4.mul(x, e), splat(INV_SQRT_2PI), vPhi(x, e));
}

/**
 * softplus(x) = max(x, 0) + log1p(e^{−|x|}), with log1p(u) = u · Q(u), Q a degree-8 least-squares fit of
 * log1p(u)/u on [0, 1] (tools/fit-pointwise.py: ≤ 1.5e−7 relative in float32); x above PyTorch's
 * threshold 20 is returned as is.
 */
// @ts-ignore: decorator
@inline function vsoftplus(x: v128): v128 {
  const u = vexp(f32x4.neg(f32x4.abs(x)));
  let p = splat(0.0050399028696119785);
  p = fma(p, u, splat(-0.028620027005672455));
  p = fma(p, u, splat(0.0765651986002922));
  p = fma(p, u, splat(-0.13499228656291962));
  p = fma(p, u, splat(0.19014577567577362));
  p = fma(p, u, splat(-0.2481440305709839));
  p = fma(p, u, splat(0.3331444263458252));
  p = fma(p, u, splat(-0.49999162554740906));
  p = fma(p, u, splat(0.9999998807907104));
  const y = f32x4.add(f32x4.max(x, splat(0)), f32x4.mul(u, p));
  return v128.bitselect(x, y, f32x4.gt(x, splat(20)));
}

/** out[i] = f(x[i]) for the op codes above, i in [i0, i1); out may equal x. */
export function unaryRange(op: i32, x: usize, out: usize, i0: i32, i1: i32): void {
  const q = <usize>i0 << 2, n = i1 - i0;
  // One loop per op, so each inner loop is branch-free.
  if (op == UNARY_EXP) run(UNARY_EXP, x + q, out + q, n);
  else if (op == UNARY_TANH) run(UNARY_TANH, x + q, out + q, n);
  else if (op == UNARY_SIGMOID) run(UNARY_SIGMOID, x + q, out + q, n);
  else if (op == UNARY_SILU) run(UNARY_SILU, x + q, out + q, n);
  else if (op == UNARY_SOFTPLUS) run(UNARY_SOFTPLUS, x + q, out + q, n);
  else if (op == UNARY_RELU) run(UNARY_RELU, x + q, out + q, n);
  else if (op == UNARY_NEG) run(UNARY_NEG, x + q, out + q, n);
  else run(UNARY_GELU, x + q, out + q, n);
}

/** dx = dy ⊙ silu'(x) = dy σ(x)(1 + x(1 − σ(x))). */
// @ts-ignore: decorator
@inline function siluGrad(x: v128, dy: v128): v128 {
  const s = vsigmoid(x), one = splat(1);
  return f32x4.mul(f32x4.mul(dy, s), f32x4.add(one, f32x4.mul(x, f32x4.sub(one, s))));
}

/** dx = dy ⊙ softplus'(x) = dy σ(x), and dy itself above the threshold 20. */
// @ts-ignore: decorator
@inline function softplusGrad(x: v128, dy: v128): v128 {
  return v128.bitselect(dy, f32x4.mul(dy, vsigmoid(x)), f32x4.gt(x, splat(20)));
}

/**
 * The reference computes tanh′ and σ′ in float64 and rounds once: dy (1 − y²) and (dy y)(1 − y). The same
 * operations in f64x2, two lanes at a time, give its bits exactly (each f64 operation is correctly rounded
 * on both sides; no fused multiply-add).
 */
// @ts-ignore: decorator
@inline function grad64(op: i32, y: v128, dy: v128): v128 {
  const one = f64x2.splat(1);
  const yl = f64x2.promote_low_f32x4(y), yh = f64x2.promote_low_f32x4(v128.shuffle<f32>(y, y, 2, 3, 0, 1));
  const gl = f64x2.promote_low_f32x4(dy), gh = f64x2.promote_low_f32x4(v128.shuffle<f32>(dy, dy, 2, 3, 0, 1));
  let rl: v128, rh: v128;
  if (op == UNARY_TANH) {
    rl = f64x2.mul(gl, f64x2.sub(one, f64x2.mul(yl, yl)));
    rh = f64x2.mul(gh, f64x2.sub(one, f64x2.mul(yh, yh)));
  } else {
    rl = f64x2.mul(f64x2.mul(gl, yl), f64x2.sub(one, yl));
    rh = f64x2.mul(f64x2.mul(gh, yh), f64x2.sub(one, yh));
  }
  const lo = f32x4.demote_f64x2_zero(rl), hi = f32x4.demote_f64x2_zero(rh);
  return v128.shuffle<f32>(lo, hi, 0, 1, 4, 5);
}

/** dx = dy ⊙ f'(·); `x` is the input x, or for exp, tanh and sigmoid the output y (what the reference reads). */
// @ts-ignore: decorator
@inline function grad(op: i32, x: v128, dy: v128): v128 {
  // dy·y: the product of two float32 values is exact in float64, so one float32 multiply has the reference's bits.
  if (op == UNARY_EXP) return f32x4.mul(dy, x);
  if (op == UNARY_TANH || op == UNARY_SIGMOID) return grad64(op, x, dy);
  if (op == UNARY_SILU) return siluGrad(x, dy);
  if (op == UNARY_SOFTPLUS) return softplusGrad(x, dy);
  if (op == UNARY_RELU) return v128.bitselect(dy, splat(0), f32x4.gt(x, splat(0)));
  if (op == UNARY_NEG) return f32x4.neg(dy);
  return f32x4.mul(dy, vgeluGrad(x));
}

// @ts-ignore: decorator
@inline function runGrad(op: i32, x: usize, dy: usize, dx: usize, n: i32): void {
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) {
    const q = <usize>i << 2, xv = v128.load(x + q), g = v128.load(dy + q);
    v128.store(dx + q, grad(op, xv, g));
  }
  const r = n - n4;
  if (r) {
    const q = <usize>n4 << 2, xv = loadTail(x + q, r), g = loadTail(dy + q, r);
    storeTail(dx + q, r, grad(op, xv, g));
  }
}

/**
 * dx[i] = dy[i] f'(·) for exp, tanh, sigmoid (`x` is then the output y), silu, softplus, GELU, relu and neg
 * (`x` the input), i in [i0, i1); dx may equal dy.
 */
export function unaryBackwardRange(op: i32, x: usize, dy: usize, dx: usize, i0: i32, i1: i32): void {
  const q = <usize>i0 << 2, n = i1 - i0;
  if (op == UNARY_EXP) runGrad(UNARY_EXP, x + q, dy + q, dx + q, n);
  else if (op == UNARY_TANH) runGrad(UNARY_TANH, x + q, dy + q, dx + q, n);
  else if (op == UNARY_SIGMOID) runGrad(UNARY_SIGMOID, x + q, dy + q, dx + q, n);
  else if (op == UNARY_SILU) runGrad(UNARY_SILU, x + q, dy + q, dx + q, n);
  else if (op == UNARY_SOFTPLUS) runGrad(UNARY_SOFTPLUS, x + q, dy + q, dx + q, n);
  else if (op == UNARY_RELU) runGrad(UNARY_RELU, x + q, dy + q, dx + q, n);
  else if (op == UNARY_NEG) runGrad(UNARY_NEG, x + q, dy + q, dx + q, n);
  else runGrad(UNARY_GELU, x + q, dy + q, dx + q, n);
}
