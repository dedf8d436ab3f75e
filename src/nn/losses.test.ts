import { describe, expect, it } from 'vitest';
import * as sl from '../index.js';
import { expectClose, expectGradOk, leaf64 } from '../../test/helpers.js';

const { crossEntropy, nllLoss, mse, l1 } = sl.losses;

/** The textbook formula from primitives: −[(1−ε)·logp[t] + ε/C·Σ_c logp[c]] per kept row. */
function referenceCE(logits: sl.Tensor, targets: number[], ignoreIndex: number, eps: number): number[] {
  const C = logits.shape[logits.ndim - 1]!;
  const logp = sl.logSoftmax(logits).buf;
  return targets.map((t, r) => {
    if (t === ignoreIndex) return 0;
    let s = 0;
    for (let c = 0; c < C; c++) s += logp[r * C + c]!;
    return -((1 - eps) * logp[r * C + t]! + (eps / C) * s);
  });
}

describe('crossEntropy', () => {
  const targets = [[0, 3, 4], [2, -100, 1]];
  const flat = targets.flat();

  it('matches the formula for every reduction, with ignoreIndex and label smoothing', () => {
    const logits = leaf64([2, 3, 5], 1, 2);
    for (const eps of [0, 0.1]) {
      const ref = referenceCE(logits, flat, -100, eps);
      const none = crossEntropy(logits, targets, { reduction: 'none', labelSmoothing: eps });
      expect(none.shape).toEqual([2, 3]);
      expectClose(none, ref, 1e-12, 1e-10, `none ε=${eps}`);
      const total = ref.reduce((a, b) => a + b, 0);
      expect(crossEntropy(logits, targets, { reduction: 'sum', labelSmoothing: eps }).item()).toBeCloseTo(total, 12);
      expect(crossEntropy(logits, targets, { labelSmoothing: eps }).item()).toBeCloseTo(total / 5, 12); // 5 kept rows
    }
  });

  it('passes float64 finite differences (all reductions, ignoreIndex, label smoothing)', () => {
    const logits = leaf64([2, 3, 5], 2, 2);
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      expectGradOk(() => crossEntropy(logits, targets, { reduction }), [logits]);
      expectGradOk(() => crossEntropy(logits, targets, { reduction, labelSmoothing: 0.2 }), [logits]);
    }
    const t2 = [0, 2, 4, 1, 2, 3];
    const l2 = leaf64([6, 5], 3);
    expectGradOk(() => crossEntropy(l2, t2, { ignoreIndex: 2 }), [l2]);
    expectGradOk(() => crossEntropy(l2, sl.tensor(t2), { ignoreIndex: 2, labelSmoothing: 0.1 }), [l2]);
  });

  it('mean over zero kept elements is NaN, as in PyTorch', () => {
    expect(crossEntropy(sl.zeros([2, 3]), [-100, -100]).item()).toBeNaN();
  });

  it('nllLoss on log-probabilities equals crossEntropy on logits', () => {
    const logits = leaf64([2, 3, 5], 4);
    const a = nllLoss(sl.logSoftmax(logits), targets), b = crossEntropy(logits, targets);
    expect(a.item()).toBeCloseTo(b.item(), 12);
    expectGradOk(() => nllLoss(sl.logSoftmax(logits), targets, { reduction: 'none' }), [logits]);
  });

  it('pins the messages for wrong target shapes and out-of-range targets', () => {
    const logits = sl.zeros([2, 3, 5]);
    expect(() => crossEntropy(logits, [[1, 2], [3, 4]])).toThrowErrorMatchingInlineSnapshot(`[ShapeError: crossEntropy: expected targets of shape [2, 3] for logits [2, 3, 5] (classes last), got [2, 2].]`);
    expect(() => crossEntropy(logits, [1, 2, 3])).toThrowErrorMatchingInlineSnapshot(`[ShapeError: crossEntropy: expected targets of shape [2, 3] for logits [2, 3, 5] (classes last), got [3].]`);
    expect(() => crossEntropy(logits, [[1, 2, 5], [0, 0, 0]])).toThrowErrorMatchingInlineSnapshot(`[ShapeError: crossEntropy: expected targets that are integers in [0, 5), got 5 at position 2.]`);
    expect(() => nllLoss(logits, [[1, 2, 3], [0, -1, 0]])).toThrowErrorMatchingInlineSnapshot(`[ShapeError: nllLoss: expected targets that are integers in [0, 5), got -1 at position 4.]`);
    expect(() => crossEntropy(logits, [0, 1, 2, 3, 4, 0], { reduction: 'avg' as 'mean' })).toThrowErrorMatchingInlineSnapshot(`[ConfigError: crossEntropy: expected reduction 'mean', 'sum' or 'none', got "avg".]`);
  });
});

describe('mse and l1', () => {
  it('match their formulas and pass float64 finite differences', () => {
    const p = leaf64([4, 3], 1), t = leaf64([4, 3], 2);
    let s = 0, a = 0;
    for (let i = 0; i < 12; i++) { const d = p.buf[i]! - t.buf[i]!; s += d * d; a += Math.abs(d); }
    expect(mse(p, t).item()).toBeCloseTo(s / 12, 12);
    expect(mse(p, t, { reduction: 'sum' }).item()).toBeCloseTo(s, 12);
    expect(l1(p, t).item()).toBeCloseTo(a / 12, 12);
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      expectGradOk(() => mse(p, t, { reduction }), [p, t]);
      expectGradOk(() => l1(p, t, { reduction }), [p, t]);
    }
  });

  it('refuse silently broadcasting shapes', () => {
    expect(() => mse(sl.zeros([4, 3]), sl.zeros([3]))).toThrowErrorMatchingInlineSnapshot(`[ShapeError: mse: expected target of the input's shape [4, 3], got [3].]`);
  });
});
