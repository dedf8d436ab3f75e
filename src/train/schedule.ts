/**
 * Learning-rate schedules (`optim.lrScheduler`, like `torch.optim.lr_scheduler`). A scheduler remembers each
 * group's base lr at construction, sets the lr for step 0 right away, and sets the lr for step k+1 on each
 * `step()` — call it after `optimizer.step()`, as in PyTorch. Every schedule is a closed form `lrAt(step,
 * baseLr)`, a pure function usable without an optimizer.
 */
import { ConfigError } from '../tensor/errors.js';
import type { Optimizer } from './optim.js';

/** Scheduler state in PyTorch's key names (only the mutable part; options come from the constructor). */
export interface SchedulerStateDict {
  last_epoch: number;
  base_lrs: number[];
  _last_lr: number[];
}

export abstract class LRScheduler {
  readonly optimizer: Optimizer<{ lr: number }>;
  /** Each group's lr when the scheduler was built. */
  baseLrs: number[];
  /** Steps taken (0 right after construction, as PyTorch's last_epoch). */
  lastEpoch = -1;
  private lastLr: number[] = [];

  protected constructor(optimizer: Optimizer<{ lr: number }>) {
    this.optimizer = optimizer;
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
  }

  /** The lr at `step` for a group whose base lr is `baseLr` (pure). */
  abstract lrAt(step: number, baseLr?: number): number;

  /** Advance one step and write the new lr into every group. (Subclass constructors call it once.) */
  step(): void {
    this.lastEpoch++;
    this.lastLr = this.optimizer.paramGroups.map((g, i) => (g.lr = this.lrAt(this.lastEpoch, this.baseLrs[i]!)));
  }

  /** The lrs the last `step()` set, one per group. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  stateDict(): SchedulerStateDict {
    return { last_epoch: this.lastEpoch, base_lrs: [...this.baseLrs], _last_lr: [...this.lastLr] };
  }

  /** Restore the counters (like PyTorch, the optimizer's lrs come from the optimizer's own state dict). */
  loadStateDict(d: SchedulerStateDict): void {
    if (d.base_lrs.length !== this.baseLrs.length) {
      throw new ConfigError({ op: `${this.constructor.name}.loadStateDict`, expected: `${this.baseLrs.length} base lrs (one per param group)`, got: `${d.base_lrs.length}` });
    }
    this.lastEpoch = d.last_epoch;
    this.baseLrs = [...d.base_lrs];
    this.lastLr = [...d._last_lr];
  }
}

function need(op: string, ok: boolean, expected: string, got: unknown): void {
  if (!ok) throw new ConfigError({ op, expected, got: String(got) });
}

/** lr = base · γ^⌊step / stepSize⌋. */
export class StepLR extends LRScheduler {
  readonly stepSize: number;
  readonly gamma: number;
  constructor(optimizer: Optimizer<{ lr: number }>, opts: { stepSize: number; gamma?: number }) {
    super(optimizer);
    need('StepLR', Number.isInteger(opts.stepSize) && opts.stepSize > 0, 'stepSize a positive integer', opts.stepSize);
    this.stepSize = opts.stepSize;
    this.gamma = opts.gamma ?? 0.1;
    this.step();
  }
  lrAt(step: number, baseLr = this.baseLrs[0]!): number {
    return baseLr * this.gamma ** Math.floor(step / this.stepSize);
  }
}

/** lr = ηmin + (base − ηmin)·(1 + cos(π·step/tMax))/2 (Loshchilov & Hutter 2017, SGDR without restarts). */
export class CosineAnnealingLR extends LRScheduler {
  readonly tMax: number;
  readonly etaMin: number;
  constructor(optimizer: Optimizer<{ lr: number }>, opts: { tMax: number; etaMin?: number }) {
    super(optimizer);
    need('CosineAnnealingLR', opts.tMax > 0, 'tMax > 0', opts.tMax);
    this.tMax = opts.tMax;
    this.etaMin = opts.etaMin ?? 0;
    this.step();
  }
  lrAt(step: number, baseLr = this.baseLrs[0]!): number {
    return this.etaMin + ((baseLr - this.etaMin) * (1 + Math.cos((Math.PI * step) / this.tMax))) / 2;
  }
}

/** lr = base · factor for the first totalIters steps, then base (defaults as PyTorch: 1/3 for 5 steps). */
export class ConstantLR extends LRScheduler {
  readonly factor: number;
  readonly totalIters: number;
  constructor(optimizer: Optimizer<{ lr: number }>, opts: { factor?: number; totalIters?: number } = {}) {
    super(optimizer);
    this.factor = opts.factor ?? 1 / 3;
    this.totalIters = opts.totalIters ?? 5;
    need('ConstantLR', this.factor >= 0 && this.factor <= 1, 'factor in [0, 1]', this.factor);
    this.step();
  }
  lrAt(step: number, baseLr = this.baseLrs[0]!): number {
    return step < this.totalIters ? baseLr * this.factor : baseLr;
  }
}

export interface WarmupCosineOptions {
  warmupSteps: number;
  /** The step at which the cosine reaches minLr (nanoGPT's lr_decay_iters); minLr after it. */
  decaySteps: number;
  /** Peak lr (nanoGPT's learning_rate); defaults to each group's lr at construction. */
  maxLr?: number;
  minLr: number;
}

/**
 * nanoGPT's `get_lr` (karpathy/nanoGPT train.py): linear warmup, cosine decay, then constant:
 *   step < warmup:        maxLr · (step + 1) / (warmup + 1)
 *   step > decaySteps:    minLr
 *   otherwise:            minLr + (1 + cos(π·(step − warmup)/(decaySteps − warmup)))/2 · (maxLr − minLr)
 */
export function warmupCosineLr(step: number, o: Required<WarmupCosineOptions>): number {
  if (step < o.warmupSteps) return (o.maxLr * (step + 1)) / (o.warmupSteps + 1);
  if (step > o.decaySteps) return o.minLr;
  const ratio = (step - o.warmupSteps) / (o.decaySteps - o.warmupSteps);
  return o.minLr + 0.5 * (1 + Math.cos(Math.PI * ratio)) * (o.maxLr - o.minLr);
}

/** nanoGPT's schedule as a scheduler (see `warmupCosineLr`). */
export class WarmupCosineLR extends LRScheduler {
  readonly opts: WarmupCosineOptions;
  constructor(optimizer: Optimizer<{ lr: number }>, opts: WarmupCosineOptions) {
    super(optimizer);
    need('WarmupCosineLR', Number.isInteger(opts.warmupSteps) && opts.warmupSteps >= 0, 'warmupSteps an integer ≥ 0', opts.warmupSteps);
    need('WarmupCosineLR', opts.decaySteps > opts.warmupSteps, `decaySteps > warmupSteps (${opts.warmupSteps})`, opts.decaySteps);
    this.opts = { ...opts };
    this.step();
  }
  lrAt(step: number, baseLr = this.baseLrs[0]!): number {
    return warmupCosineLr(step, { ...this.opts, maxLr: this.opts.maxLr ?? baseLr });
  }
}
