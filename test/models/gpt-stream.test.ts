/**
 * The GPT's streaming contract: the KV-cache step equals the full (no-cache) forward token by token; a
 * chunked prefill with the state carried equals one pass, in values and in gradients; the state serializes;
 * its size grows linearly with tokens; bad input (too many tokens for blockSize, wrong state, another
 * family's checkpoint) fails with messages that name both sides.
 */
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';
import { GPT, gptFamily } from '../../src/models/transformer/model.js';
import { loadFixture } from '../golden/load.js';
import { expectClose } from '../helpers.js';

/** A small GPT with weights large enough that attention is far from uniform. */
function model(config: sl.models.GPTConfig = {}): GPT {
  sl.manualSeed(11);
  const m = new GPT({ vocabSize: 17, blockSize: 12, nLayer: 2, nHead: 2, nEmbd: 8, ...config });
  for (const p of m.parameters()) if (p.ndim === 2) for (let i = 0; i < p.size; i++) p.buf[i] = p.buf[i]! * 25;
  return m;
}

const seq = [[3, 1, 4, 1, 5, 9, 2, 6, 5], [2, 7, 1, 8, 2, 8, 1, 8, 2]];
const col = (t: number) => seq.map((r) => r[t]!);
const slice = (a: number, b: number) => seq.map((r) => r.slice(a, b));

describe('KV cache: step == full forward, chunked prefill == one pass', () => {
  for (const [name, cfg] of [['bias', {}], ['no bias, 1 head', { bias: false, nHead: 1 }], ['4 heads, 3 layers', { nHead: 4, nLayer: 3 }]] as const) {
    it(`token by token (${name})`, () => {
      const m = model(cfg);
      const full = m.forward(seq);
      let s = m.initState(2);
      const outs: sl.Tensor[] = [];
      for (let t = 0; t < 9; t++) {
        const r = m.step(col(t), s);
        expect(r.logits.shape).toEqual([2, 17]);
        outs.push(r.logits);
        s = r.state;
      }
      expectClose(sl.stack(outs, 1), full.logits, 1e-5, 1e-5, 'stepped logits');
      expect(sl.models.gptPosition(s)).toBe(9);
      s.layers.forEach((c, l) => {
        expectClose(c.k, full.state.layers[l]!.k, 1e-6, 1e-6, `k[${l}]`);
        expectClose(c.v, full.state.layers[l]!.v, 1e-6, 1e-6, `v[${l}]`);
      });
    });
  }

  it('prefill 4, then 3, then one step each == one pass; the old state is left untouched', () => {
    const m = model();
    const full = m.forward(seq).logits;
    const a = m.forward(slice(0, 4));
    const b = m.forward(slice(4, 7), a.state);
    expect(sl.models.gptPosition(a.state)).toBe(4);
    const c = m.step(col(7), b.state);
    const d = m.step(col(8), c.state);
    const parts = [a.logits, b.logits, sl.reshape(c.logits, [2, 1, 17]), sl.reshape(d.logits, [2, 1, 17])];
    expectClose(sl.concat(parts, 1), full, 1e-5, 1e-5, 'chunked logits');
    // Continuing the same prefix another way: states are values.
    const b2 = m.forward(slice(4, 7), a.state);
    expectClose(b2.logits, b.logits, 0, 0, 'same prefix, same continuation');
  });

  it('gradients flow through the cache: chunk-2 loss has the same parameter gradients as those positions in one pass', () => {
    const m = model({ nLayer: 1 });
    const targets = [5, 1, 0, 3, 3, 9];
    const lossOf = (logits: sl.Tensor) => sl.losses.crossEntropy(sl.reshape(logits, [-1, 17]), targets);
    const grads = () => m.parameters().map((p) => p.grad!.toFloat32Array());
    lossOf(sl.narrow(m.forward(seq).logits, 1, 6, 3)).backward();
    const oneGrads = grads();
    m.zeroGrad();
    const a = m.forward(slice(0, 6));
    lossOf(m.forward(slice(6, 9), a.state).logits).backward();
    grads().forEach((g, i) => expectClose(g, oneGrads[i]!, 1e-6, 1e-4, `grad ${m.namedParameters()[i]![0]}`));
    // …unless the state is detached (truncated BPTT): then wpe rows 0-5 get no gradient from chunk 2.
    m.zeroGrad();
    lossOf(m.forward(slice(6, 9), sl.detachState(m.forward(slice(0, 6)).state)).logits).backward();
    expect(Array.from(m.wpe.weight.grad!.buf.subarray(0, 6 * 8)).every((x) => x === 0)).toBe(true);
  });

  it('a real checkpoint (the PyTorch fixture) streams equal to its golden logits', () => {
    const f = loadFixture('gpt_tiny');
    const m = GPT.fromStateDict(Object.fromEntries(f.keys('param.').map((k) => [k, f.get(`param.${k}`)])), { nHead: 2 });
    const ids = f.ints('in.tokens');
    const T = 7, V = 13;
    let s = m.initState(2);
    const golden = f.get('out.logits');
    for (let t = 0; t < T; t++) {
      const r = m.step([ids[t]!, ids[T + t]!], s);
      s = r.state;
      for (let b = 0; b < 2; b++) {
        expectClose(r.logits.buf.subarray(b * V, (b + 1) * V), golden.buf.subarray((b * T + t) * V, (b * T + t + 1) * V), 1e-5, 1e-4, `t=${t}`);
      }
    }
  });

  it('the state round-trips through serializeState and continues identically', () => {
    const m = model();
    const a = m.forward(slice(0, 5));
    const back = sl.deserializeState<sl.models.GPTState>(sl.serializeState(a.state));
    expectClose(m.step(col(5), back).logits, m.step(col(5), a.state).logits, 0, 0, 'continued');
  });
});

