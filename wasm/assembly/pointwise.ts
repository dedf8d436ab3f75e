/**
 * Elementwise transcendental functions over n contiguous float32 values, 4 lanes at a time (math.ts has
 * the algorithms and their error bounds), with the leftover n mod 4 values through the same vector code.
 */
import { vexp, vsigmoid, vtanh } from './math';
import { splat } from './vec';

export const UNARY_EXP = 0, UNARY_TANH = 1, UNARY_SIGMOID = 2, UNARY_SILU = 3;

// @ts-ignore: decorator
@inline function apply(op: i32, x: v128): v128 {
  if (op == UNARY_EXP) return vexp(x);
  if (op == UNARY_TANH) return vtanh(x);
  if (op == UNARY_SIGMOID) return vsigmoid(x);
  return f32x4.mul(x, vsigmoid(x)); // silu
}

// @ts-ignore: decorator
@inline function run(op: i32, x: usize, out: usize, n: i32): void {
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) {
    const q = <usize>i << 2;
    v128.store(out + q, apply(op, v128.load(x + q)));
  }
  const r = n - n4;
  if (r) {
    const q = <usize>n4 << 2;
    let v = splat(0);
    v = f32x4.replace_lane(v, 0, load<f32>(x + q));
    if (r > 1) v = f32x4.replace_lane(v, 1, load<f32>(x + q, 4));
    if (r > 2) v = f32x4.replace_lane(v, 2, load<f32>(x + q, 8));
    const y = apply(op, v);
    store<f32>(out + q, f32x4.extract_lane(y, 0));
    if (r > 1) store<f32>(out + q, f32x4.extract_lane(y, 1), 4);
    if (r > 2) store<f32>(out + q, f32x4.extract_lane(y, 2), 8);
  }
}

/** out[i] = f(x[i]) for f in exp, tanh, sigmoid, silu (op codes above); out may equal x. */
export function unaryF32(op: i32, x: usize, out: usize, n: i32): void {
  // One loop per op, so each inner loop is branch-free.
  if (op == UNARY_EXP) run(UNARY_EXP, x, out, n);
  else if (op == UNARY_TANH) run(UNARY_TANH, x, out, n);
  else if (op == UNARY_SIGMOID) run(UNARY_SIGMOID, x, out, n);
  else run(UNARY_SILU, x, out, n);
}
