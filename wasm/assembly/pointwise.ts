/**
 * Elementwise functions over n contiguous float32 values. exp, tanh, sigmoid and silu run 4 lanes at a
 * time (math.ts has the algorithms and their error bounds), with the leftover n mod 4 values through the
 * same vector code. softplus and GELU run in float64 by the reference's formulas (src/kernels/ref:
 * log1p(e^x), and the erf of erf.ts), so their results are the reference's rounded to float32.
 * Backward: dx = dy ⊙ f'(x) for silu and softplus (4 lanes, vsigmoid) and GELU (float64).
 * Every value is computed the same way wherever a range starts, so parallel.ts may split any range.
 */
import { vexp, vsigmoid, vtanh } from './math';
import { splat } from './vec';

export const UNARY_EXP = 0, UNARY_TANH = 1, UNARY_SIGMOID = 2, UNARY_SILU = 3, UNARY_SOFTPLUS = 4, UNARY_GELU = 5;

// @ts-ignore: decorator
@inline function apply(op: i32, x: v128): v128 {
  if (op == UNARY_EXP) return vexp(x);
  if (op == UNARY_TANH) return vtanh(x);
  if (op == UNARY_SIGMOID) return vsigmoid(x);
  return f32x4.mul(x, vsigmoid(x)); // silu
}

/** The leftover r < 4 values at x as one vector (the rest of its lanes 0). */
// @ts-ignore: decorator
@inline function loadTail(x: usize, r: i32): v128 {
  let v = splat(0);
  v = f32x4.replace_lane(v, 0, load<f32>(x));
  if (r > 1) v = f32x4.replace_lane(v, 1, load<f32>(x, 4));
  if (r > 2) v = f32x4.replace_lane(v, 2, load<f32>(x, 8));
  return v;
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

const TWO_OVER_SQRT_PI: f64 = 1.1283791670955126;
const INV_SQRT_PI: f64 = 0.5641895835477563;
const SQRT1_2: f64 = 0.7071067811865476;
const INV_SQRT_2PI: f64 = 0.3989422804014327;

/** erf(x) by the reference's algorithm (src/kernels/ref/erf.ts has the why): a positive series below 2.5, a continued fraction above. */
function erf(x: f64): f64 {
  const a = Math.abs(x);
  if (a < 2.5) {
    const x2 = x * x;
    let term = x, sum = x;
    for (let n = 1; n < 100; n++) {
      term *= (2 * x2) / <f64>(2 * n + 1);
      sum += term;
      if (Math.abs(term) <= 1e-17 * Math.abs(sum)) break;
    }
    return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
  }
  if (a >= 6) return x > 0 ? 1 : -1;
  let f = a;
  for (let n = 60; n >= 1; n--) f = a + <f64>n / 2 / f;
  const erfc = (INV_SQRT_PI * Math.exp(-a * a)) / f;
  return x > 0 ? 1 - erfc : erfc - 1;
}

/** out[i] = f(x[i]) for the op codes above, i in [i0, i1); out may equal x. */
export function unaryRange(op: i32, x: usize, out: usize, i0: i32, i1: i32): void {
  const q = <usize>i0 << 2, n = i1 - i0;
  // One loop per op, so each inner loop is branch-free.
  if (op == UNARY_EXP) run(UNARY_EXP, x + q, out + q, n);
  else if (op == UNARY_TANH) run(UNARY_TANH, x + q, out + q, n);
  else if (op == UNARY_SIGMOID) run(UNARY_SIGMOID, x + q, out + q, n);
  else if (op == UNARY_SILU) run(UNARY_SILU, x + q, out + q, n);
  else if (op == UNARY_SOFTPLUS) {
    for (let i = i0; i < i1; i++) { // PyTorch's threshold: x above 20 is returned as is
      const v = <f64>load<f32>(x + (<usize>i << 2));
      store<f32>(out + (<usize>i << 2), <f32>(v > 20 ? v : Math.log1p(Math.exp(v))));
    }
  } else {
    for (let i = i0; i < i1; i++) {
      const v = <f64>load<f32>(x + (<usize>i << 2));
      store<f32>(out + (<usize>i << 2), <f32>(0.5 * v * (1 + erf(v * SQRT1_2))));
    }
  }
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

// @ts-ignore: decorator
@inline function runGrad(op: i32, x: usize, dy: usize, dx: usize, n: i32): void {
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) {
    const q = <usize>i << 2, xv = v128.load(x + q), g = v128.load(dy + q);
    v128.store(dx + q, op == UNARY_SILU ? siluGrad(xv, g) : softplusGrad(xv, g));
  }
  const r = n - n4;
  if (r) {
    const q = <usize>n4 << 2, xv = loadTail(x + q, r), g = loadTail(dy + q, r);
    storeTail(dx + q, r, op == UNARY_SILU ? siluGrad(xv, g) : softplusGrad(xv, g));
  }
}

/** dx[i] = dy[i] f'(x[i]) for silu, softplus and GELU, i in [i0, i1); dx may equal dy. */
export function unaryBackwardRange(op: i32, x: usize, dy: usize, dx: usize, i0: i32, i1: i32): void {
  const q = <usize>i0 << 2, n = i1 - i0;
  if (op == UNARY_SILU) runGrad(UNARY_SILU, x + q, dy + q, dx + q, n);
  else if (op == UNARY_SOFTPLUS) runGrad(UNARY_SOFTPLUS, x + q, dy + q, dx + q, n);
  else {
    for (let i = i0; i < i1; i++) { // Φ(x) + x φ(x)
      const p = <usize>i << 2, v = <f64>load<f32>(x + p);
      const grad = 0.5 * (1 + erf(v * SQRT1_2)) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v);
      store<f32>(dx + p, <f32>(<f64>load<f32>(dy + p) * grad));
    }
  }
}
