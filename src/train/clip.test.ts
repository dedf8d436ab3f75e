import { describe, expect, it } from 'vitest';
import * as sl from '../index.js';

function withGrads(values: number[][]): sl.Tensor[] {
  return values.map((v) => {
    const p = sl.zeros([v.length], { requiresGrad: true });
    p.grad = sl.tensor(v);
    return p;
  });
}

describe('clipGradNorm', () => {
  it('scales every gradient by maxNorm / (total + 1e-6) when the global norm is too large', () => {
    const ps = withGrads([[3, 0], [0, 4]]); // global L2 norm 5
    expect(sl.clipGradNorm(ps, 1)).toBeCloseTo(5, 6);
    const c = 1 / (5 + 1e-6);
    expect(Array.from(ps[0]!.grad!.buf)).toEqual([Math.fround(3 * c), 0]);
    expect(Array.from(ps[1]!.grad!.buf)).toEqual([0, Math.fround(4 * c)]);
  });

  it('leaves small gradients alone and supports the infinity norm and other orders', () => {
    const ps = withGrads([[3, 0], [0, -4]]);
    expect(sl.clipGradNorm(ps, 10)).toBeCloseTo(5, 6);
    expect(Array.from(ps[1]!.grad!.buf)).toEqual([0, -4]);
    expect(sl.clipGradNorm(ps, 10, Infinity)).toBe(4);
    expect(sl.clipGradNorm(ps, 10, 1)).toBe(7);
    expect(sl.clipGradNorm(ps, 2, Infinity)).toBe(4);
    expect(ps[1]!.grad!.buf[1]).toBeCloseTo(-2, 5);
  });

  it('skips parameters without gradients; nothing to clip gives 0', () => {
    const p = sl.zeros([2], { requiresGrad: true });
    expect(sl.clipGradNorm([p], 1)).toBe(0);
    expect(() => sl.clipGradNorm(withGrads([[NaN]]), 1, 2, { errorIfNonfinite: true })).toThrow(/finite total gradient norm/);
  });

  it('clips gradients shared through an add exactly once (each leaf owns its .grad)', () => {
    const a = sl.tensor([3, 4], [2], { requiresGrad: true }), b = sl.tensor([0, 0], [2], { requiresGrad: true });
    sl.sum(sl.mul(sl.add(a, b), sl.tensor([3, 4]))).backward(); // a.grad = b.grad = [3, 4]
    const total = sl.clipGradNorm([a, b], 1);
    expect(total).toBeCloseTo(Math.sqrt(50), 5);
    expect(a.grad!.buf[0]).toBeCloseTo(3 / Math.sqrt(50), 6);
    expect(b.grad!.buf[0]).toBeCloseTo(3 / Math.sqrt(50), 6);
  });
});

describe('clipGradValue', () => {
  it('clamps every value into [−clip, clip]', () => {
    const ps = withGrads([[0.5, -2, 0.1]]);
    sl.clipGradValue(ps, 0.25);
    expect(Array.from(ps[0]!.grad!.buf)).toEqual([0.25, -0.25, Math.fround(0.1)]);
  });
});
