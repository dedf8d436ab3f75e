/**
 * The fused causal attention op: float64 finite differences w.r.t. q, k and v (whole sequences and
 * continuations over a KV cache), and fused == composite twin in values and gradients.
 */
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';
import { causalAttention, causalAttentionComposite, causalMask } from '../../src/ops/attention.js';
import { expectClose, expectGradOk, leaf64 } from '../helpers.js';

// [B, Tq, Tk, C, H]: whole sequence, cache continuation, one decode step, one head, batch 1, odd sizes.
const shapes: [number, number, number, number, number][] = [
  [2, 4, 4, 6, 2], [2, 3, 5, 4, 2], [1, 1, 6, 6, 3], [3, 5, 5, 3, 1], [1, 7, 7, 10, 5],
];

describe('causalAttention: float64 finite differences', () => {
  for (const [B, Tq, Tk, C, H] of shapes) {
    it(`B=${B} Tq=${Tq} Tk=${Tk} C=${C} H=${H}`, () => {
      const q = leaf64([B, Tq, C], 1), k = leaf64([B, Tk, C], 2), v = leaf64([B, Tk, C], 3);
      expectGradOk(() => causalAttention(q, k, v, H), [q, k, v]);
    });
  }
  it('large scores stay finite (log-sum-exp)', () => {
    const q = leaf64([1, 3, 4], 1, 30), k = leaf64([1, 3, 4], 2, 30), v = leaf64([1, 3, 4], 3);
    const y = causalAttention(q, k, v, 1);
    expect(Array.from(y.buf).every(Number.isFinite)).toBe(true);
    expectGradOk(() => causalAttention(q, k, v, 2), [q, k, v], { atol: 1e-5, rtol: 1e-4 });
  });
});

describe('causalAttention (fused) == causalAttentionComposite (matmul, −∞ mask, softmax)', () => {
  for (const [B, Tq, Tk, C, H] of shapes) {
    it(`values and gradients, B=${B} Tq=${Tq} Tk=${Tk} C=${C} H=${H}`, () => {
      const q = leaf64([B, Tq, C], 4), k = leaf64([B, Tk, C], 5), v = leaf64([B, Tk, C], 6);
      const up = sl.randn([B, Tq, C], { seed: 7, dtype: 'float64' });
      const run = (f: typeof causalAttention) => {
        for (const t of [q, k, v]) t.grad = null;
        const y = f(q, k, v, H);
        sl.backward(y, up);
        return { y: y.buf.slice(), grads: [q, k, v].map((t) => t.grad!.buf.slice()) };
      };
      const fused = run(causalAttention), comp = run((a, b, c, h) => causalAttentionComposite(a, b, c, h));
      expectClose(fused.y, comp.y, 1e-12, 1e-10, 'y');
      fused.grads.forEach((g, i) => expectClose(g, comp.grads[i]!, 1e-12, 1e-10, ['dq', 'dk', 'dv'][i]));
    });
  }
  it('the first query sees only the first key: y_0 = v_0 per head', () => {
    const q = leaf64([1, 3, 4], 1), k = leaf64([1, 3, 4], 2), v = leaf64([1, 3, 4], 3);
    expectClose(sl.narrow(causalAttention(q, k, v, 2), 1, 0, 1), sl.narrow(v, 1, 0, 1), 1e-15, 0, 'y_0');
  });
  it('the mask hides exactly the future', () => {
    expect(Array.from(causalMask(2, 4).buf)).toEqual([0, 0, 0, -Infinity, 0, 0, 0, 0]);
  });
  it('rejects mismatched shapes and head counts', () => {
    const q = sl.zeros([1, 3, 4]), k = sl.zeros([1, 2, 4]);
    expect(() => causalAttention(q, k, k, 2)).toThrowErrorMatchingInlineSnapshot(`[ShapeError: causalAttention: expected k and v [1, Tk, 4] with Tk ≥ Tq = 3 (q is [1, 3, 4]), got k [1, 2, 4], v [1, 2, 4].]`);
    expect(() => causalAttention(q, q, q, 3)).toThrowErrorMatchingInlineSnapshot(`[ConfigError: causalAttention: expected nHead a positive divisor of the width C = 4, got 3.]`);
  });
});
