/**
 * LayerNorm and RMSNorm modules over the fused ops (src/ops/fused.ts), with PyTorch's names and defaults.
 */
import { layerNorm, rmsNorm } from '../ops/index.js';
import { ones, zeros } from '../tensor/creation.js';
import { ConfigError, ShapeError, fmtShape } from '../tensor/errors.js';
import { sameShape } from '../tensor/shape.js';
import type { DType, Tensor } from '../tensor/tensor.js';
import { Module, parameter } from './module.js';

/** float32's machine epsilon, 2⁻²³ = torch.finfo(torch.float32).eps. */
export const FLOAT32_EPS = 1.1920928955078125e-7;

function normShape(op: string, s: number | readonly number[]): number[] {
  const shape = typeof s === 'number' ? [s] : [...s];
  if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new ConfigError({ op, expected: 'normalizedShape of positive integers (a number or a non-empty array)', got: JSON.stringify(s) });
  }
  return shape;
}

function checkInput(op: string, x: Tensor, shape: readonly number[]): void {
  if (x.ndim < shape.length || !sameShape(x.shape.slice(x.ndim - shape.length), shape)) {
    throw new ShapeError({ op, expected: `[..., ${shape.join(', ')}] (normalizedShape=${fmtShape(shape)})`, got: fmtShape(x.shape) }, 'wrong input shape:');
  }
}

export interface LayerNormOptions {
  /** The trailing dims to normalise over. */
  normalizedShape: number | readonly number[];
  eps?: number;
  /** Learn a per-element scale (weight, init 1) and, with `bias`, a shift (init 0). */
  elementwiseAffine?: boolean;
  bias?: boolean;
  dtype?: DType;
}

/** y = (x − E[x]) / √(Var[x] + eps) ⊙ weight + bias over the trailing dims (biased variance, eps = 1e-5). */
export class LayerNorm extends Module {
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(opts: LayerNormOptions) {
    super();
    this.normalizedShape = normShape('LayerNorm', opts.normalizedShape);
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.elementwiseAffine ?? true, dtype = opts.dtype ?? 'float32';
    this.weight = this.registerParameter('weight', affine ? parameter(ones(this.normalizedShape, { dtype })) : null);
    this.bias = this.registerParameter('bias', affine && (opts.bias ?? true) ? parameter(zeros(this.normalizedShape, { dtype })) : null);
  }

  forward(x: Tensor): Tensor {
    checkInput('layerNorm.forward', x, this.normalizedShape);
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
}

export interface RMSNormOptions {
  normalizedShape: number | readonly number[];
  /**
   * Added to mean(x²). Default: float32's machine epsilon 2⁻²³ ≈ 1.19e-7 — what PyTorch's nn.RMSNorm uses
   * with eps=None (torch.finfo(dtype).eps) for float32. Mamba and Llama checkpoints usually set 1e-5 or 1e-6.
   */
  eps?: number;
  elementwiseAffine?: boolean;
  dtype?: DType;
}

/** y = x / √(mean(x²) + eps) ⊙ weight over the trailing dims (Zhang & Sennrich 2019), weight init 1. */
export class RMSNorm extends Module {
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  readonly weight: Tensor | null;

  constructor(opts: RMSNormOptions) {
    super();
    this.normalizedShape = normShape('RMSNorm', opts.normalizedShape);
    this.eps = opts.eps ?? FLOAT32_EPS;
    const affine = opts.elementwiseAffine ?? true;
    this.weight = this.registerParameter('weight', affine ? parameter(ones(this.normalizedShape, { dtype: opts.dtype ?? 'float32' })) : null);
  }

  forward(x: Tensor): Tensor {
    checkInput('rmsNorm.forward', x, this.normalizedShape);
    return rmsNorm(x, this.normalizedShape, this.weight, this.eps);
  }
}
