/**
 * GroupNorm with PyTorch's names, shapes and defaults (`nn.GroupNorm(num_groups, num_channels, eps=1e-5,
 * affine=True)`): weight init 1, bias init 0, input [N, C, *]. RWKV's `ln_x` is one, with a head per group.
 */
import { groupNorm } from '../ops/group-norm.js';
import { ones, zeros } from '../tensor/creation.js';
import { ConfigError } from '../tensor/errors.js';
import type { DType, Tensor } from '../tensor/tensor.js';
import { Module, parameter } from './module.js';

export interface GroupNormOptions {
  numGroups: number;
  numChannels: number;
  eps?: number;
  /** Learn a per-channel scale (weight) and shift (bias). */
  affine?: boolean;
  dtype?: DType;
}

export class GroupNorm extends Module {
  readonly numGroups: number;
  readonly numChannels: number;
  readonly eps: number;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(opts: GroupNormOptions) {
    super();
    const { numGroups, numChannels } = opts;
    if (!Number.isInteger(numGroups) || !Number.isInteger(numChannels) || numGroups < 1 || numChannels % numGroups !== 0) {
      throw new ConfigError({ op: 'GroupNorm', expected: 'numChannels divisible by a positive integer numGroups', got: `numGroups=${numGroups}, numChannels=${numChannels}` });
    }
    this.numGroups = numGroups;
    this.numChannels = numChannels;
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.affine ?? true, dtype = opts.dtype ?? 'float32';
    this.weight = this.registerParameter('weight', affine ? parameter(ones([numChannels], { dtype })) : null);
    this.bias = this.registerParameter('bias', affine ? parameter(zeros([numChannels], { dtype })) : null);
  }

  forward(x: Tensor): Tensor {
    return groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
  }
}
