/**
 * The Trainer: the training loop every task and model family shares.
 *
 *   for each step:  lr ← schedule(step);  loss ← task.trainLoss(model, step, rng, carry)
 *                   loss.backward();  clip gradients;  optimizer.step();  carry ← detach(state)
 *                   every evalEvery steps: evaluate, save 'last' (and 'best' when val loss improved)
 *
 * It stops at `steps` (or `epochs` passes), at `timeLimit` seconds, after `patience` evaluations without
 * improvement, on `stop()` (saving a resumable checkpoint), or on a non-finite loss or gradient — then
 * without updating the model or saving, so the last good checkpoint stays intact.
 *
 * Reproducible: the data order comes from a Generator seeded by `seed`, dropout from the global generator
 * re-seeded from it, and a checkpoint stores both generators, the optimizer state, the carried state and
 * the step, so `restore()` + `run()` continues bit for bit as if never interrupted.
 *
 * The core has no I/O: progress goes to `onEvent`, checkpoints to `save` (seqlab/node writes them to
 * files atomically and draws the progress bar).
 */
import { detachState, type StateTree } from '../infer/state.js';
import { ConfigError } from '../tensor/errors.js';
import { Generator, defaultGenerator } from '../tensor/random.js';
import { modelSpec, type Checkpoint, type Metrics, type OptimizerName, type TaskModel, type TrainingState } from './checkpoint.js';
import { clipGradNorm, clipGradValue } from './clip.js';
import { Adam, AdamW, SGD, type Optimizer } from './optim.js';
import { warmupCosineLr } from './schedule.js';
import type { Task } from './tasks.js';

export interface TrainerOptions {
  /** Optimizer steps (default 1000 unless `epochs` or `timeLimit` is given). */
  steps?: number;
  /** Passes over the training data (instead of `steps`). */
  epochs?: number;
  /** Stop after this many seconds of wall-clock time (evaluations included). */
  timeLimit?: number;
  /** Default 'adam'. */
  optimizer?: OptimizerName;
  /** Default 2e-3 (Adam/AdamW; char-rnn's rate), 0.1 for SGD. */
  lr?: number;
  weightDecay?: number;
  momentum?: number;
  betas?: [number, number];
  /** 'constant' (default) or 'cosine' (nanoGPT: linear warmup, cosine decay to minLr at the last step). */
  schedule?: 'constant' | 'cosine';
  warmupSteps?: number;
  /** Default lr / 10 (nanoGPT). */
  minLr?: number;
  /** Global L2-norm clipping (default 1.0, nanoGPT's grad_clip; 0 turns it off). */
  clipNorm?: number;
  /** Element-wise clipping to [−v, v] (char-rnn's 5; default 0 = off). */
  clipValue?: number;
  /** Evaluate (and checkpoint) every N steps (default 100; 0: only at the end). */
  evalEvery?: number;
  /** Stop after this many evaluations without a better val loss (default 0 = never). */
  patience?: number;
  /** Default 1337 (nanoGPT's). */
  seed?: number;
}

export type ResolvedOptions = Required<Omit<TrainerOptions, 'epochs' | 'timeLimit'>> & { timeLimit: number };

export type StopReason = 'done' | 'time' | 'early-stop' | 'interrupted' | 'non-finite';

export type TrainEvent =
  | { type: 'start'; step: number; totalSteps: number; timeLimit: number; params: number; resumed: boolean; stateful: boolean }
  | { type: 'step'; step: number; totalSteps: number; loss: number; lr: number; gradNorm: number; itemsPerSec: number; elapsedMs: number; etaMs: number }
  | { type: 'eval'; step: number; metrics: Metrics; best: boolean; elapsedMs: number }
  | { type: 'checkpoint'; step: number; kind: 'last' | 'best' }
  | { type: 'stop'; step: number; reason: StopReason; message: string };

export interface TrainerHooks {
  onEvent?: (e: TrainEvent) => void;
  /** Persist a checkpoint ('last': resumable latest; 'best': lowest val loss so far). */
  save?: (ckpt: Checkpoint, kind: 'last' | 'best') => void | Promise<void>;
}

export interface TrainResult {
  steps: number;
  reason: StopReason;
  message: string;
  /** The latest evaluation. */
  metrics: Metrics | null;
  best: { step: number; loss: number } | null;
  /** Items per second of this run's training steps (evaluation and saving excluded). */
  itemsPerSec: number;
  /** Wall time of the whole training, the runs before a `restore` included (what `timeLimit` counts). */
  elapsedMs: number;
  /** Steps taken by this `run()` call alone. */
  runSteps: number;
  /** Wall time of this `run()` call alone. */
  runMs: number;
}

