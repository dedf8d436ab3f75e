/**
 * Optimizers (the `optim` namespace): SGD, Adam and AdamW with PyTorch's update rules, options, defaults,
 * parameter groups and state-dict layout. The arithmetic is the `sgdUpdate` / `adamUpdate` kernels; this
 * file only keeps per-parameter state and writes parameter storage in place (so modules holding the
 * parameters see the new values). Parameters whose `.grad` is null are skipped, as in PyTorch.
 */
import { kernels, residentCopy } from '../kernels/index.js';
import { ConfigError, WeightImportError, fmtShape } from '../tensor/errors.js';
import { sameShape } from '../tensor/shape.js';
import { Tensor, allocFloat } from '../tensor/tensor.js';

/** One parameter's optimizer state, under PyTorch's key names. */
export interface ParamState {
  step?: number;
  exp_avg?: Tensor;
  exp_avg_sq?: Tensor;
  max_exp_avg_sq?: Tensor;
  momentum_buffer?: Tensor;
}

/**
 * PyTorch's `optimizer.state_dict()` structure: state by parameter index (counted across groups in order)
 * and each group's options (snake_case, as PyTorch) with its parameter indices.
 */
export interface OptimizerStateDict {
  state: Record<number, ParamState>;
  param_groups: (Record<string, unknown> & { params: number[] })[];
}

/** A parameter group: its parameters and (some of) the optimizer's options, overriding the defaults. */
export type ParamGroupInput<O> = { params: readonly Tensor[] } & Partial<O>;
export type ParamGroup<O> = O & { params: Tensor[] };

const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const TENSOR_STATE = ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'momentum_buffer'] as const;

function cloneState(s: ParamState): ParamState {
  const out: ParamState = {};
  if (s.step !== undefined) out.step = s.step;
  for (const k of TENSOR_STATE) if (s[k]) out[k] = new Tensor(s[k].buf.slice(), s[k].shape);
  return out;
}

export abstract class Optimizer<O extends { lr: number }> {
  readonly paramGroups: ParamGroup<O>[] = [];
  /** Per-parameter state, keyed by the parameter tensor. */
  readonly state = new Map<Tensor, ParamState>();
  private readonly defaults: O;

  protected constructor(params: Iterable<Tensor> | readonly ParamGroupInput<O>[], defaults: O) {
    this.defaults = defaults;
    const list = [...params] as (Tensor | ParamGroupInput<O>)[];
    if (list.length === 0) throw new ConfigError({ op: this.name, expected: 'a non-empty list of parameters', got: 'an empty list' });
    if (list.every((p) => p instanceof Tensor)) this.addParamGroup({ params: list } as { params: Tensor[] } & Partial<O>);
    else for (const g of list as ParamGroupInput<O>[]) this.addParamGroup(g);
  }

  /** Class name used in error messages. */
  protected get name(): string {
    return this.constructor.name;
  }

