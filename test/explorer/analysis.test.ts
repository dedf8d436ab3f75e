/**
 * The explorer's measurements, in Node: gate activations recomputed from the weights must end in the hidden
 * state the model's own `step` reaches; the gradient-flow probe must equal the hidden-state gradient that
 * finite differences through `step` give.
 */
import { describe, expect, it } from 'vitest';
import * as sl from 'seqlab';
import { gateActivations, gradientFlow } from '../../explorer/src/analysis.js';

describe('explorer analysis', () => {
  for (const cell of ['lstm', 'gru'] as const) {
    it(`${cell}: gates recomputed from the weights reach the model's own hidden state`, () => {
      sl.manualSeed(4);
      const m = new sl.models.RecurrentLM({ cell, vocabSize: 11, hiddenSize: 24, numLayers: 2 });
      const tokens = [1, 5, 2, 9, 3, 3, 7, 0, 10, 4];
      let s = m.initState(1);
      for (const t of tokens) s = m.step([t], s).state;
      const { rows, h } = gateActivations(m, tokens, tokens.map(String), 8);
      const h0 = s.h.data.subarray(0, 24); // layer 0 of [layers, 1, hidden]
      for (let u = 0; u < 24; u++) expect(h[u]).toBeCloseTo(h0[u]!, 5);
      expect(rows).toHaveLength(tokens.length * 8 * (cell === 'lstm' ? 4 : 3));
      expect(rows.every((r) => r.value >= -1 && r.value <= 1)).toBe(true);
    });
  }

  it('gradient flow: one row per distance, normalised to the last step, probes equal the hidden-state gradient', () => {
    sl.manualSeed(2);
    const m = new sl.models.RecurrentLM({ cell: 'rnn', vocabSize: 7, hiddenSize: 16 });
    const tokens = [1, 2, 3, 4, 5, 6, 0, 1, 2];
    const rows = gradientFlow(m, tokens, 'RNN');
    expect(rows.map((r) => r.k)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(rows[0]!.ratio).toBe(1);
    expect(rows.every((r) => Number.isFinite(r.norm) && r.norm > 0)).toBe(true);
    // k = 1: the hidden state entering the last step, against central differences of the loss through `step`.
    const eps = 1e-2;
    const lossFrom = (bump: number, unit: number): number => {
      let s = m.initState(1);
      let logits: sl.Tensor | null = null;
      for (let t = 0; t < tokens.length - 1; t++) {
        if (t === tokens.length - 2) {
          const h = s.h.toFloat32Array();
          h[unit]! += bump;
          s = { ...s, h: new sl.Tensor(h, s.h.shape) };
        }
        const r = m.step([tokens[t]!], s);
        logits = r.logits;
        s = r.state;
      }
      return sl.losses.crossEntropy(logits!, [tokens[tokens.length - 1]!]).item();
    };
    const fd = Array.from({ length: 16 }, (_, u) => (lossFrom(eps, u) - lossFrom(-eps, u)) / (2 * eps));
    expect(rows[0]!.norm).toBeCloseTo(Math.hypot(...fd), 2);
  });
});
