import { describe, expect, it } from 'vitest';
import * as sl from '../index.js';
import { expectClose, expectGradOk, leaf64 } from '../../test/helpers.js';

describe('GroupNorm', () => {
  it('normalises each (sample, group) over its channels and positions, then scales per channel', () => {
    // torch: F.group_norm(x, 2, w, b, eps=1e-5) for x [2, 4, 3]; here recomputed from the definition.
    const x = sl.randn([2, 4, 3], { seed: 1, dtype: 'float64' });
    const w = sl.randn([4], { seed: 2, dtype: 'float64' }), b = sl.randn([4], { seed: 3, dtype: 'float64' });
    const y = sl.groupNorm(x, 2, w, b);
    const want = new Float64Array(24);
    for (let n = 0; n < 2; n++) {
      for (let g = 0; g < 2; g++) {
        const vals = [];
        for (let c = 2 * g; c < 2 * g + 2; c++) for (let p = 0; p < 3; p++) vals.push(x.buf[(n * 4 + c) * 3 + p]!);
        const mu = vals.reduce((s, v) => s + v, 0) / 6;
        const vr = vals.reduce((s, v) => s + (v - mu) ** 2, 0) / 6;
        for (let c = 2 * g; c < 2 * g + 2; c++) {
          for (let p = 0; p < 3; p++) want[(n * 4 + c) * 3 + p] = ((x.buf[(n * 4 + c) * 3 + p]! - mu) / Math.sqrt(vr + 1e-5)) * w.buf[c]! + b.buf[c]!;
        }
      }
    }
    expectClose(y, want, 1e-12, 1e-12, 'groupNorm');
  });
  it('has correct gradients (float64 finite differences)', () => {
    const x = leaf64([3, 6], 4), w = leaf64([6], 5), b = leaf64([6], 6);
    expectGradOk(() => sl.groupNorm(x, 3, w, b, 64e-5), [x, w, b]);
  });
  it('module: PyTorch names and init; bad shapes are named', () => {
    const m = new sl.nn.GroupNorm({ numGroups: 2, numChannels: 4 });
    expect(Object.keys(m.stateDict())).toEqual(['weight', 'bias']);
    expect(Array.from(m.weight!.data)).toEqual([1, 1, 1, 1]);
    expect(() => new sl.nn.GroupNorm({ numGroups: 3, numChannels: 4 })).toThrow(sl.ConfigError);
    expect(() => m.forward(sl.zeros([2, 5]))).toThrow('groupNorm: expected input [N, C, *] with C divisible by numGroups=2, got [2, 5].');
  });
});
