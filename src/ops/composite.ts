/**
 * Ops composed from primitives: they get gradients for free from the primitives' rules. Some have a fused
 * twin in fused.ts (layerNorm, rmsNorm); tests prove each pair agrees in value and gradient.
 */
import { ConfigError, ShapeError, fmtShape } from '../tensor/errors.js';
import { Generator, defaultGenerator } from '../tensor/random.js';
import { normDim, numel } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { add, div, empty, matmul, mul, pow, reshape, sqrt, sub, sum } from './primitives.js';

/** Mean over `dim` (all when omitted). */
export function mean(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  const dims = dim === undefined ? x.shape.map((_, i) => i) : typeof dim === 'number' ? [dim] : [...dim];
  const count = numel(dims.map((d) => x.shape[normDim('mean', d, x.ndim)]!));
  return div(sum(x, dim, keepdim), count);
}

/** Variance over `dim`; `unbiased` (Bessel's correction) defaults to true like `torch.var`. */
export function variance(x: Tensor, dim?: number | readonly number[], opts: { keepdim?: boolean; unbiased?: boolean } = {}): Tensor {
  const dims = dim === undefined ? x.shape.map((_, i) => i) : typeof dim === 'number' ? [dim] : [...dim];
  const count = numel(dims.map((d) => x.shape[normDim('variance', d, x.ndim)]!));
  const d = sub(x, mean(x, dim, true));
  return div(sum(mul(d, d), dim, opts.keepdim ?? false), (opts.unbiased ?? true) ? count - 1 : count);
}

export const square = (x: Tensor): Tensor => mul(x, x);

/** y = x·Wᵀ + b, with W stored [out, in] like PyTorch. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const inF = weight.shape[1]!;
  if (weight.ndim !== 2 || x.ndim < 1 || x.shape[x.ndim - 1] !== inF) {
    throw new ShapeError({
      op: 'linear', expected: `input [..., ${inF}] for weight ${fmtShape(weight.shape)}`, got: fmtShape(x.shape),
    });
  }
  const x2 = x.ndim === 1 ? reshape(x, [1, inF]) : x;
  let y = matmul(x2, weight, { transB: true });
  if (bias) y = add(y, bias);
  return x.ndim === 1 ? reshape(y, [weight.shape[0]!]) : y;
}

/**
 * Inverted dropout: zero each element with probability p and scale the rest by 1/(1−p), as PyTorch.
 * Identity when not training or p = 0.
 */
export function dropout(x: Tensor, p: number, training: boolean, generator: Generator = defaultGenerator): Tensor {
  if (!(p >= 0 && p <= 1)) throw new ConfigError({ op: 'dropout', expected: 'p in [0, 1]', got: String(p) });
  if (!training || p === 0) return x;
  const mask = empty(x.shape, x.dtype);
  const scale = p === 1 ? 0 : 1 / (1 - p);
  for (let i = 0; i < mask.size; i++) mask.buf[i] = generator.uniform() < p ? 0 : scale;
  return mul(x, mask);
}

/** LayerNorm from primitives (the twin of the fused `layerNorm`). */
export function layerNormComposite(x: Tensor, normalizedShape: readonly number[], weight: Tensor | null, bias: Tensor | null, eps: number): Tensor {
  const dims = normalizedShape.map((_, i) => x.ndim - normalizedShape.length + i);
  const mu = mean(x, dims, true);
  const xc = sub(x, mu);
  const v = mean(mul(xc, xc), dims, true);
  let y = div(xc, sqrt(add(v, eps)));
  if (weight) y = mul(y, weight);
  if (bias) y = add(y, bias);
  return y;
}

/** RMSNorm from primitives: x · (mean(x²) + eps)^(−1/2) ⊙ w. */
export function rmsNormComposite(x: Tensor, normalizedShape: readonly number[], weight: Tensor | null, eps: number): Tensor {
  const dims = normalizedShape.map((_, i) => x.ndim - normalizedShape.length + i);
  let y = mul(x, pow(add(mean(mul(x, x), dims, true), eps), -0.5));
  if (weight) y = mul(y, weight);
  return y;
}
