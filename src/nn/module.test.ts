import { describe, expect, it } from 'vitest';
import * as sl from '../index.js';

const { Module, Linear, Sequential, LayerNorm, Dropout, parameter } = sl.nn;

class Block extends Module {
  readonly proj = this.registerModule('proj', new Linear({ inFeatures: 3, outFeatures: 2 }));
  readonly norm = this.registerModule('norm', new LayerNorm({ normalizedShape: 2 }));
  readonly drop = this.registerModule('drop', new Dropout({ p: 0.1 }));
  readonly scale = this.registerParameter('scale', parameter(sl.ones([2])));
  readonly count = this.registerBuffer('count', sl.zeros([1]));
  readonly cache = this.registerBuffer('cache', sl.zeros([4]), { persistent: false });
  forward(x: sl.Tensor): sl.Tensor {
    return sl.mul(this.norm.forward(this.proj.forward(x)), this.scale);
  }
}

describe('Module bookkeeping', () => {
  it('names parameters with dotted prefixes in registration order', () => {
    const seq = new Sequential(new Linear({ inFeatures: 4, outFeatures: 3 }), new Block());
    expect(seq.namedParameters().map(([n]) => n)).toEqual([
      '0.weight', '0.bias', '1.scale', '1.proj.weight', '1.proj.bias', '1.norm.weight', '1.norm.bias',
    ]);
    expect(Object.keys(seq.stateDict())).toEqual([
      '0.weight', '0.bias', '1.scale', '1.count', '1.proj.weight', '1.proj.bias', '1.norm.weight', '1.norm.bias',
    ]);
    expect(seq.namedBuffers().map(([n]) => n)).toEqual(['1.count', '1.cache']);
    expect(seq.children()).toHaveLength(2);
    expect(seq.modules()).toHaveLength(6);
    expect(seq.numParameters()).toBe(4 * 3 + 3 + 2 + 3 * 2 + 2 + 2 + 2);
    expect(seq.parameters().every((p) => p.requiresGrad)).toBe(true);
  });

  it('counts a tied parameter once but lists it under every state-dict key', () => {
    // Like a language model whose output head reuses the embedding matrix.
    const a = new Linear({ inFeatures: 2, outFeatures: 2, bias: false });
    const tied = new (class extends Module {
      readonly emb = this.registerModule('emb', a);
      readonly head = this.registerParameter('head', a.weight);
    })();
    expect(tied.namedParameters().map(([n]) => n)).toEqual(['head']); // own parameters first, as PyTorch
    expect(Object.keys(tied.stateDict())).toEqual(['head', 'emb.weight']);
    expect(tied.numParameters()).toBe(4);
  });

  it('null parameters keep their slot but stay out of the state dict', () => {
    const lin = new Linear({ inFeatures: 2, outFeatures: 3, bias: false });
    expect(Object.keys(lin.stateDict())).toEqual(['weight']);
    expect(lin.bias).toBeNull();
  });

  it('rejects bad and duplicate names', () => {
    const m = new Module();
    m.registerParameter('w', null);
    expect(() => m.registerBuffer('w', sl.zeros([1]))).toThrowErrorMatchingInlineSnapshot(`[ConfigError: registerBuffer: expected a name not registered yet, got "w" (already a parameter).]`);
    expect(() => m.registerModule('a.b', new Module())).toThrowErrorMatchingInlineSnapshot(`[ConfigError: registerModule: expected a non-empty name without ".", got "a.b".]`);
  });

  it('train/eval reach every descendant; zeroGrad drops gradients', () => {
    const b = new Block();
    expect(b.drop.training).toBe(true);
    b.eval();
    expect(b.modules().every((m) => !m.training)).toBe(true);
    b.train();
    expect(b.drop.training).toBe(true);
    sl.sum(b.forward(sl.randn([5, 3], { seed: 1 }))).backward();
    expect(b.proj.weight.grad).not.toBeNull();
    b.zeroGrad();
    expect(b.parameters().every((p) => p.grad === null)).toBe(true);
  });
});

describe('loadStateDict', () => {
  it('copies into the existing storage (optimizers keep working) and round-trips', () => {
    sl.manualSeed(1);
    const src = new Block();
    sl.manualSeed(2);
    const dst = new Block();
    const w = dst.proj.weight, buf = w.buf;
    const opt = new sl.optim.SGD(dst.parameters(), { lr: 0.1 });
    expect(dst.loadStateDict(src.stateDict())).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(dst.proj.weight).toBe(w);
    expect(w.buf).toBe(buf);
    expect(Array.from(w.buf)).toEqual(Array.from(src.proj.weight.buf));
    // The optimizer holds the same tensors, so a step moves the loaded values.
    w.grad = sl.ones(w.shape);
    opt.step();
    expect(w.buf[0]).toBeCloseTo(src.proj.weight.buf[0]! - 0.1, 6);
  });

  it('strict: reports every missing, unexpected and mis-shaped key in one error, and loads nothing', () => {
    const m = new Sequential(new Linear({ inFeatures: 4, outFeatures: 3 }), new Linear({ inFeatures: 3, outFeatures: 2 }));
    const before = m.stateDict()['0.weight']!.toFloat32Array();
    const dict = {
      '0.weight': sl.ones([3, 4]),
      '0.bias': sl.zeros([4]), // mis-shaped
      '1.wieght': sl.zeros([2, 3]), // typo of 1.weight
      'head.bias': sl.zeros([2]),
    };
    expect(() => m.loadStateDict(dict)).toThrowErrorMatchingInlineSnapshot(`
      [WeightImportError: Sequential.loadStateDict: the state dict does not match the module:
        missing keys: "1.weight", "1.bias"
        unexpected keys: "1.wieght" (did you mean "1.weight"?), "head.bias" (did you mean "1.bias"?)
        mis-shaped keys: "0.bias" expected [3], got [4]. Hint: pass { strict: false } to load a partial state dict (mis-shaped keys are rejected either way)]
    `);
    expect(() => m.loadStateDict(dict)).toThrow(sl.WeightImportError);
    expect(m.stateDict()['0.weight']!.toFloat32Array()).toEqual(before);
  });

  it('non-strict returns missing and unexpected keys but still rejects mis-shaped ones', () => {
    const m = new Linear({ inFeatures: 2, outFeatures: 2 });
    const res = m.loadStateDict({ weight: sl.ones([2, 2]), extra: sl.zeros([1]) }, { strict: false });
    expect(res).toEqual({ missingKeys: ['bias'], unexpectedKeys: ['extra'] });
    expect(Array.from(m.weight.buf)).toEqual([1, 1, 1, 1]);
    expect(() => m.loadStateDict({ weight: sl.ones([3, 2]) }, { strict: false })).toThrowErrorMatchingInlineSnapshot(`
      [WeightImportError: Linear.loadStateDict: the state dict does not match the module:
        mis-shaped keys: "weight" expected [2, 2], got [3, 2]. Hint: a state dict from a model with other sizes cannot be loaded; check the config]
    `);
  });

  it('converts dtypes on load (float64 values into float32 storage)', () => {
    const m = new Linear({ inFeatures: 1, outFeatures: 1 });
    m.loadStateDict({ weight: sl.tensor([[0.1]], undefined, { dtype: 'float64' }), bias: sl.tensor([2]) });
    expect(m.weight.buf[0]).toBe(Math.fround(0.1));
  });
});