describe('state size grows linearly with tokens (the point of the comparison)', () => {
  it('stateBytes = 4 · 2 · nLayer · batch · tokens · nEmbd, equal to the cache tensors', () => {
    const m = model({ nLayer: 3 });
    const bytes = (s: sl.models.GPTState) => 4 * s.layers.reduce((n, c) => n + c.k.size + c.v.size, 0);
    let s = m.initState(2);
    expect(bytes(s)).toBe(0);
    for (let t = 1; t <= 5; t++) {
      s = m.step(col(t), s).state;
      expect(bytes(s)).toBe(m.stateBytes(2, t));
    }
    expect(m.stateBytes(1, 10_000)).toBe(4 * 2 * 3 * 10_000 * 8);
    expect(m.stateBytes(1, 2000)).toBe(2 * m.stateBytes(1, 1000));
    expect(m.stateBytes(3, 1000)).toBe(3 * m.stateBytes(1, 1000));
    expect(m.stateBytes()).toBe(m.stateBytes(1, 12)); // default: a full block
  });
});

describe('bad input', () => {
  it('more tokens than blockSize: forward and step say both numbers', () => {
    const m = model({ blockSize: 4 });
    expect(() => m.forward([[1, 2, 3, 4, 5]])).toThrowErrorMatchingInlineSnapshot(`[ShapeError: gpt.forward: cannot forward a sequence of length 5, block size is only 4. Hint: positions come from a learned table of blockSize rows (transformer.wpe); keep at most the last 4 tokens and start a new state from them (nanoGPT crops its context the same way), or use a model with a larger blockSize]`);
    const s = m.forward([[1, 2, 3, 4]]).state;
    expect(() => m.step([1], s)).toThrowErrorMatchingInlineSnapshot(`[ShapeError: gpt.step: cannot forward 1 more token after the 4 in the cache (5 positions), block size is only 4. Hint: positions come from a learned table of blockSize rows (transformer.wpe); keep at most the last 4 tokens and start a new state from them (nanoGPT crops its context the same way), or use a model with a larger blockSize]`);
    expect(() => m.forward([[1, 2]], m.forward([[1, 2, 3]]).state)).toThrowErrorMatchingInlineSnapshot(`[ShapeError: gpt.forward: cannot forward 2 more tokens after the 3 in the cache (5 positions), block size is only 4. Hint: positions come from a learned table of blockSize rows (transformer.wpe); keep at most the last 4 tokens and start a new state from them (nanoGPT crops its context the same way), or use a model with a larger blockSize]`);
  });

  it('a state for another batch size or model', () => {
    const m = model();
    expect(() => m.step([1, 2, 3], m.initState(2))).toThrowErrorMatchingInlineSnapshot(`[ShapeError: gpt.step: expected state.layers[0].k of shape [3, 0, 8] [n, p, nEmbd] (batch=3), got [2, 0, 8].]`);
    expect(() => m.step([1], model({ nLayer: 1 }).initState(1))).toThrowErrorMatchingInlineSnapshot(`[ShapeError: gpt.step: expected a GPT state with 2 layer caches (nLayer=2), got 1. Hint: create it with model.initState(batch)]`);
    expect(() => m.forward([[1, 99]])).toThrow(/ids in \[0, 17\)/);
  });

  it("another family's checkpoint names what was found and what was expected", () => {
    sl.manualSeed(1);
    const lstm = new sl.models.RecurrentLM({ cell: 'lstm', vocabSize: 5, hiddenSize: 4 });
    expect(() => GPT.fromStateDict(lstm.stateDict())).toThrowErrorMatchingInlineSnapshot(`[WeightImportError: GPT.fromStateDict: expected nanoGPT keys 'transformer.wte.weight', 'transformer.wpe.weight', 'transformer.h.0.attn.c_attn.weight', …, got 7 keys: 'emb.weight', 'lstm.weight_ih_l0', 'lstm.weight_hh_l0', 'lstm.bias_ih_l0', … — this looks like a RecurrentLM checkpoint. Hint: load it with its own family (sl.models.getFamily(name).fromStateDict)]`);
    const mamba = { 'backbone.embedding.weight': sl.zeros([5, 4]), 'backbone.layers.0.mixer.A_log': sl.zeros([8, 2]) };
    expect(() => GPT.fromStateDict(mamba)).toThrowErrorMatchingInlineSnapshot(`[WeightImportError: GPT.fromStateDict: expected nanoGPT keys 'transformer.wte.weight', 'transformer.wpe.weight', 'transformer.h.0.attn.c_attn.weight', …, got 2 keys: 'backbone.embedding.weight', 'backbone.layers.0.mixer.A_log' — this looks like a Mamba checkpoint. Hint: load it with its own family (sl.models.getFamily(name).fromStateDict)]`);
    const rwkv = { 'emb.weight': sl.zeros([5, 4]), 'blocks.0.att.key.weight': sl.zeros([4, 4]), 'head.weight': sl.zeros([5, 4]) };
    expect(() => GPT.fromStateDict(rwkv)).toThrow(/looks like an RWKV checkpoint/);
  });

  it('inconsistent GPT dicts: untied head, mis-shaped weights, unknown nHead', () => {
    const m = model();
    const sd = m.stateDict();
    expect(() => GPT.fromStateDict({ ...sd, 'lm_head.weight': sl.zeros([17, 8]) }, { nHead: 2 })).toThrowErrorMatchingInlineSnapshot(`[WeightImportError: GPT.fromStateDict: expected lm_head.weight equal to transformer.wte.weight [17, 8] (GPT ties the output head to the token embedding), got a different lm_head.weight [17, 8].]`);
    expect(() => GPT.fromStateDict({ ...sd, 'transformer.h.1.mlp.c_fc.weight': sl.zeros([16, 8]) }, { nHead: 2 })).toThrowErrorMatchingInlineSnapshot(`
      [WeightImportError: GPT.loadStateDict: the state dict does not match the module:
        mis-shaped keys: "transformer.h.1.mlp.c_fc.weight" expected [32, 8], got [16, 8]. Hint: pass { strict: false } to load a partial state dict (mis-shaped keys are rejected either way)]
    `);
    expect(() => GPT.fromStateDict(sd)).toThrowErrorMatchingInlineSnapshot(`[ConfigError: GPT.fromStateDict: expected config.nHead (the number of attention heads changes no weight shape, so it cannot be read off the weights), got a state dict of width nEmbd=8 and no nHead. Hint: pass it: GPT.fromStateDict(dict, { nHead }), or --n-head N on the command line; a nanoGPT ckpt.pt states it in model_args (GPT.configFromModelArgs(objects.model_args))]`);
  });

  it('config errors', () => {
    expect(() => new GPT({ nEmbd: 10, nHead: 4, nLayer: 1, vocabSize: 3, blockSize: 4 })).toThrowErrorMatchingInlineSnapshot(`[ConfigError: GPT: expected nEmbd divisible by nHead (head width nEmbd / nHead), got nEmbd=10, nHead=4.]`);
    expect(() => sl.models.createModel('gpt', { vocabSize: 5, nLayers: 2 })).toThrowErrorMatchingInlineSnapshot(`[ConfigError: createModel(gpt): expected GPTConfig keys (blockSize, vocabSize, nLayer, nHead, nEmbd, dropout, bias), got 'nLayers'. Hint: did you mean 'nLayer'?]`);
  });
});

