import { ConfigError } from './errors.js';
import { Generator, defaultGenerator } from './random.js';
import { checkShapeArg, numel } from './shape.js';
import { Tensor, allocFloat, type DType } from './tensor.js';

export interface CreateOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}
export interface RandomOptions extends CreateOptions {
  /** A seed for a fresh generator (reproducible regardless of other calls). */
  seed?: number;
  /** A generator to draw from (advances it). */
  generator?: Generator;
}

function make(op: string, shape: readonly number[], opts: CreateOptions, fill: (buf: Float32Array | Float64Array) => void): Tensor {
  checkShapeArg(op, shape);
  const buf = allocFloat(opts.dtype ?? 'float32', numel(shape));
  fill(buf);
  return new Tensor(buf, shape, opts.requiresGrad ?? false);
}

function genOf(opts: RandomOptions): Generator {
  if (opts.seed !== undefined) return new Generator(opts.seed);
  return opts.generator ?? defaultGenerator;
}

export const zeros = (shape: readonly number[], opts: CreateOptions = {}): Tensor => make('zeros', shape, opts, () => {});
export const ones = (shape: readonly number[], opts: CreateOptions = {}): Tensor => make('ones', shape, opts, (b) => b.fill(1));
export const full = (shape: readonly number[], value: number, opts: CreateOptions = {}): Tensor =>
  make('full', shape, opts, (b) => b.fill(value));
export const zerosLike = (t: Tensor): Tensor => zeros(t.shape, { dtype: t.dtype });
export const onesLike = (t: Tensor): Tensor => ones(t.shape, { dtype: t.dtype });

/** Standard normal samples from the seeded generator (Box–Muller on xoshiro128**). */
export function randn(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  const g = genOf(opts);
  return make('randn', shape, opts, (b) => {
    for (let i = 0; i < b.length; i++) b[i] = g.normal();
  });
}

/** Uniform samples in [low, high) (default [0, 1)). */
export function rand(shape: readonly number[], opts: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const g = genOf(opts);
  const lo = opts.low ?? 0, hi = opts.high ?? 1;
  return make('rand', shape, opts, (b) => {
    for (let i = 0; i < b.length; i++) b[i] = lo + (hi - lo) * g.uniform();
  });
}

/** Values start, start+step, … below end (like `torch.arange`). */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0 || !Number.isFinite(step)) throw new ConfigError({ op: 'arange', expected: 'a finite non-zero step', got: String(step) });
  const n = Math.max(0, Math.ceil((end - start) / step));
  return make('arange', [n], opts, (b) => {
    for (let i = 0; i < n; i++) b[i] = start + i * step;
  });
}
