/**
 * The fused WKV ops of RWKV-6 and RWKV-7: float64 finite differences w.r.t. every input (including the
 * initial state, through both outputs y and the final state), and equality with the composite twins in
 * value and gradient. T = 37 crosses two state checkpoints (every 16 steps) and ends mid-stretch.
 */
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';
import { wkv6, wkv6Composite, wkv7, wkv7Composite, type WkvResult } from '../../src/ops/wkv.js';
import { expectClose, expectGradOk, leaf64 } from '../helpers.js';

/** Decay factors in (0.3, 1) from a seeded normal, like exp(−exp(logit)) gives. */
function decay64(shape: number[], seed: number): sl.Tensor {
  const t = leaf64(shape, seed);
  for (let i = 0; i < t.size; i++) t.buf[i] = 0.3 + 0.7 / (1 + Math.exp(-t.buf[i]!));
  return t;
}

function inputs6(B: number, T: number, H: number, N: number) {
  return [leaf64([B, T, H, N], 1, 0.5), leaf64([B, T, H, N], 2, 0.5), leaf64([B, T, H, N], 3, 0.5), decay64([B, T, H, N], 4),
    leaf64([H, N], 5, 0.5), leaf64([B, H, N, N], 6, 0.5)] as const;
}

function inputs7(B: number, T: number, H: number, N: number) {
  // a = −k̂ and b = k̂ ⊙ a_icl in the model; small random values keep the state bounded here too.
  return [leaf64([B, T, H, N], 11, 0.5), decay64([B, T, H, N], 12), leaf64([B, T, H, N], 13, 0.5), leaf64([B, T, H, N], 14, 0.5),
    leaf64([B, T, H, N], 15, 0.3), leaf64([B, T, H, N], 16, 0.3), leaf64([B, H, N, N], 17, 0.5)] as const;
}

const both = (r: WkvResult) => [r.y, r.state];

const OPS = {
  wkv6: (B: number, T: number, H: number, N: number) => { const x = inputs6(B, T, H, N); return { x: [...x], run: () => wkv6(...x) }; },
  wkv7: (B: number, T: number, H: number, N: number) => { const x = inputs7(B, T, H, N); return { x: [...x], run: () => wkv7(...x) }; },
};

for (const [name, make] of Object.entries(OPS)) {
  describe(`${name}: float64 finite differences`, () => {
    for (const [B, T, H, N] of [[2, 5, 2, 3], [1, 37, 1, 2], [1, 1, 1, 1]] as const) {
      it(`B=${B} T=${T} H=${H} N=${N}`, () => {
        const { x, run } = make(B, T, H, N);
        expectGradOk(() => both(run()), x);
      });
    }
    it('gradient through y only and through the final state only', () => {
      const { x, run } = make(1, 4, 2, 2);
      expectGradOk(() => run().y, x);
      expectGradOk(() => run().state, x);
    });
  });
}

/** Values and gradients of L = Σ y ⊙ gy + Σ state ⊙ gs for the fused op and its twin. */
function compareTwins(fused: () => WkvResult, composite: () => WkvResult, leaves: readonly sl.Tensor[]): void {
  const run = (f: () => WkvResult) => {
    for (const l of leaves) l.grad = null;
    const { y, state } = f();
    const gy = sl.randn(y.shape, { seed: 21, dtype: 'float64' }), gs = sl.randn(state.shape, { seed: 22, dtype: 'float64' });
    sl.add(sl.sum(sl.mul(y, gy)), sl.sum(sl.mul(state, gs))).backward();
    return { y: Float64Array.from(y.buf), state: Float64Array.from(state.buf), grads: leaves.map((l) => Float64Array.from(l.grad!.buf)) };
  };
  const a = run(fused), b = run(composite);
  expectClose(a.y, b.y, 1e-12, 1e-10, 'y');
  expectClose(a.state, b.state, 1e-12, 1e-10, 'state');
  a.grads.forEach((g, i) => expectClose(g, b.grads[i]!, 1e-12, 1e-10, `grad of input ${i}`));
}

describe('fused == composite twin (values and gradients)', () => {
  it('wkv6', () => {
    const x = inputs6(2, 19, 2, 3);
    compareTwins(() => wkv6(...x), () => wkv6Composite(...x), x);
  });
  it('wkv7', () => {
    const x = inputs7(2, 19, 2, 3);
    compareTwins(() => wkv7(...x), () => wkv7Composite(...x), x);
  });
});

describe('chunks with carried state equal one pass', () => {
  it('wkv6 and wkv7, split 11 + 8', () => {
    const x6 = inputs6(2, 19, 2, 3), x7 = inputs7(2, 19, 2, 3);
    const split = (t: sl.Tensor, a: number, n: number) => (t.ndim === 4 && t.shape[1] === 19 ? sl.narrow(t, 1, a, n) : t);
    const one6 = wkv6(...x6);
    const p6 = wkv6(...(x6.map((t) => split(t, 0, 11)) as unknown as typeof x6));
    const q6 = wkv6(...(x6.map((t, i) => (i === 5 ? p6.state : split(t, 11, 8))) as unknown as typeof x6));
    expectClose(sl.concat([p6.y, q6.y], 1), one6.y, 1e-12, 1e-10, 'wkv6 y');
    expectClose(q6.state, one6.state, 1e-12, 1e-10, 'wkv6 state');
    const one7 = wkv7(...x7);
    const p7 = wkv7(...(x7.map((t) => split(t, 0, 11)) as unknown as typeof x7));
    const q7 = wkv7(...(x7.map((t, i) => (i === 6 ? p7.state : split(t, 11, 8))) as unknown as typeof x7));
    expectClose(sl.concat([p7.y, q7.y], 1), one7.y, 1e-12, 1e-10, 'wkv7 y');
    expectClose(q7.state, one7.state, 1e-12, 1e-10, 'wkv7 state');
  });
});

describe('bad input', () => {
  it('names the op and the mismatched tensor', () => {
    const x = inputs6(1, 3, 2, 2);
    expect(() => wkv6(x[0], x[1], sl.narrow(x[2], 1, 0, 2), x[3], x[4], x[5])).toThrow(
      'wkv6: expected v of shape [1, 3, 2, 2] (as r), got [1, 2, 2, 2].');
    expect(() => wkv6(x[0], x[1], x[2], x[3], x[4], sl.zeros([1, 2, 2, 3], { dtype: 'float64' }))).toThrow(
      'wkv6: expected state [B, H, N, N] = [1, 2, 2, 2], got [1, 2, 2, 3].');
    const y = inputs7(1, 3, 2, 2);
    expect(() => wkv7(sl.reshape(y[0], [1, 3, 4]), y[1], y[2], y[3], y[4], y[5], y[6])).toThrow(
      'wkv7: expected r [B, T, H, N], got [1, 3, 4].');
  });
});
