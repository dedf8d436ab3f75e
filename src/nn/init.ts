/**
 * In-place initialisers, PyTorch's `torch.nn.init` with the same names (camelCase), formulas and defaults.
 * They draw from the seeded default generator (src/tensor/random.ts) unless a generator is passed, so a
 * model built after `manualSeed(n)` is reproducible. The numbers differ from PyTorch's (another PRNG);
 * the distributions are the same. Each returns its argument.
 */
import { ConfigError, ShapeError, fmtShape } from '../tensor/errors.js';
import { Generator, defaultGenerator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';

/** Fill with U(a, b). */
export function uniform_(t: Tensor, a = 0, b = 1, generator: Generator = defaultGenerator): Tensor {
  for (let i = 0; i < t.size; i++) t.buf[i] = a + (b - a) * generator.uniform();
  return t;
}

/** Fill with N(mean, std²). */
export function normal_(t: Tensor, mean = 0, std = 1, generator: Generator = defaultGenerator): Tensor {
  for (let i = 0; i < t.size; i++) t.buf[i] = mean + std * generator.normal();
  return t;
}

export function constant_(t: Tensor, value: number): Tensor {
  t.buf.fill(value);
  return t;
}
export const zeros_ = (t: Tensor): Tensor => constant_(t, 0);
export const ones_ = (t: Tensor): Tensor => constant_(t, 1);

export type Nonlinearity = 'linear' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';

/** The recommended gain for a nonlinearity (`torch.nn.init.calculate_gain`); `param` is leaky_relu's slope. */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear': case 'sigmoid': return 1;
    case 'tanh': return 5 / 3;
    case 'relu': return Math.SQRT2;
    case 'leaky_relu': { const s = param ?? 0.01; return Math.sqrt(2 / (1 + s * s)); }
    case 'selu': return 3 / 4;
    default: return nonlinearity satisfies never;
  }
}

/** fan_in = shape[1]·receptive field, fan_out = shape[0]·receptive field (PyTorch's rule; needs rank ≥ 2). */
export function calculateFanInAndFanOut(t: Tensor): { fanIn: number; fanOut: number } {
  if (t.ndim < 2) {
    throw new ShapeError({ op: 'init', expected: 'a tensor of rank ≥ 2 to compute fan in and fan out', got: fmtShape(t.shape) });
  }
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: t.shape[1]! * receptive, fanOut: t.shape[0]! * receptive };
}

export interface KaimingOptions {
  /** Negative slope of the leaky ReLU that follows (PyTorch's `a`, default 0). nn.Linear uses √5. */
  a?: number;
  mode?: 'fan_in' | 'fan_out';
  nonlinearity?: Nonlinearity;
  generator?: Generator;
}

/** U(−bound, bound) with bound = gain·√(3 / fan), gain = calculateGain(nonlinearity, a). */
export function kaimingUniform_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  const fan = (opts.mode ?? 'fan_in') === 'fan_in' ? fanIn : fanOut;
  const gain = calculateGain(opts.nonlinearity ?? 'leaky_relu', opts.a ?? 0);
  const bound = fan === 0 ? 0 : gain * Math.sqrt(3 / fan);
  return uniform_(t, -bound, bound, opts.generator);
}

/** U(−a, a) with a = gain·√(6 / (fan_in + fan_out)) (Glorot & Bengio 2010). */
export function xavierUniform_(t: Tensor, gain = 1, generator: Generator = defaultGenerator): Tensor {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  const a = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -a, a, generator);
}

/**
 * A (semi-)orthogonal matrix from the QR decomposition of a normal matrix (Saxe et al. 2013), viewing `t`
 * as [shape[0], rest]. Modified Gram–Schmidt gives R a positive diagonal, which is exactly PyTorch's sign
 * correction `q *= sign(diag(r))`, so the result is uniformly distributed like PyTorch's.
 */
export function orthogonal_(t: Tensor, gain = 1, generator: Generator = defaultGenerator): Tensor {
  if (t.ndim < 2) throw new ShapeError({ op: 'orthogonal_', expected: 'a tensor of rank ≥ 2', got: fmtShape(t.shape) });
  const rows = t.shape[0]!, cols = t.size / rows;
  if (rows === 0 || cols === 0) return t;
  // Orthonormalise the shorter side: k vectors of length n.
  const k = Math.min(rows, cols), n = Math.max(rows, cols);
  const q = Array.from({ length: k }, () => Float64Array.from({ length: n }, () => generator.normal()));
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < i; j++) {
      let dot = 0;
      for (let e = 0; e < n; e++) dot += q[i]![e]! * q[j]![e]!;
      for (let e = 0; e < n; e++) q[i]![e]! -= dot * q[j]![e]!;
    }
    let norm = 0;
    for (let e = 0; e < n; e++) norm += q[i]![e]! ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) throw new ConfigError({ op: 'orthogonal_', expected: 'a full-rank random draw', got: 'a degenerate one' });
    for (let e = 0; e < n; e++) q[i]![e]! /= norm;
  }
  // rows ≤ cols: the vectors are the rows; otherwise they are the columns.
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) t.buf[r * cols + c] = gain * (rows <= cols ? q[r]![c]! : q[c]![r]!);
  }
  return t;
}
