/**
 * GPT against PyTorch 1.13 (fixtures from tools/golden/gen_gpt.py: nanoGPT's module structure and names):
 * logits at every position, the cross-entropy loss, and the gradient of every parameter for
 * L = Σ logits ⊙ up.logits + loss · up.loss. Also the other checkpoint layouts fromStateDict accepts
 * (HF GPT-2's transposed Conv1D weights without the `transformer.` prefix, torch.compile's `_orig_mod.`,
 * the causal-mask buffers), and the registry path.
 * Tolerance: atol 1e-5, rtol 1e-4 (float32; the generator's float64 recheck agrees to 2e-5).
 */
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';
import { loadFixture, type Fixture } from '../golden/load.js';
import { expectClose } from '../helpers.js';

const fixtures = ['gpt_tiny', 'gpt_tiny_nobias_full_block', 'gpt_tiny_3layer_1head'];

function params(f: Fixture): Record<string, sl.Tensor> {
  return Object.fromEntries(f.keys('param.').map((k) => [k, f.get(`param.${k}`)]));
}

function tokens(f: Fixture, key: string): number[][] {
  const [n, t] = f.get(key).shape as [number, number];
  const ids = f.ints(key);
  return Array.from({ length: n }, (_, i) => ids.slice(i * t, (i + 1) * t));
}

function load(f: Fixture, dict = params(f)): sl.models.GPT {
  return sl.models.GPT.fromStateDict(dict, { nHead: f.config['nHead'] as number });
}

function checkLogits(f: Fixture, m: sl.models.GPT): void {
  expectClose(m.forward(tokens(f, 'in.tokens')).logits, f.get('out.logits'), 1e-5, 1e-4, `${f.name} logits`);
}

describe('GPT matches PyTorch (nanoGPT structure): logits, loss and every parameter gradient', () => {
  for (const name of fixtures) {
    it(name, () => {
      const f = loadFixture(name);
      const m = load(f);
      expect(m.config).toMatchObject({
        vocabSize: f.config['vocabSize'], blockSize: f.config['blockSize'], nLayer: f.config['nLayer'],
        nHead: f.config['nHead'], nEmbd: f.config['nEmbd'], bias: f.config['bias'],
      });
      const { logits } = m.forward(tokens(f, 'in.tokens'));
      expectClose(logits, f.get('out.logits'), 1e-5, 1e-4, 'logits');
      const V = m.vocabSize;
      const loss = sl.losses.crossEntropy(sl.reshape(logits, [-1, V]), f.ints('in.targets'));
      expectClose(loss, f.get('out.loss'), 1e-5, 1e-4, 'loss');
      sl.add(sl.sum(sl.mul(logits, f.get('up.logits'))), sl.mul(loss, f.get('up.loss'))).backward();
      const named = Object.fromEntries(m.namedParameters());
      const gradKeys = f.keys('grad.param.');
      expect(gradKeys.sort()).toEqual(Object.keys(named).sort());
      for (const k of gradKeys) expectClose(named[k]!.grad!, f.get(`grad.param.${k}`), 1e-5, 1e-4, `grad ${k}`);
    });
  }
});

describe('GPT.fromStateDict accepts the layouts real checkpoints come in', () => {
  const f = loadFixture('gpt_tiny');
  const nanogpt = params(f);

  it('infers the config from shapes, nHead given (it changes no shape)', () => {
    const m = load(f);
    expect(m.config).toEqual({ vocabSize: 13, blockSize: 16, nLayer: 2, nHead: 2, nEmbd: 8, bias: true, dropout: 0 });
    expect(Object.keys(m.stateDict())).toContain('lm_head.weight');
    expect(m.stateDict()['lm_head.weight']!.buf).toBe(m.stateDict()['transformer.wte.weight']!.buf);
  });

  it("HF GPT-2 (GPT2Model names, Conv1D weights stored [in, out]) gives the same logits", () => {
    const hf: Record<string, sl.Tensor> = {};
    for (const [k, t] of Object.entries(nanogpt)) {
      const conv1d = /\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/.test(k);
      hf[k.replace(/^transformer\./, '')] = conv1d ? sl.transpose(t, 0, 1).clone() : t;
    }
    hf['h.0.attn.bias'] = sl.ones([1, 1, 16, 16]);
    hf['h.0.attn.masked_bias'] = sl.full([1, 1, 1, 1], -1e4);
    checkLogits(f, load(f, hf));
  });

  it("torch.compile's `_orig_mod.` prefix, nanoGPT's mask buffers, and either copy of the tied weight", () => {
    const dict: Record<string, sl.Tensor> = {};
    for (const [k, t] of Object.entries(nanogpt)) dict[`_orig_mod.${k}`] = t;
    dict['_orig_mod.lm_head.weight'] = nanogpt['transformer.wte.weight']!.clone();
    for (let l = 0; l < 2; l++) dict[`_orig_mod.transformer.h.${l}.attn.bias`] = sl.ones([1, 1, 16, 16]);
    checkLogits(f, load(f, dict));
    // Only the head's copy of the tied tensor (safetensors keeps one name of a shared tensor).
    const headOnly: Record<string, sl.Tensor> = { ...nanogpt, 'lm_head.weight': nanogpt['transformer.wte.weight']! };
    delete headOnly['transformer.wte.weight'];
    checkLogits(f, load(f, headOnly));
  });

  it('the registry builds the same model, and our own stateDict round-trips', () => {
    const m = sl.models.modelFromStateDict('gpt', nanogpt, { nHead: 2 }) as sl.models.GPT;
    checkLogits(f, m);
    const again = sl.models.createModel('gpt', { ...m.config });
    again.loadStateDict(m.stateDict());
    checkLogits(f, again as sl.models.GPT);
    checkLogits(f, sl.models.GPT.fromStateDict(m.stateDict(), { nHead: 2 }));
  });
});
