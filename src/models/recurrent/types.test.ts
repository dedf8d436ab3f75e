/** The recurrent models are generic over their cell: the state type follows `cell` with no casts (P10). */
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as sl from '../../index.js';

describe('RecurrentLM and SequenceRegressor: typed states, one step contract', () => {
  it('the state type follows the cell', () => {
    const lstm = new sl.models.RecurrentLM({ cell: 'lstm', vocabSize: 5, hiddenSize: 4 });
    const gru = new sl.models.RecurrentLM({ cell: 'gru', vocabSize: 5, hiddenSize: 4 });
    expectTypeOf(lstm.initState(1)).toEqualTypeOf<sl.nn.LSTMState>();
    expectTypeOf(gru.initState(1)).toEqualTypeOf<sl.nn.GRUState>();
    expectTypeOf(lstm.step([1], lstm.initState(1)).state).toEqualTypeOf<sl.nn.LSTMState>();
    const reg = new sl.SequenceRegressor({ cell: 'lstm', inputSize: 2, hiddenSize: 3, outputSize: 1 });
    expectTypeOf(reg.step(sl.zeros([1, 2]), reg.initState(1)).state).toEqualTypeOf<sl.nn.LSTMState>();
    const compileOnly = (): void => {
      // @ts-expect-error a GRU state has no cell state c
      lstm.step([1], gru.initState(1));
      // @ts-expect-error not a cell
      new sl.models.RecurrentLM({ cell: 'transformer', vocabSize: 5, hiddenSize: 4 });
    };
    void compileOnly;
    // At run time the LSTM state carries c, the GRU state does not.
    expect(Object.keys(lstm.initState(1)).sort()).toEqual(['c', 'h']);
    expect(Object.keys(gru.initState(1))).toEqual(['h']);
  });

  it('a streaming step equals the same row of a whole-sequence forward, for the LM and the regressor', () => {
    sl.manualSeed(3);
    const lm = new sl.models.RecurrentLM({ cell: 'gru', vocabSize: 7, hiddenSize: 6 });
    const seq = [1, 4, 2, 6];
    const whole = sl.noGrad(() => lm.forward([seq]).logits);
    let s = lm.initState(1);
    seq.forEach((id, t) => {
      const r = sl.noGrad(() => lm.step([id], s));
      s = r.state;
      expect(Array.from(r.logits.data)).toEqual(Array.from(whole.data.subarray(t * 7, (t + 1) * 7)));
    });
    const reg = new sl.SequenceRegressor({ cell: 'rnn', inputSize: 2, hiddenSize: 5, outputSize: 3 });
    const x = sl.randn([1, 4, 2], { seed: 1 });
    const out = sl.noGrad(() => reg.forward(x).output);
    let rs = reg.initState(1);
    for (let t = 0; t < 4; t++) {
      const r = sl.noGrad(() => reg.step(sl.tensor(x.data.slice(t * 2, t * 2 + 2), [1, 2]), rs));
      rs = r.state;
      expect(Array.from(r.output.data)).toEqual(Array.from(out.data.subarray(t * 3, t * 3 + 3)));
    }
  });
});

describe('createModel parses the config from untrusted input', () => {
  it('wrong types, unknown keys and non-objects are ConfigErrors naming the key', () => {
    expect(() => sl.models.createModel('lstm', { vocabSize: '5', hiddenSize: 4 })).toThrow(/RecurrentLM: expected vocabSize to be a number, got "5"/);
    expect(() => sl.models.createModel('gru', { vocabSize: 5, hiddenSize: 4, hiddenSze: 3 })).toThrow(/got 'hiddenSze'\. Hint: did you mean 'hiddenSize'\?/);
    expect(() => sl.models.createModel('rnn', { vocabSize: 5 })).toThrow(/expected hiddenSize \(required: cell, vocabSize, hiddenSize\), got none/);
    expect(() => sl.models.createModel('rwkv7', { vocabSize: 5, dModel: 32, numLayers: 1, headsize: 16 })).toThrow(/RWKV: expected config keys .*got 'headsize'\. Hint: did you mean 'headSize'\?/);
    expect(() => sl.models.createModel('rwkv6', { vocabSize: 5, dModel: 32, numLayers: true })).toThrow(/expected numLayers to be a number, got true/);
    expect(() => sl.models.createModel('mamba', { dModel: 8, nLayer: 1, vocabSize: 5, expand: -1 })).toThrow(/expected expand to be a positive number, got -1/);
    expect(() => sl.models.createModel('lstm', null as never)).toThrow(/RecurrentLM: expected a config object, got null/);
  });

  it('a valid config builds the family it names (the family fixes the cell or version)', () => {
    const m = sl.models.createModel('gru', { cell: 'lstm', vocabSize: 5, hiddenSize: 4 });
    expect(m.family).toBe('gru');
    expect(sl.models.createModel('rwkv6', { vocabSize: 5, dModel: 32, numLayers: 1, headSize: 16 }).family).toBe('rwkv6');
  });
});
