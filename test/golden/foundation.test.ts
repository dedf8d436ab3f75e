/**
 * Foundation layers against PyTorch 1.13 fixtures (tools/golden/gen_foundation.py, layout in README.md):
 * outputs and the gradients of L = Σ out ⊙ up for Linear, LayerNorm, RMSNorm, Embedding, cross-entropy and
 * MSE; 5-step optimizer trajectories with the final optimizer state; gradient clipping; LR schedules.
 *
 * Tolerance: |ours − torch| ≤ atol + rtol·|torch| with atol = 1e-5, rtol = 1e-4 (float32 on both sides; our
 * reference kernels accumulate in doubles, PyTorch in float32, so last-bit differences are expected).
 */
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';
import { expectClose } from '../helpers.js';
import { loadFixture, type Fixture } from './load.js';

const ATOL = 1e-5, RTOL = 1e-4;
const close = (a: sl.Tensor | Float32Array, b: sl.Tensor, what: string): void => expectClose(a, b, ATOL, RTOL, what);

/** Load the fixture's `param.*` tensors into the module (strict: the names must be PyTorch's exactly). */
function loadParams(f: Fixture, m: sl.nn.Module): void {
  const dict: Record<string, sl.Tensor> = {};
  for (const k of f.keys('param.')) dict[k] = f.get(`param.${k}`);
  m.loadStateDict(dict);
}

/** Run `forward`, backprop each `up.*` into its output, compare outputs and every `grad.*` in the fixture. */
function checkAutograd(f: Fixture, inputs: Record<string, sl.Tensor>, params: Record<string, sl.Tensor>,
  forward: () => Record<string, sl.Tensor>): void {
  const outs = forward();
  for (const [k, y] of Object.entries(outs)) {
    close(y, f.get(`out.${k}`), `${f.name} out.${k}`);
    if (f.has(`up.${k}`)) y.backward(f.get(`up.${k}`).reshape(y.shape));
  }
  const checked = [...f.keys('grad.in.').map((k) => [`grad.in.${k}`, inputs[k]] as const), ...f.keys('grad.param.').map((k) => [`grad.param.${k}`, params[k]] as const)];
  expect(checked.length).toBeGreaterThan(0);
  for (const [key, t] of checked) {
    expect(t, `${f.name}: no tensor for ${key}`).toBeDefined();
    const want = f.get(key);
    close(t!.grad ?? new Float32Array(want.size), want, `${f.name} ${key}`);
  }
}

const input = (f: Fixture, k: string): sl.Tensor => sl.tensor(f.get(`in.${k}`).toFloat32Array(), f.get(`in.${k}`).shape, { requiresGrad: true });
const cfg = <T>(f: Fixture, k: string): T => f.config[k] as T;

describe('golden: layers', () => {
  for (const name of ['linear_2d', 'linear_3d', 'linear_nobias']) {
    it(name, () => {
      const f = loadFixture(name);
      const m = new sl.nn.Linear({ inFeatures: cfg(f, 'inFeatures'), outFeatures: cfg(f, 'outFeatures'), bias: cfg(f, 'bias') });
      loadParams(f, m);
      const x = input(f, 'x');
      checkAutograd(f, { x }, Object.fromEntries(m.namedParameters()), () => ({ y: m.forward(x) }));
    });
  }

  for (const name of ['layernorm', 'layernorm_2d_shape']) {
    it(name, () => {
      const f = loadFixture(name);
      const m = new sl.nn.LayerNorm({ normalizedShape: cfg(f, 'normalizedShape'), eps: cfg(f, 'eps'), elementwiseAffine: cfg(f, 'elementwiseAffine') });
      loadParams(f, m);
      const x = input(f, 'x');
      checkAutograd(f, { x }, Object.fromEntries(m.namedParameters()), () => ({ y: m.forward(x) }));
    });
  }

  for (const name of ['rmsnorm_eps1e-5', 'rmsnorm_eps_default']) {
    it(name, () => {
      const f = loadFixture(name);
      const eps = cfg<number>(f, 'eps');
      // The default-eps fixture is built without passing eps: it checks our default is PyTorch's.
      const m = name.endsWith('default')
        ? new sl.nn.RMSNorm({ normalizedShape: cfg(f, 'normalizedShape') })
        : new sl.nn.RMSNorm({ normalizedShape: cfg(f, 'normalizedShape'), eps });
      expect(m.eps).toBe(eps);
      loadParams(f, m);
      const x = input(f, 'x');
      checkAutograd(f, { x }, Object.fromEntries(m.namedParameters()), () => ({ y: m.forward(x) }));
    });
  }

  for (const name of ['embedding', 'embedding_padding_idx']) {
    it(name, () => {
      const f = loadFixture(name);
      const m = new sl.nn.Embedding({
        numEmbeddings: cfg(f, 'numEmbeddings'), embeddingDim: cfg(f, 'embeddingDim'),
        ...(f.config['paddingIdx'] !== undefined ? { paddingIdx: cfg<number>(f, 'paddingIdx') } : {}),
      });
      loadParams(f, m);
      const ids = f.get('in.indices');
      checkAutograd(f, {}, Object.fromEntries(m.namedParameters()), () => ({ y: m.forward(new Int32Array(f.ints('in.indices')), ids.shape) }));
    });
  }
});