  /** Add a group; options it leaves out take the optimizer's defaults. */
  addParamGroup(group: ParamGroupInput<O>): void {
    const params = [...group.params];
    const taken = new Set(this.paramGroups.flatMap((g) => g.params));
    params.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new ConfigError({ op: this.name, expected: 'Tensor parameters', got: `${typeof p} at position ${i}` });
      if (taken.has(p) || params.indexOf(p) !== i) {
        throw new ConfigError({ op: this.name, expected: 'each parameter in one group once', got: `${p.name ?? `parameter ${i}`} twice` });
      }
    });
    const full = { ...this.defaults, ...group, params } as ParamGroup<O>;
    this.validate(full);
    this.paramGroups.push(full);
  }

  /** Check a group's options (throws ConfigError naming the option). */
  protected abstract validate(group: O): void;
  /** Update one parameter in place from its gradient. */
  protected abstract update(p: Tensor, grad: Tensor, group: O, state: ParamState): void;

  /** One optimization step over every parameter that has a gradient. */
  step(): void {
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        if (p.grad === null) continue;
        let s = this.state.get(p);
        if (s === undefined) this.state.set(p, (s = {}));
        this.update(p, p.grad, group, s);
      }
    }
  }

  /** Drop every gradient (`.grad = null`, PyTorch's set_to_none=True default). */
  zeroGrad(): void {
    for (const g of this.paramGroups) for (const p of g.params) p.grad = null;
  }

  /** A snapshot (copied tensors, unlike PyTorch's live references) in PyTorch's structure. */
  stateDict(): OptimizerStateDict {
    const state: Record<number, ParamState> = {};
    let index = 0;
    const param_groups = this.paramGroups.map((g) => {
      const out: Record<string, unknown> & { params: number[] } = { params: [] };
      for (const [k, v] of Object.entries(g)) if (k !== 'params') out[snake(k)] = Array.isArray(v) ? [...v] : v;
      for (const p of g.params) {
        const s = this.state.get(p);
        if (s !== undefined) state[index] = cloneState(s);
        out.params.push(index++);
      }
      return out;
    });
    return { state, param_groups };
  }

  /**
   * Restore state and group options saved by `stateDict()` (or PyTorch's, with tensors converted). The
   * groups must hold the same number of parameters with the same shapes; the values are copied.
   */
  loadStateDict(dict: OptimizerStateDict): void {
    const op = `${this.name}.loadStateDict`;
    const fail = (expected: string, got: string): never => {
      throw new WeightImportError({ op, expected, got, hint: 'load the state of an optimizer built over the same parameters, in the same order' }, 'the state does not match the parameters:');
    };
    const groups = dict.param_groups;
    if (!Array.isArray(groups) || groups.length !== this.paramGroups.length) {
      fail(`${this.paramGroups.length} param groups`, `${Array.isArray(groups) ? groups.length : 'none'}`);
    }
    const byIndex = new Map<number, Tensor>();
    groups.forEach((g, gi) => {
      const mine = this.paramGroups[gi]!.params;
      if (g.params.length !== mine.length) fail(`${mine.length} parameters in group ${gi}`, `${g.params.length}`);
      g.params.forEach((idx, j) => byIndex.set(idx, mine[j]!));
    });
    const newState = new Map<Tensor, ParamState>();
    for (const [key, s] of Object.entries(dict.state)) {
      const p = byIndex.get(Number(key));
      if (p === undefined) fail(`state for parameter indices ${[...byIndex.keys()].join(', ')}`, `state for index ${key}`);
      for (const k of TENSOR_STATE) {
        const t = s[k];
        if (t && !sameShape(t.shape, p!.shape)) fail(`${k} of shape ${fmtShape(p!.shape)} for parameter ${key}`, fmtShape(t.shape));
      }
      const c = cloneState(s);
      // Keep the parameter's dtype (a float64 gradcheck model, or float32 state saved from float64).
      for (const k of TENSOR_STATE) {
        const t = c[k];
        if (t && t.dtype !== p!.dtype) { const b = allocFloat(p!.dtype, t.size); b.set(t.buf); c[k] = new Tensor(b, t.shape); }
      }
      newState.set(p!, c);
    }
    // Validated: now commit. Group options come from the saved dict, as in PyTorch.
    groups.forEach((g, gi) => {
      const mine = this.paramGroups[gi]! as Record<string, unknown>;
      for (const k of Object.keys(mine)) {
        const v = g[snake(k)];
        if (k !== 'params' && v !== undefined) mine[k] = Array.isArray(v) ? [...v] : v;
      }
    });
    this.state.clear();
    for (const [p, s] of newState) this.state.set(p, s);
  }
}

function check(op: string, ok: boolean, expected: string, got: unknown): void {
  if (!ok) throw new ConfigError({ op, expected, got: String(got) });
}

function stateTensor(p: Tensor): Tensor {
  // Optimiser state lives as long as the optimiser: in wasm memory where the kernels can use it in place.
  return new Tensor(residentCopy(allocFloat(p.dtype, p.size)), p.shape);
}

