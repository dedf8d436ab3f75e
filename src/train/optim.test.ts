import { describe, expect, it } from 'vitest';
import * as sl from '../index.js';

const { SGD, Adam, AdamW } = sl.optim;
type AnyOptimizer = sl.optim.Optimizer<{ lr: number }>;

function makeParams(seed: number): sl.Tensor[] {
  return [sl.randn([4, 3], { seed, requiresGrad: true }), sl.randn([5], { seed: seed + 1, requiresGrad: true })];
}

/** Deterministic gradients for step k, independent of the parameter values. */
function setGrads(params: sl.Tensor[], k: number): void {
  params.forEach((p, i) => (p.grad = sl.randn(p.shape, { seed: 100 * k + i })));
}

const clone = (ps: sl.Tensor[]): sl.Tensor[] => ps.map((p) => sl.tensor(p.toFloat32Array(), p.shape, { requiresGrad: true }));

const makers: [string, (ps: sl.Tensor[]) => AnyOptimizer][] = [
  ['SGD nesterov + weight decay', (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 })],
  ['SGD dampening', (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, dampening: 0.1 })],
  ['Adam amsgrad + weight decay', (ps) => new Adam(ps, { lr: 1e-2, amsgrad: true, weightDecay: 0.1 })],
  ['AdamW', (ps) => new AdamW(ps, { lr: 1e-2, betas: [0.9, 0.95] })],
];

describe('optimizer state dict round trip', () => {
  for (const [name, make] of makers) {
    it(`${name}: 3 steps + save/load into a fresh optimizer + 2 steps == 5 steps, bitwise`, () => {
      const ref = makeParams(1);
      const refOpt = make(ref);
      for (let k = 0; k < 5; k++) { setGrads(ref, k); refOpt.step(); }

      const a = makeParams(1);
      const optA = make(a);
      for (let k = 0; k < 3; k++) { setGrads(a, k); optA.step(); }
      const saved = optA.stateDict();
      const b = clone(a);
      setGrads(a, 99); optA.step(); // the snapshot must not see later steps

      const optB = make(b);
      optB.loadStateDict(saved);
      for (let k = 3; k < 5; k++) { setGrads(b, k); optB.step(); }
      b.forEach((p, i) => expect(Array.from(p.buf)).toEqual(Array.from(ref[i]!.buf)));
    });
  }

  it('has PyTorch structure: state by index, snake_case group options, param indices', () => {
    const ps = makeParams(3);
    const opt = new Adam([{ params: [ps[0]!] }, { params: [ps[1]!], lr: 0.5 }], { lr: 0.01, amsgrad: true });
    setGrads(ps, 0);
    ps[1]!.grad = null; // skipped: no state for it
    opt.step();
    const sd = opt.stateDict();
    expect(Object.keys(sd.state)).toEqual(['0']);
    expect(sd.state[0]!.step).toBe(1);
    expect(Object.keys(sd.state[0]!).sort()).toEqual(['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'step']);
    expect(sd.param_groups).toEqual([
      { lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0, amsgrad: true, params: [0] },
      { lr: 0.5, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0, amsgrad: true, params: [1] },
    ]);
  });

  it('loading restores group options and rejects state that does not fit the parameters', () => {
    const ps = makeParams(3);
    const opt = new SGD(ps, { lr: 0.1, momentum: 0.9 });
    setGrads(ps, 0);
    opt.step();
    const sd = opt.stateDict();
    sd.param_groups[0]!['lr'] = 0.05;
    const fresh = new SGD(clone(ps), { lr: 1, momentum: 0.9 });
    fresh.loadStateDict(sd);
    expect(fresh.paramGroups[0]!.lr).toBe(0.05);

    expect(() => new SGD([ps[0]!], { lr: 0.1, momentum: 0.9 }).loadStateDict(sd)).toThrowErrorMatchingInlineSnapshot(`[WeightImportError: SGD.loadStateDict: the state does not match the parameters: expected 1 parameters in group 0, got 2. Hint: load the state of an optimizer built over the same parameters, in the same order]`);
    const swapped = [ps[1]!, ps[0]!];
    expect(() => new SGD(swapped, { lr: 0.1, momentum: 0.9 }).loadStateDict(sd)).toThrowErrorMatchingInlineSnapshot(`[WeightImportError: SGD.loadStateDict: the state does not match the parameters: expected momentum_buffer of shape [5] for parameter 0, got [4, 3]. Hint: load the state of an optimizer built over the same parameters, in the same order]`);
  });
});

describe('optimizer behaviour', () => {
  it('skips parameters without gradients and zeroGrad sets grads to null', () => {
    const ps = makeParams(5);
    const before = ps[1]!.toFloat32Array();
    const opt = new AdamW(ps);
    ps[0]!.grad = sl.ones([4, 3]);
    opt.step();
    expect(ps[1]!.toFloat32Array()).toEqual(before);
    opt.zeroGrad();
    expect(ps.every((p) => p.grad === null)).toBe(true);
    expect(opt.paramGroups[0]!.weightDecay).toBe(1e-2); // AdamW's default
  });

  it('validates options like PyTorch', () => {
    const ps = makeParams(1);
    expect(() => new SGD(ps, { lr: 0.1, nesterov: true })).toThrowErrorMatchingInlineSnapshot(`[ConfigError: SGD: expected momentum > 0 and dampening = 0 with nesterov, got momentum=0, dampening=0. Hint: Nesterov momentum requires a momentum and zero dampening (as in PyTorch)]`);
    expect(() => new Adam(ps, { betas: [0.9, 1] })).toThrowErrorMatchingInlineSnapshot(`[ConfigError: Adam: expected betas[1] in [0, 1), got 1.]`);
    expect(() => new SGD(ps, { lr: -1 })).toThrowErrorMatchingInlineSnapshot(`[ConfigError: SGD: expected lr ≥ 0, got -1.]`);
    expect(() => new Adam([])).toThrowErrorMatchingInlineSnapshot(`[ConfigError: Adam: expected a non-empty list of parameters, got an empty list.]`);
    expect(() => new Adam([{ params: ps }, { params: [ps[0]!] }])).toThrow(/each parameter in one group once/);
  });

  it('trains a Linear layer with a module-level zeroGrad/step loop', () => {
    sl.manualSeed(0);
    const lin = new sl.nn.Linear({ inFeatures: 3, outFeatures: 1 });
    const x = sl.randn([16, 3], { seed: 1 });
    const y = sl.matmul(x, sl.tensor([[1], [-2], [0.5]]));
    const opt = new Adam(lin.parameters(), { lr: 0.1 });
    let first = 0, last = 0;
    for (let i = 0; i < 100; i++) {
      opt.zeroGrad();
      const loss = sl.losses.mse(lin.forward(x), y);
      loss.backward();
      opt.step();
      if (i === 0) first = loss.item();
      last = loss.item();
    }
    expect(last).toBeLessThan(first * 1e-2);
  });
});
