import { describe, expect, it } from 'vitest';
import * as sl from '../index.js';
import { gradcheck } from '../autograd/gradcheck.js';
import { expectClose, expectGradOk, leaf64 } from '../../test/helpers.js';

const { Linear, Embedding, LayerNorm, RMSNorm, Dropout, Sequential, init } = sl.nn;

/** Values and gradients (w.r.t. `inputs`) of `sum(f() ⊙ up)` for a fixed upstream gradient. */
function valueAndGrads(f: () => sl.Tensor, inputs: sl.Tensor[], up: sl.Tensor): { y: sl.Tensor; grads: sl.Tensor[] } {
  for (const t of inputs) t.grad = null;
  const y = f();
  y.backward(up);
  return { y, grads: inputs.map((t) => t.grad!) };
}

describe('Linear', () => {
  it('initialises like nn.Linear: W and b in U(−1/√in, 1/√in), reproducible under manualSeed', () => {
    sl.manualSeed(7);
    const a = new Linear({ inFeatures: 16, outFeatures: 8 });
    sl.manualSeed(7);
    const b = new Linear({ inFeatures: 16, outFeatures: 8 });
    expect(Array.from(a.weight.buf)).toEqual(Array.from(b.weight.buf));
    const bound = 1 / Math.sqrt(16);
    expect(Math.max(...a.weight.buf.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...a.weight.buf.map(Math.abs))).toBeGreaterThan(0.8 * bound);
    expect(Math.max(...a.bias!.buf.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(a.weight.shape).toEqual([8, 16]);
  });

  it('passes a float64 finite-difference check (2-D and 3-D input, with and without bias)', () => {
    const lin = new Linear({ inFeatures: 5, outFeatures: 4, dtype: 'float64' });
    const x = leaf64([3, 5], 1), x3 = leaf64([2, 3, 5], 2);
    expectGradOk(() => lin.forward(x), [x, lin.weight, lin.bias!]);
    expectGradOk(() => lin.forward(x3), [x3, lin.weight, lin.bias!]);
    const nb = new Linear({ inFeatures: 5, outFeatures: 2, bias: false, dtype: 'float64' });
    expectGradOk(() => nb.forward(x3), [x3, nb.weight]);
  });

  it('names itself and inFeatures on a wrong input shape', () => {
    const lin = new Linear({ inFeatures: 5, outFeatures: 2 });
    expect(() => lin.forward(sl.zeros([3, 4]))).toThrowErrorMatchingInlineSnapshot(`[ShapeError: linear.forward: wrong input shape: expected [..., 5] (inFeatures=5), got [3, 4].]`);
    expect(() => new Linear({ inFeatures: 2.5, outFeatures: 2 })).toThrowErrorMatchingInlineSnapshot(`[ConfigError: Linear: expected inFeatures to be an integer ≥ 0, got 2.5.]`);
  });
});

describe('Embedding', () => {
  it('looks up rows for tensors, Int32Array (with shape) and nested arrays', () => {
    const emb = new Embedding({ numEmbeddings: 5, embeddingDim: 3 });
    const y = emb.forward([[1, 4], [0, 1]]);
    expect(y.shape).toEqual([2, 2, 3]);
    expect(Array.from(y.buf.subarray(3, 6))).toEqual(Array.from(emb.weight.buf.subarray(12, 15)));
    expect(Array.from(emb.forward(new Int32Array([1, 4, 0, 1]), [2, 2]).buf)).toEqual(Array.from(y.buf));
    expect(Array.from(emb.forward(sl.tensor([[1, 4], [0, 1]])).buf)).toEqual(Array.from(y.buf));
    expect(emb.forward([3]).shape).toEqual([1, 3]);
  });

  it('accumulates gradients of repeated ids (float64 finite differences)', () => {
    const emb = new Embedding({ numEmbeddings: 6, embeddingDim: 3, dtype: 'float64' });
    expectGradOk(() => emb.forward([[1, 2, 1], [3, 1, 5]]), [emb.weight]);
  });

  it('paddingIdx: zero at init, read in forward, never receives a gradient', () => {
    const emb = new Embedding({ numEmbeddings: 6, embeddingDim: 3, paddingIdx: -6, dtype: 'float64' });
    expect(emb.paddingIdx).toBe(0);
    expect(Array.from(emb.weight.buf.subarray(0, 3))).toEqual([0, 0, 0]);
    emb.weight.buf.set([0.5, -1, 2], 0); // as PyTorch, a non-zero padding row is still returned by forward
    const ids = [[0, 2, 1], [3, 0, 0]];
    expect(Array.from(emb.forward(ids).buf.subarray(0, 3))).toEqual([0.5, -1, 2]);
    // The finite differences see row 0's effect; the analytic gradient leaves it out on purpose.
    const bad = gradcheck(() => emb.forward(ids), [emb.weight]);
    expect(bad.map((b) => Math.floor(b.index / 3))).toEqual([0, 0, 0]);
    expect(bad.every((b) => b.analytic === 0)).toBe(true);
  });

  it('names the bad id, its position and the vocabulary size', () => {
    const emb = new Embedding({ numEmbeddings: 10, embeddingDim: 2 });
    expect(() => emb.forward([[1, 2], [12, 3]])).toThrowErrorMatchingInlineSnapshot(`[ShapeError: embedding.forward: id out of range: expected ids in [0, 10) (numEmbeddings=10), got 12 at [1, 0]. Hint: the tokenizer or data has a larger vocabulary than numEmbeddings]`);
    expect(() => emb.forward([1.5])).toThrow(/got 1.5 at \[0\]/);
    expect(() => emb.forward([-1])).toThrow(sl.ShapeError);
    expect(() => new Embedding({ numEmbeddings: 4, embeddingDim: 2, paddingIdx: 4 })).toThrowErrorMatchingInlineSnapshot(`[ConfigError: Embedding: expected paddingIdx in [-4, 4), got 4.]`);
  });
});

describe('LayerNorm and RMSNorm', () => {
  it('LayerNorm passes float64 finite differences (1-D and 2-D normalizedShape, no affine)', () => {
    const x = leaf64([2, 3, 6], 1, 2, 0.5);
    const ln = new LayerNorm({ normalizedShape: 6, dtype: 'float64' });
    init.normal_(ln.weight!, 1, 0.5);
    init.normal_(ln.bias!, 0, 0.5);
    expectGradOk(() => ln.forward(x), [x, ln.weight!, ln.bias!]);
    const ln2 = new LayerNorm({ normalizedShape: [3, 6], dtype: 'float64' });
    init.normal_(ln2.weight!, 1, 0.5);
    expectGradOk(() => ln2.forward(x), [x, ln2.weight!, ln2.bias!]);
    const bare = new LayerNorm({ normalizedShape: 6, elementwiseAffine: false, dtype: 'float64' });
    expect(bare.parameters()).toEqual([]);
    expectGradOk(() => bare.forward(x), [x]);
    expect(new LayerNorm({ normalizedShape: 6, bias: false }).namedParameters().map(([n]) => n)).toEqual(['weight']);
  });

  it('RMSNorm passes float64 finite differences; eps defaults to float32 machine epsilon', () => {
    const x = leaf64([2, 3, 6], 2);
    const rn = new RMSNorm({ normalizedShape: [6], dtype: 'float64' });
    expect(rn.eps).toBe(2 ** -23);
    init.normal_(rn.weight!, 1, 0.5);
    expectGradOk(() => rn.forward(x), [x, rn.weight!]);
  });

  it('fused and composite twins agree in value and gradient', () => {
    const x = leaf64([4, 5], 3, 1.5, 0.3), w = leaf64([5], 4, 0.5, 1), b = leaf64([5], 5);
    const up = sl.randn([4, 5], { seed: 6, dtype: 'float64' });
    for (const eps of [1e-5, 2 ** -23]) {
      const fr = valueAndGrads(() => sl.rmsNorm(x, [5], w, eps), [x, w], up);
      const cr = valueAndGrads(() => sl.rmsNormComposite(x, [5], w, eps), [x, w], up);
      expectClose(fr.y, cr.y, 1e-12, 1e-10, 'rmsNorm value');
      fr.grads.forEach((g, i) => expectClose(g, cr.grads[i]!, 1e-12, 1e-10, `rmsNorm grad ${i}`));
    }
    const fl = valueAndGrads(() => sl.layerNorm(x, [5], w, b, 1e-5), [x, w, b], up);
    const cl = valueAndGrads(() => sl.layerNormComposite(x, [5], w, b, 1e-5), [x, w, b], up);
    expectClose(fl.y, cl.y, 1e-12, 1e-10, 'layerNorm value');
    fl.grads.forEach((g, i) => expectClose(g, cl.grads[i]!, 1e-12, 1e-10, `layerNorm grad ${i}`));
  });

  it('name the module and normalizedShape on a wrong input', () => {
    expect(() => new LayerNorm({ normalizedShape: [3, 6] }).forward(sl.zeros([2, 6, 3]))).toThrowErrorMatchingInlineSnapshot(`[ShapeError: layerNorm.forward: wrong input shape: expected [..., 3, 6] (normalizedShape=[3, 6]), got [2, 6, 3].]`);
    expect(() => new RMSNorm({ normalizedShape: 4 }).forward(sl.zeros([4, 2]))).toThrowErrorMatchingInlineSnapshot(`[ShapeError: rmsNorm.forward: wrong input shape: expected [..., 4] (normalizedShape=[4]), got [4, 2].]`);
  });
});

describe('Dropout and Sequential', () => {
  it('Dropout: identity in eval, inverted scaling in training, reproducible from the seed', () => {
    const d = new Dropout({ p: 0.25 });
    const x = sl.ones([1000]);
    sl.manualSeed(3);
    const y = d.forward(x);
    const kept = y.buf.filter((v) => v !== 0);
    expect(kept.every((v) => Math.abs(v - 1 / 0.75) < 1e-6)).toBe(true);
    expect(Math.abs(kept.length / 1000 - 0.75)).toBeLessThan(0.05);
    sl.manualSeed(3);
    expect(Array.from(d.forward(x).buf)).toEqual(Array.from(y.buf));
    d.eval();
    expect(d.forward(x)).toBe(x);
    expect(() => new Dropout({ p: 1.5 })).toThrowErrorMatchingInlineSnapshot(`[ConfigError: Dropout: expected p in [0, 1], got 1.5.]`);
  });

  it('Sequential chains its layers in order', () => {
    const a = new Linear({ inFeatures: 3, outFeatures: 4 }), n = new LayerNorm({ normalizedShape: 4 }), b = new Linear({ inFeatures: 4, outFeatures: 2 });
    const seq = new Sequential(a, n, b);
    const x = sl.randn([5, 3], { seed: 1 });
    expect(Array.from(seq.forward(x).buf)).toEqual(Array.from(b.forward(n.forward(a.forward(x))).buf));
    expect(seq.length).toBe(3);
    expect(seq.at(-1)).toBe(b);
    expect([...seq]).toEqual([a, n, b]);
  });
});

describe('init', () => {
  it('xavierUniform_, kaimingUniform_ bounds and an orthogonal orthogonal_', () => {
    const w = sl.zeros([6, 4]);
    init.xavierUniform_(w);
    expect(Math.max(...w.buf.map(Math.abs))).toBeLessThanOrEqual(Math.sqrt(6 / 10));
    init.kaimingUniform_(w, { nonlinearity: 'relu', mode: 'fan_out' });
    expect(Math.max(...w.buf.map(Math.abs))).toBeLessThanOrEqual(Math.SQRT2 * Math.sqrt(3 / 6));
    for (const shape of [[6, 4], [4, 6]]) {
      const q = init.orthogonal_(sl.zeros(shape, { dtype: 'float64' }));
      // The shorter side is orthonormal: QᵀQ = I (tall) or QQᵀ = I (wide).
      const tall = shape[0]! > shape[1]!;
      const g = tall ? sl.matmul(q, q, { transA: true }) : sl.matmul(q, q, { transB: true });
      const k = Math.min(...shape);
      expectClose(g, Array.from({ length: k * k }, (_, i) => (i % (k + 1) === 0 ? 1 : 0)), 1e-12, 0, 'orthogonality');
    }
    expect(() => init.xavierUniform_(sl.zeros([3]))).toThrowErrorMatchingInlineSnapshot(`[ShapeError: init: expected a tensor of rank ≥ 2 to compute fan in and fan out, got [3].]`);
  });
});