const now = (): number => performance.now();

function resolve(o: TrainerOptions, stepsPerEpoch: number): ResolvedOptions {
  const optimizer = o.optimizer ?? 'adam';
  if (!['adam', 'adamw', 'sgd'].includes(optimizer)) throw new ConfigError({ op: 'Trainer', expected: "optimizer 'adam', 'adamw' or 'sgd'", got: JSON.stringify(optimizer) });
  let steps = o.steps ?? (o.epochs !== undefined ? Math.ceil(o.epochs * stepsPerEpoch) : o.timeLimit !== undefined ? Infinity : 1000);
  if (o.steps !== undefined && o.epochs !== undefined) throw new ConfigError({ op: 'Trainer', expected: 'steps or epochs', got: 'both' });
  if (!Number.isFinite(steps) && o.epochs !== undefined) throw new ConfigError({ op: 'Trainer', expected: 'epochs over finite data', got: 'a task with generated data', hint: 'give steps or timeLimit instead' });
  steps = Number.isFinite(steps) ? steps : Infinity;
  const lr = o.lr ?? (optimizer === 'sgd' ? 0.1 : 2e-3);
  const r: ResolvedOptions = {
    steps, optimizer, lr,
    timeLimit: o.timeLimit ?? Infinity,
    weightDecay: o.weightDecay ?? (optimizer === 'adamw' ? 0.1 : 0),
    momentum: o.momentum ?? (optimizer === 'sgd' ? 0.9 : 0),
    betas: o.betas ?? [0.9, 0.99],
    schedule: o.schedule ?? 'constant',
    warmupSteps: o.warmupSteps ?? 0,
    minLr: o.minLr ?? lr / 10,
    clipNorm: o.clipNorm ?? 1,
    clipValue: o.clipValue ?? 0,
    evalEvery: o.evalEvery ?? 100,
    patience: o.patience ?? 0,
    seed: o.seed ?? 1337,
  };
  const bad = (expected: string, got: unknown): never => {
    throw new ConfigError({ op: 'Trainer', expected, got: String(got) });
  };
  if (!(r.steps >= 1) || (Number.isFinite(r.steps) && !Number.isInteger(r.steps))) bad('steps a positive integer', r.steps);
  if (!(r.timeLimit > 0)) bad('timeLimit > 0 seconds', r.timeLimit);
  if (!(r.lr > 0 && Number.isFinite(r.lr))) bad('lr > 0', r.lr);
  if (!(r.clipNorm >= 0) || !(r.clipValue >= 0)) bad('clipNorm and clipValue ≥ 0', `${r.clipNorm}, ${r.clipValue}`);
  if (!(Number.isInteger(r.evalEvery) && r.evalEvery >= 0)) bad('evalEvery an integer ≥ 0', r.evalEvery);
  if (!(Number.isInteger(r.patience) && r.patience >= 0)) bad('patience an integer ≥ 0', r.patience);
  if (!(Number.isInteger(r.warmupSteps) && r.warmupSteps >= 0)) bad('warmupSteps an integer ≥ 0', r.warmupSteps);
  if (r.schedule !== 'constant' && r.schedule !== 'cosine') bad("schedule 'constant' or 'cosine'", JSON.stringify(r.schedule));
  if (r.schedule === 'cosine' && !Number.isFinite(r.steps)) bad('a number of steps for the cosine schedule', 'a time limit only');
  if (r.schedule === 'cosine' && r.warmupSteps >= r.steps) bad(`warmupSteps < steps (${r.steps})`, r.warmupSteps);
  return r;
}

/** The optimizer named in the options over `params`. */
function makeOptimizer(model: TaskModel, o: ResolvedOptions): Optimizer<{ lr: number }> {
  const params = model.parameters();
  if (o.optimizer === 'sgd') return new SGD(params, { lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay });
  const Opt = o.optimizer === 'adamw' ? AdamW : Adam;
  return new Opt(params, { lr: o.lr, betas: o.betas, weightDecay: o.weightDecay });
}

export class Trainer {
  readonly model: TaskModel;
  readonly task: Task;
  readonly options: ResolvedOptions;
  readonly optimizer: Optimizer<{ lr: number }>;
  private readonly hooks: TrainerHooks;
  private readonly rng: Generator;
  private step = 0;
  private carry: StateTree | null = null;
  private best: { step: number; loss: number } | null = null;
  private badEvals = 0;
  private elapsedBefore = 0;
  private itemsSeen = 0;
  private lastSavedStep = -1;
  private metrics: Metrics | null = null;
  private resumed = false;
  private stopRequested = false;

