import { expect } from 'vitest';
import { Tensor, randn, type FloatArray } from '../src/index.js';
import { gradcheck, type GradcheckOptions } from '../src/autograd/gradcheck.js';

/** A float64 leaf with requiresGrad, from a seeded normal. */
export function leaf64(shape: number[], seed: number, scale = 1, shift = 0): Tensor {
  const t = randn(shape, { seed, dtype: 'float64' });
  for (let i = 0; i < t.size; i++) t.buf[i] = t.buf[i]! * scale + shift;
  t.requiresGrad = true;
  return t;
}

export function expectGradOk(fn: () => Tensor | Tensor[], inputs: Tensor[], opts?: GradcheckOptions): void {
  const bad = gradcheck(fn, inputs, opts);
  expect(bad.slice(0, 5)).toEqual([]);
}

/** |a − b| ≤ atol + rtol·|b| elementwise, with the worst element in the message. */
export function expectClose(actual: FloatArray | Tensor, expected: FloatArray | Tensor | readonly number[], atol = 1e-5, rtol = 1e-4, what = ''): void {
  const a = actual instanceof Tensor ? actual.buf : actual;
  const b = expected instanceof Tensor ? expected.buf : expected;
  expect(a.length, `${what} length`).toBe(b.length);
  let worst = -1, worstErr = 0;
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i]! - b[i]!) - (atol + rtol * Math.abs(b[i]!));
    if (!(err <= 0) && (worst < 0 || err > worstErr || Number.isNaN(err))) { worst = i; worstErr = err; }
  }
  if (worst >= 0) {
    expect.fail(`${what}: element ${worst} is ${a[worst]}, expected ${b[worst]} (atol ${atol}, rtol ${rtol})`);
  }
}
