/**
 * A 10-step training trajectory against PyTorch: Embedding(V,16) → 2-layer LSTM(32) → Linear(V), Adam
 * (lr 1e-2), clip_grad_norm_ before each step, the same fixed batch every step. The loss before each step,
 * the pre-clip gradient norm, and the parameters after 10 steps must track PyTorch's (1e-4 relative on the
 * losses; the generator's float64 recheck agrees with torch's float32 to 4e-4 relative at worst).
 */
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';
import { loadFixture } from '../golden/load.js';
import { expectClose } from '../helpers.js';

for (const name of ['char_lm_trajectory', 'char_lm_trajectory_clipped']) {
  describe(name, () => {
    it('losses, gradient norms and final parameters match PyTorch', () => {
      const f = loadFixture(name);
      const c = f.config as { vocabSize: number; embeddingDim: number; hiddenSize: number; numLayers: number; lr: number; clipGradNorm: number; steps: number };
      const dict: Record<string, sl.Tensor> = {};
      for (const k of f.keys('param.')) dict[k] = f.get(`param.${k}`);
      const model = sl.models.RecurrentLM.fromStateDict(dict);
      expect(model.config).toMatchObject({ cell: 'lstm', vocabSize: c.vocabSize, embeddingDim: c.embeddingDim, hiddenSize: c.hiddenSize, numLayers: c.numLayers });
      const tokens = f.get('in.tokens'), targets = f.get('in.targets');
      const opt = new sl.optim.Adam(model.parameters(), { lr: c.lr });
      const losses: number[] = [], norms: number[] = [];
      for (let step = 0; step < c.steps; step++) {
        opt.zeroGrad();
        const { logits } = model.forward(tokens);
        const loss = sl.losses.crossEntropy(logits, targets);
        losses.push(loss.item());
        loss.backward();
        norms.push(sl.clipGradNorm(model.parameters(), c.clipGradNorm));
        opt.step();
      }
      expectClose(Float64Array.from(losses), f.get('out.losses'), 0, 1e-4, 'losses');
      expectClose(Float64Array.from(norms), f.get('out.grad_norms'), 0, 1e-3, 'grad norms');
      const final = sl.losses.crossEntropy(model.forward(tokens).logits, targets).item();
      expectClose(Float64Array.of(final), f.get('out.final_loss'), 0, 1e-4, 'final loss');
      const params = Object.fromEntries(model.namedParameters());
      for (const k of f.keys('out.final.')) expectClose(params[k]!, f.get(`out.final.${k}`), 1e-4, 1e-3, `final ${k}`);
    });
  });
}