  constructor(model: TaskModel, task: Task, options: TrainerOptions = {}, hooks: TrainerHooks = {}) {
    this.model = model;
    this.task = task;
    this.options = resolve(options, task.stepsPerEpoch);
    this.hooks = hooks;
    this.optimizer = makeOptimizer(model, this.options);
    this.rng = new Generator(this.options.seed);
    defaultGenerator.manualSeed(this.options.seed + 1); // dropout masks
  }

  /** Continue from a checkpoint's training state (the model's weights are loaded by the caller). */
  restore(state: TrainingState): this {
    if (state.optimizer.name !== this.options.optimizer) {
      throw new ConfigError({ op: 'Trainer.restore', expected: `optimizer state for '${this.options.optimizer}'`, got: `'${state.optimizer.name}'`, hint: 'resume with the optimizer the checkpoint was trained with' });
    }
    if (state.step >= this.options.steps) {
      throw new ConfigError({ op: 'Trainer.restore', expected: `steps greater than the checkpoint's step ${state.step}`, got: String(this.options.steps), hint: 'steps counts the whole run, the steps before the checkpoint included' });
    }
    this.optimizer.loadStateDict(state.optimizer.stateDict);
    this.rng.setState(state.rng.data);
    defaultGenerator.setState(state.rng.global);
    this.step = state.step;
    this.carry = state.carry;
    this.best = state.best;
    this.badEvals = state.badEvals;
    this.elapsedBefore = state.elapsedMs;
    this.itemsSeen = state.itemsSeen;
    this.lastSavedStep = state.lastSavedStep;
    this.resumed = true;
    return this;
  }

  /** Ask the loop to stop after the current step; it saves a resumable latest ('last') checkpoint first. */
  stop(): void {
    this.stopRequested = true;
  }

  /** Everything needed to use or resume this run. */
  checkpoint(): Checkpoint {
    const { task, tokenizer, normalizer } = this.task.describe();
    const { timeLimit, steps, ...rest } = this.options;
    return {
      model: modelSpec(this.model),
      weights: this.model.stateDict(),
      task,
      ...(tokenizer ? { tokenizer } : {}),
      ...(normalizer ? { normalizer } : {}),
      ...(this.metrics ? { metrics: this.metrics } : {}),
      training: {
        step: this.step,
        optimizer: { name: this.options.optimizer, stateDict: this.optimizer.stateDict() },
        rng: { data: this.rng.getState(), global: defaultGenerator.getState() },
        carry: this.carry,
        // Infinity is not JSON: leave unlimited settings out.
        options: { ...rest, ...(Number.isFinite(steps) ? { steps } : {}), ...(Number.isFinite(timeLimit) ? { timeLimit } : {}) },
        best: this.best,
        badEvals: this.badEvals,
        elapsedMs: this.elapsedBefore + this.runMs(),
        itemsSeen: this.itemsSeen,
        lastSavedStep: this.lastSavedStep,
      },
    };
  }

  private runStart = 0;
  private runMs(): number {
    return this.runStart === 0 ? 0 : now() - this.runStart;
  }

  private lrAt(step: number): number {
    const o = this.options;
    if (o.schedule === 'cosine') return warmupCosineLr(step, { warmupSteps: o.warmupSteps, decaySteps: o.steps, maxLr: o.lr, minLr: o.minLr });
    return o.warmupSteps > 0 && step < o.warmupSteps ? (o.lr * (step + 1)) / (o.warmupSteps + 1) : o.lr;
  }

  private emit(e: TrainEvent): void {
    this.hooks.onEvent?.(e);
  }

  private async save(kind: 'last' | 'best'): Promise<void> {
    if (!this.hooks.save) return;
    if (kind === 'last') this.lastSavedStep = this.step;
    await this.hooks.save(this.checkpoint(), kind);
    this.emit({ type: 'checkpoint', step: this.step, kind });
  }

  /** Evaluate, track the best, save; returns true when early stopping triggers. */
  private async evaluate(): Promise<boolean> {
    this.model.eval();
    const metrics = this.task.evaluate(this.model);
    this.model.train();
    this.metrics = metrics;
    const improved = Number.isFinite(metrics.loss) && (this.best === null || metrics.loss < this.best.loss);
    if (improved) {
      this.best = { step: this.step, loss: metrics.loss };
      this.badEvals = 0;
    } else this.badEvals++;
    this.emit({ type: 'eval', step: this.step, metrics, best: improved, elapsedMs: this.elapsedBefore + this.runMs() });
    await this.save('last');
    if (improved) await this.save('best');
    return this.options.patience > 0 && this.badEvals >= this.options.patience;
  }