describe('golden: losses', () => {
  for (const name of ['cross_entropy', 'cross_entropy_3d', 'cross_entropy_ignore_default', 'cross_entropy_ignore_custom']) {
    it(name, () => {
      const f = loadFixture(name);
      expect(f.config['classDim']).toBe('last');
      const logits = input(f, 'logits');
      const targets = sl.tensor(f.ints('in.targets'), f.get('in.targets').shape);
      const opts = { ignoreIndex: cfg<number>(f, 'ignoreIndex'), reduction: cfg<'mean'>(f, 'reduction') };
      checkAutograd(f, { logits }, {}, () => ({ loss: sl.losses.crossEntropy(logits, targets, opts) }));
    });
  }

  it('mse', () => {
    const f = loadFixture('mse');
    const pred = input(f, 'pred'), target = input(f, 'target');
    checkAutograd(f, { pred, target }, {}, () => ({ loss: sl.losses.mse(pred, target, { reduction: cfg(f, 'reduction') }) }));
  });
});

const OPTIM = ['optim_sgd', 'optim_sgd_momentum', 'optim_sgd_nesterov_wd', 'optim_sgd_dampening',
  'optim_adam', 'optim_adam_wd', 'optim_adam_amsgrad', 'optim_adamw', 'optim_adamw_betas'];

function makeOptimizer(f: Fixture, params: sl.Tensor[]): sl.optim.Optimizer<{ lr: number }> {
  const c = f.config as Record<'kind' | 'lr' | 'momentum' | 'dampening' | 'weightDecay' | 'nesterov' | 'betas' | 'eps' | 'amsgrad', never>;
  switch (c['kind'] as string) {
    case 'sgd': return new sl.optim.SGD(params, { lr: c['lr'], momentum: c['momentum'], dampening: c['dampening'], weightDecay: c['weightDecay'], nesterov: c['nesterov'] });
    case 'adam': return new sl.optim.Adam(params, { lr: c['lr'], betas: c['betas'], eps: c['eps'], weightDecay: c['weightDecay'], amsgrad: c['amsgrad'] });
    case 'adamw': return new sl.optim.AdamW(params, { lr: c['lr'], betas: c['betas'], eps: c['eps'], weightDecay: c['weightDecay'], amsgrad: c['amsgrad'] });
    default: throw new Error(`unknown optimizer kind ${String(c['kind'])}`);
  }
}

describe('golden: optimizers (5 steps, then the final state)', () => {
  for (const name of OPTIM) {
    it(name, () => {
      const f = loadFixture(name);
      const names = cfg<string[]>(f, 'params');
      const params = names.map((n) => sl.tensor(f.get(`param.${n}`).toFloat32Array(), f.get(`param.${n}`).shape, { requiresGrad: true }));
      const opt = makeOptimizer(f, params);
      for (let k = 0; k < cfg<number>(f, 'steps'); k++) {
        params.forEach((p, i) => (p.grad = f.get(`in.grad_${names[i]}.${k}`)));
        opt.step();
        params.forEach((p, i) => close(p, f.get(`out.${names[i]}.${k}`), `${name} ${names[i]} after step ${k}`));
      }
      // Final state through the public state dict, under PyTorch's key names.
      const sd = opt.stateDict();
      names.forEach((n, i) => {
        const keys = f.keys(`out.state.${n}.`);
        const have = Object.keys(sd.state[i]!).filter((k) => k !== 'step');
        expect(have.sort(), `${name} state keys of ${n}`).toEqual([...keys].sort());
        for (const k of keys) close(sd.state[i]![k as 'exp_avg']!, f.get(`out.state.${n}.${k}`), `${name} state ${n}.${k}`);
      });
    });
  }
});

describe('golden: gradient clipping', () => {
  for (const name of ['clip_grad_norm', 'clip_grad_norm_noclip', 'clip_grad_norm_inf', 'clip_grad_value']) {
    it(name, () => {
      const f = loadFixture(name);
      const shapes = cfg<number[][]>(f, 'shapes');
      const params = shapes.map((s, i) => {
        const p = sl.zeros(s, { requiresGrad: true });
        p.grad = f.get(`in.grad.${i}`);
        return p;
      });
      if (f.config['kind'] === 'clip_grad_value') {
        sl.clipGradValue(params, cfg(f, 'clipValue'));
      } else {
        const normType = f.config['normType'] === 'inf' ? Infinity : cfg<number>(f, 'normType');
        const total = sl.clipGradNorm(params, cfg(f, 'maxNorm'), normType);
        close(new Float32Array([total]), f.get('out.total_norm'), `${name} total norm`);
      }
      params.forEach((p, i) => close(p.grad!, f.get(`out.grad.${i}`), `${name} grad ${i}`));
    });
  }
});

describe('golden: LR schedules', () => {
  const { StepLR, CosineAnnealingLR, WarmupCosineLR } = sl.optim.lrScheduler;
  for (const name of ['lr_steplr', 'lr_cosine', 'lr_nanogpt']) {
    it(name, () => {
      const f = loadFixture(name);
      const opt = new sl.optim.SGD([sl.zeros([1], { requiresGrad: true })], { lr: cfg(f, 'lr') });
      const sched =
        f.config['kind'] === 'step_lr' ? new StepLR(opt, { stepSize: cfg(f, 'stepSize'), gamma: cfg(f, 'gamma') })
        : f.config['kind'] === 'cosine_annealing_lr' ? new CosineAnnealingLR(opt, { tMax: cfg(f, 'tMax'), etaMin: cfg(f, 'etaMin') })
        : new WarmupCosineLR(opt, { warmupSteps: cfg(f, 'warmupIters'), decaySteps: cfg(f, 'lrDecayIters'), minLr: cfg(f, 'minLr') });
      const lrs: number[] = [];
      for (let k = 0; k < cfg<number>(f, 'steps'); k++) {
        lrs.push(opt.paramGroups[0]!.lr);
        opt.step();
        sched.step();
      }
      close(Float32Array.from(lrs), f.get('out.lr'), name);
      lrs.forEach((lr, k) => expect(sched.lrAt(k)).toBe(lr));
    });
  }
});