describe('the shared sampler', () => {
  it('generates past blockSize: generate restarts from the recent tokens when the cache is full', () => {
    const m = model({ blockSize: 6 });
    const out = [...sl.generate(m, [1, 2, 3], { maxTokens: 20, seed: 3 })];
    expect(out).toHaveLength(20);
    expect(out.every((id) => Number.isInteger(id) && id >= 0 && id < 17)).toBe(true);
  });
});

describe('training paths', () => {
  it('dropout: eval mode ignores it; training mode uses the composite attention with attn_dropout and still backprops', () => {
    const plain = model(), dropped = model({ dropout: 0.3 });
    dropped.eval();
    expectClose(dropped.forward(seq).logits, plain.forward(seq).logits, 0, 0, 'eval ignores dropout');
    dropped.train();
    const out = dropped.forward(seq).logits, ref = plain.forward(seq).logits;
    expect(Array.from(out.buf).some((x, i) => x !== ref.buf[i])).toBe(true);
    sl.sum(out).backward();
    expect(dropped.blocks[0]!.attn.cAttn.weight.grad).not.toBeNull();
  });

  it('configForBudget fits the budget, and the count is numParameters', () => {
    for (const budget of [20_000, 100_000, 400_000]) {
      const cfg = gptFamily.configForBudget(65, budget);
      const m = gptFamily.create(cfg);
      expect(m.numParameters()).toBeLessThanOrEqual(budget);
      expect(m.numParameters()).toBeGreaterThan(budget / 2);
    }
  });
});