  async run(): Promise<TrainResult> {
    const o = this.options, params = this.model.parameters();
    this.runStart = now();
    let trainMs = 0, itemsThisRun = 0, stepsThisRun = 0, lastYield = now(), evaluatedAt = -1;
    const stateful = (this.task as { stateful?: (m: TaskModel) => boolean }).stateful?.(this.model) ?? false;
    this.emit({ type: 'start', step: this.step, totalSteps: o.steps, timeLimit: o.timeLimit, params: this.model.numParameters(), resumed: this.resumed, stateful });
    this.model.train();
    let reason: StopReason = 'done', message = '';
    for (;;) {
      if (this.stopRequested) { reason = 'interrupted'; break; }
      if (this.step >= o.steps) { reason = 'done'; break; }
      if (this.elapsedBefore + this.runMs() >= o.timeLimit * 1000) { reason = 'time'; break; }
      const t0 = now(), lr = this.lrAt(this.step);
      for (const g of this.optimizer.paramGroups) g.lr = lr;
      this.optimizer.zeroGrad();
      const { loss, carry } = this.task.trainLoss(this.model, this.step, this.rng, this.carry);
      const lossValue = loss.item();
      let gradNorm = NaN;
      if (Number.isFinite(lossValue)) {
        loss.backward();
        gradNorm = clipGradNorm(params, o.clipNorm > 0 ? o.clipNorm : Infinity);
      }
      if (!Number.isFinite(lossValue) || !Number.isFinite(gradNorm)) {
        const what = Number.isFinite(lossValue) ? `the gradient norm is ${gradNorm}` : `the loss is ${lossValue}`;
        const last = this.lastSavedStep >= 0 ? `the last good checkpoint (step ${this.lastSavedStep}) is intact` : 'no checkpoint was written yet';
        message = `training stopped at step ${this.step + 1}: ${what}. The model was not updated and ${last}. Hint: lower the learning rate (now ${lr})${o.clipNorm > 0 ? '' : ' or turn gradient clipping on'}.`;
        reason = 'non-finite';
        this.optimizer.zeroGrad();
        this.emit({ type: 'stop', step: this.step, reason, message });
        return this.result(reason, message, trainMs, itemsThisRun, stepsThisRun);
      }
      if (o.clipValue > 0) clipGradValue(params, o.clipValue);
      this.optimizer.step();
      this.carry = carry === null ? null : detachState(carry);
      this.step++;
      this.itemsSeen += this.task.itemsPerBatch;
      itemsThisRun += this.task.itemsPerBatch;
      stepsThisRun++;
      trainMs += now() - t0;
      const itemsPerSec = (itemsThisRun / trainMs) * 1000;
      const msPerStep = trainMs / stepsThisRun;
      const etaMs = Math.min((o.steps - this.step) * msPerStep, o.timeLimit * 1000 - this.elapsedBefore - this.runMs());
      this.emit({ type: 'step', step: this.step, totalSteps: o.steps, loss: lossValue, lr, gradNorm, itemsPerSec, elapsedMs: this.elapsedBefore + this.runMs(), etaMs: Math.max(0, etaMs) });
      if (o.evalEvery > 0 && this.step % o.evalEvery === 0) {
        evaluatedAt = this.step;
        if (await this.evaluate()) { reason = 'early-stop'; break; }
      }
      if (now() - lastYield > 50) {
        // Let signal handlers and timers run (Ctrl-C → stop()); setTimeout exists in Node and browsers.
        await new Promise((r) => setTimeout(r, 0));
        lastYield = now();
      }
    }
    if (reason === 'interrupted') {
      await this.save('last');
      message = `stopped at step ${this.step}; the latest checkpoint resumes it`;
    } else if (evaluatedAt !== this.step && this.step > 0) {
      await this.evaluate();
    }
    if (reason === 'done') message = `finished ${this.step} steps`;
    if (reason === 'time') message = `time limit of ${+o.timeLimit.toFixed(1)} s reached after ${this.step} steps`;
    if (reason === 'early-stop') message = `early stop: no better val loss in ${o.patience} evaluations (best at step ${this.best?.step})`;
    this.emit({ type: 'stop', step: this.step, reason, message });
    return this.result(reason, message, trainMs, itemsThisRun, stepsThisRun);
  }

  private result(reason: StopReason, message: string, trainMs: number, items: number, steps: number): TrainResult {
    const runMs = this.runMs();
    return {
      steps: this.step, reason, message, metrics: this.metrics, best: this.best,
      itemsPerSec: trainMs > 0 ? (items / trainMs) * 1000 : 0, elapsedMs: this.elapsedBefore + runMs,
      runSteps: steps, runMs,
    };
  }
}
