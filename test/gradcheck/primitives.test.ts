import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';
import { rules, type PrimitiveName } from '../../src/ops/primitives.js';
import { expectGradOk, leaf64 } from '../helpers.js';

// One finite-difference check per primitive; the record type makes a missing entry a compile error,
// so every rule in the table is exercised.
const cases: { [K in PrimitiveName]: () => void } = {
  add: () => { const a = leaf64([2, 3], 1), b = leaf64([3], 2); expectGradOk(() => sl.add(a, b), [a, b]); },
  sub: () => { const a = leaf64([2, 1, 3], 1), b = leaf64([4, 1], 2); expectGradOk(() => sl.sub(a, b), [a, b]); },
  mul: () => { const a = leaf64([2, 3], 1), b = leaf64([2, 1], 2); expectGradOk(() => sl.mul(a, b), [a, b]); },
  div: () => { const a = leaf64([2, 3], 1), b = leaf64([3], 2, 0.3, 2); expectGradOk(() => sl.div(a, b), [a, b]); },
  maximum: () => { const a = leaf64([4, 3], 1), b = leaf64([3], 2); expectGradOk(() => sl.maximum(a, b), [a, b]); },
  minimum: () => { const a = leaf64([4, 3], 1), b = leaf64([4, 3], 2); expectGradOk(() => sl.minimum(a, b), [a, b]); },
  neg: () => { const a = leaf64([5], 1); expectGradOk(() => sl.neg(a), [a]); },
  exp: () => { const a = leaf64([5], 1); expectGradOk(() => sl.exp(a), [a]); },
  log: () => { const a = leaf64([5], 1, 0.2, 2); expectGradOk(() => sl.log(a), [a]); },
  sqrt: () => { const a = leaf64([5], 1, 0.2, 2); expectGradOk(() => sl.sqrt(a), [a]); },
  tanh: () => { const a = leaf64([5], 1); expectGradOk(() => sl.tanh(a), [a]); },
  sigmoid: () => { const a = leaf64([5], 1, 3); expectGradOk(() => sl.sigmoid(a), [a]); },
  relu: () => { const a = leaf64([7], 1); expectGradOk(() => sl.relu(a), [a]); },
  abs: () => { const a = leaf64([7], 1); expectGradOk(() => sl.abs(a), [a]); },
  softplus: () => { const a = leaf64([7], 1, 5); expectGradOk(() => sl.softplus(a), [a]); },
  silu: () => { const a = leaf64([7], 1, 3); expectGradOk(() => sl.silu(a), [a]); },
  // Both erf regions (|x/√2| < 2.5 series, ≥ 2.5 continued fraction) and the saturated tails.
  gelu: () => { const a = leaf64([9], 1, 3); a.buf.set([-9, -4, -3.6, 3.4, 7], 4); expectGradOk(() => sl.gelu(a), [a]); },
  pow: () => { const a = leaf64([5], 1, 0.2, 2); expectGradOk(() => sl.pow(a, -0.5), [a]); expectGradOk(() => sl.pow(a, 3), [a]); },
  matmul: () => {
    const a = leaf64([3, 4], 1), b = leaf64([4, 5], 2);
    expectGradOk(() => sl.matmul(a, b), [a, b]);
    const a3 = leaf64([2, 3, 4], 3);
    expectGradOk(() => sl.matmul(a3, b), [a3, b]);
    const b3 = leaf64([2, 4, 2], 4);
    expectGradOk(() => sl.matmul(a3, b3), [a3, b3]);
    const w = leaf64([5, 4], 5);
    expectGradOk(() => sl.matmul(a3, w, { transB: true }), [a3, w]);
    const at = leaf64([4, 3], 6);
    expectGradOk(() => sl.matmul(at, w, { transA: true, transB: true }), [at, w]);
  },
  sum: () => {
    const a = leaf64([2, 3, 4], 1);
    expectGradOk(() => sl.sum(a), [a]);
    expectGradOk(() => sl.sum(a, [0, 2]), [a]);
    expectGradOk(() => sl.sum(a, 1, true), [a]);
  },
  max: () => { const a = leaf64([3, 4], 1); expectGradOk(() => sl.max(a, 1), [a]); expectGradOk(() => sl.max(a, 0, true), [a]); },
  reshape: () => { const a = leaf64([2, 6], 1); expectGradOk(() => sl.mul(sl.reshape(a, [3, -1]), sl.reshape(a, [3, 4])), [a]); },
  expand: () => { const a = leaf64([3, 1], 1); expectGradOk(() => sl.expand(a, [2, 3, 4]), [a]); },
  permute: () => { const a = leaf64([2, 3, 4], 1); expectGradOk(() => sl.permute(a, [2, 0, 1]), [a]); },
  slice: () => { const a = leaf64([3, 5], 1); expectGradOk(() => sl.narrow(a, 1, 1, 3), [a]); },
  concat: () => { const a = leaf64([2, 3], 1), b = leaf64([2, 2], 2); expectGradOk(() => sl.concat([a, b], 1), [a, b]); },
  indexSelect: () => {
    const a = leaf64([5, 3], 1);
    expectGradOk(() => sl.indexSelect(a, [1, 3, 1, 0], [2, 2]), [a]);
  },
  softmax: () => {
    const a = leaf64([3, 5], 1, 2);
    expectGradOk(() => sl.softmax(a), [a]);
    expectGradOk(() => sl.logSoftmax(a), [a]);
    expectGradOk(() => sl.softmax(a, 0), [a]);
  },
};

describe('every primitive passes a float64 finite-difference check', () => {
  it('the case list covers the rule table exactly', () => {
    expect(Object.keys(cases).sort()).toEqual(Object.keys(rules).sort());
  });
  for (const [name, run] of Object.entries(cases)) it(name, run);
});

describe('composites get gradients from primitives', () => {
  it('mean, variance, linear, layerNormComposite, rmsNormComposite', () => {
    const x = leaf64([2, 3, 4], 1), w = leaf64([5, 4], 2), b = leaf64([5], 3);
    expectGradOk(() => sl.mean(x, [1]), [x]);
    expectGradOk(() => sl.variance(x, 2), [x]);
    expectGradOk(() => sl.linear(x, w, b), [x, w, b]);
    const g = leaf64([4], 4), be = leaf64([4], 5);
    expectGradOk(() => sl.layerNormComposite(x, [4], g, be, 1e-5), [x, g, be]);
    expectGradOk(() => sl.rmsNormComposite(x, [4], g, 1e-5), [x, g]);
  });
  it('a graph that uses a tensor twice sums both paths', () => {
    const x = leaf64([3], 1);
    expectGradOk(() => sl.mul(sl.tanh(x), sl.exp(x)), [x]);
  });
});

describe('fused losses', () => {
  it('squaredErrorSum and mse (mean, sum, none) against finite differences, both inputs', () => {
    const p = leaf64([3, 2, 5], 1), t = leaf64([3, 2, 5], 2);
    expectGradOk(() => sl.squaredErrorSum(p, t), [p, t]);
    for (const reduction of ['mean', 'sum', 'none'] as const) expectGradOk(() => sl.losses.mse(p, t, { reduction }), [p, t]);
  });
  it('mse mean equals the composed (p − t)² mean', () => {
    const p = leaf64([4, 7], 3), t = leaf64([4, 7], 4);
    const d = sl.sub(p, t);
    expect(sl.losses.mse(p, t).item()).toBeCloseTo(sl.mean(sl.mul(d, d)).item(), 14);
  });
});
