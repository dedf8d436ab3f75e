/**
 * StreamSession's `reuseLogits`: every step returns the same tensor, overwritten with exactly the logits a
 * session without the option returns, for every family (the GPT through `step`, the others in place) and
 * two streams; `stepInPlace` rejects an `out` of the wrong shape.
 */
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';
import { MODERN_FAMILIES, tinyConfig } from '../tiny-configs.js';

const CONFIGS: [string, Record<string, unknown>][] = [
  ...MODERN_FAMILIES.map((f): [string, Record<string, unknown>] => [f, tinyConfig(f, 16, 13)]),
  ['lstm', { cell: 'lstm', vocabSize: 13, hiddenSize: 8 }],
];

describe('StreamSession reuseLogits', () => {
  it.each(CONFIGS)('%s: one tensor, the same values as new logits per step', (family, config) => {
    sl.manualSeed(1);
    const model = sl.models.createModel(family, config);
    const fresh = new sl.StreamSession(model, { batch: 2 }), reused = new sl.StreamSession(model, { batch: 2, reuseLogits: true });
    let first: sl.Tensor | null = null;
    sl.noGrad(() => {
      for (let t = 0; t < 6; t++) {
        const ids = [(t * 5) % 13, (t * 3 + 1) % 13];
        const a = fresh.step(ids), b = reused.step(ids);
        first ??= b;
        expect(b).toBe(first);
        expect(b.shape).toEqual([2, 13]);
        expect(Array.from(b.data)).toEqual(Array.from(a.data));
      }
    });
  });

  it.each(['lstm', 'gru', 'rnn'])('%s LM, 2 layers, 3 streams: the in-place session step equals model.step (logits and state)', (cell) => {
    sl.manualSeed(2);
    const model = sl.models.createModel(cell, { cell, vocabSize: 13, hiddenSize: 8, numLayers: 2 });
    const session = new sl.StreamSession(model, { batch: 3, reuseLogits: true });
    let state = model.initState(3);
    sl.noGrad(() => {
      for (let t = 0; t < 8; t++) {
        const ids = [(t * 5) % 13, (t * 3 + 1) % 13, (t + 7) % 13];
        const r = model.step(ids, state);
        state = r.state;
        const got = session.step(ids);
        const want = Array.from(r.logits.data);
        Array.from(got.data).forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(want[i]!))));
      }
    });
    expect(Array.from(sl.serializeState(session.state))).toEqual(Array.from(sl.serializeState(state)));
    expect(() => sl.noGrad(() => model.stepInPlace!([1], model.initState(1), sl.zeros([2, 13])))).toThrow(/out: a float32 tensor \[1, 13\]/);
  });

  it('stepInPlace checks the shape of out', () => {
    const model = sl.models.createModel('mamba', CONFIGS[0]![1]);
    const state = model.initState(1);
    expect(() => sl.noGrad(() => model.stepInPlace!([1], state, sl.zeros([2, 13])))).toThrow(/out: a float32 tensor \[1, 13\]/);
  });
});