// ---------------------------------------------------------------- SGD

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/**
 * Stochastic gradient descent with optional momentum, dampening, L2 weight decay and Nesterov momentum:
 * d = g + λp; b = μb + (1−τ)d (b = d on the first step); d = nesterov ? d + μb : b; p −= lr·d.
 */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: Iterable<Tensor> | readonly ParamGroupInput<SGDOptions>[], opts: Partial<SGDOptions> & { lr: number }) {
    super(params, { lr: opts.lr, momentum: opts.momentum ?? 0, dampening: opts.dampening ?? 0, weightDecay: opts.weightDecay ?? 0, nesterov: opts.nesterov ?? false });
  }

  protected validate(g: SGDOptions): void {
    check('SGD', typeof g.lr === 'number' && g.lr >= 0, 'lr ≥ 0', g.lr);
    check('SGD', g.momentum >= 0, 'momentum ≥ 0', g.momentum);
    check('SGD', g.weightDecay >= 0, 'weightDecay ≥ 0', g.weightDecay);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) {
      throw new ConfigError({
        op: 'SGD', expected: 'momentum > 0 and dampening = 0 with nesterov', got: `momentum=${g.momentum}, dampening=${g.dampening}`,
        hint: 'Nesterov momentum requires a momentum and zero dampening (as in PyTorch)',
      });
    }
  }

  protected update(p: Tensor, grad: Tensor, g: SGDOptions, s: ParamState): void {
    const first = s.momentum_buffer === undefined;
    if (g.momentum !== 0 && first) s.momentum_buffer = stateTensor(p);
    kernels().sgdUpdate(p.buf, grad.buf, g.momentum !== 0 ? s.momentum_buffer!.buf : null, p.size, { ...g, first });
  }
}

// ---------------------------------------------------------------- Adam / AdamW

export interface AdamOptions {
  lr: number;
  betas: readonly [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
}

abstract class AdamBase extends Optimizer<AdamOptions> {
  protected abstract readonly decoupled: boolean;

  protected validate(g: AdamOptions): void {
    check(this.name, g.lr >= 0, 'lr ≥ 0', g.lr);
    check(this.name, g.eps >= 0, 'eps ≥ 0', g.eps);
    check(this.name, Array.isArray(g.betas) && g.betas.length === 2, 'betas as [beta1, beta2]', JSON.stringify(g.betas));
    check(this.name, g.betas[0] >= 0 && g.betas[0] < 1, 'betas[0] in [0, 1)', g.betas[0]);
    check(this.name, g.betas[1] >= 0 && g.betas[1] < 1, 'betas[1] in [0, 1)', g.betas[1]);
    check(this.name, g.weightDecay >= 0, 'weightDecay ≥ 0', g.weightDecay);
  }

  protected update(p: Tensor, grad: Tensor, g: AdamOptions, s: ParamState): void {
    s.step = (s.step ?? 0) + 1;
    s.exp_avg ??= stateTensor(p);
    s.exp_avg_sq ??= stateTensor(p);
    if (g.amsgrad) s.max_exp_avg_sq ??= stateTensor(p);
    kernels().adamUpdate(p.buf, grad.buf, s.exp_avg.buf, s.exp_avg_sq.buf, g.amsgrad ? s.max_exp_avg_sq!.buf : null, p.size, {
      lr: g.lr, beta1: g.betas[0], beta2: g.betas[1], eps: g.eps, weightDecay: g.weightDecay,
      decoupled: this.decoupled, step: s.step, amsgrad: g.amsgrad,
    });
  }
}

function adamDefaults(opts: Partial<AdamOptions>, weightDecay: number): AdamOptions {
  return { lr: opts.lr ?? 1e-3, betas: opts.betas ?? [0.9, 0.999], eps: opts.eps ?? 1e-8, weightDecay: opts.weightDecay ?? weightDecay, amsgrad: opts.amsgrad ?? false };
}

/**
 * Adam (Kingma & Ba 2015) with PyTorch's bias correction and L2 weight decay added to the gradient:
 * g += λp; m = β₁m + (1−β₁)g; v = β₂v + (1−β₂)g²; p −= lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + eps).
 * amsgrad uses the running max of v.
 */
export class Adam extends AdamBase {
  protected readonly decoupled = false;
  constructor(params: Iterable<Tensor> | readonly ParamGroupInput<AdamOptions>[], opts: Partial<AdamOptions> = {}) {
    super(params, adamDefaults(opts, 0));
  }
}

/** AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay p *= 1 − lr·λ (default λ = 1e-2). */
export class AdamW extends AdamBase {
  protected readonly decoupled = true;
  constructor(params: Iterable<Tensor> | readonly ParamGroupInput<AdamOptions>[], opts: Partial<AdamOptions> = {}) {
    super(params, adamDefaults(opts, 1e-2));
  }
}

