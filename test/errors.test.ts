/**
 * Pinned messages for the errors users meet first (P11): a wording change shows up in review.
 * Module-specific messages are pinned beside their code (src/nn/*.test.ts, src/train/*.test.ts).
 */
import { describe, expect, it } from 'vitest';
import * as sl from '../src/index.js';

describe('error messages', () => {
  it('matmul and add with mismatched shapes', () => {
    expect(() => sl.matmul(sl.zeros([2, 3]), sl.zeros([4, 5]))).toThrowErrorMatchingInlineSnapshot(`[ShapeError: matmul: expected inner dimensions to match (3 vs 4), got [2, 3] @ [4, 5].]`);
    expect(() => sl.add(sl.zeros([2, 3]), sl.zeros([4]))).toThrowErrorMatchingInlineSnapshot(`[ShapeError: add: expected shapes that broadcast (equal sizes or 1, aligned from the right), got [2, 3] and [4] (dim -1 is 3 vs 4).]`);
  });

  it('backward on a non-scalar', () => {
    const y = sl.mul(sl.ones([2, 2], { requiresGrad: true }), 2);
    expect(() => y.backward()).toThrowErrorMatchingInlineSnapshot(`[ShapeError: backward: expected a one-element tensor (a scalar loss), got shape [2, 2]. Hint: reduce it first, e.g. loss.sum() or loss.mean(), or pass the upstream gradient]`);
  });

  it('crossEntropy targets of the wrong shape and out of range', () => {
    const logits = sl.zeros([4, 3]);
    expect(() => sl.losses.crossEntropy(logits, [0, 1])).toThrowErrorMatchingInlineSnapshot(`[ShapeError: crossEntropy: expected targets of shape [4] for logits [4, 3] (classes last), got [2].]`);
    expect(() => sl.losses.crossEntropy(logits, [0, 1, 3, 2])).toThrowErrorMatchingInlineSnapshot(`[ShapeError: crossEntropy: expected targets that are integers in [0, 3), got 3 at position 2.]`);
  });

  it('loadStateDict lists missing, unexpected and mis-shaped keys in one error', () => {
    const model = new sl.nn.Sequential(new sl.nn.Linear({ inFeatures: 2, outFeatures: 3 }), new sl.nn.LayerNorm({ normalizedShape: 3 }));
    const dict = { '0.weight': sl.zeros([3, 3]), '0.bias': sl.zeros([3]), '1.weigth': sl.ones([3]) };
    expect(() => model.loadStateDict(dict)).toThrowErrorMatchingInlineSnapshot(`
      [WeightImportError: Sequential.loadStateDict: the state dict does not match the module:
        missing keys: "1.weight", "1.bias"
        unexpected keys: "1.weigth" (did you mean "1.weight"?)
        mis-shaped keys: "0.weight" expected [3, 2], got [3, 3]. Hint: pass { strict: false } to load a partial state dict (mis-shaped keys are rejected either way)]
    `);
  });
});
