/**
 * Group normalisation (Wu & He 2018), PyTorch's `F.group_norm`: the C channels of x [N, C, *] split into
 * `numGroups` groups of consecutive channels; each (sample, group) is normalised over its channels and
 * positions, then scaled and shifted per channel. Built on the fused layerNorm (each group is one row of
 * length C/G·∏*), so it needs no kernel of its own and inherits layerNorm's hand-written backward.
 */
import { ShapeError, fmtShape } from '../tensor/errors.js';
import { numel } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { layerNorm } from './fused.js';
import { add, mul, reshape } from './primitives.js';

/** y = (x − E_g[x]) / √(Var_g[x] + eps) ⊙ weight[c] + bias[c], statistics per (sample, group), biased variance. */
export function groupNorm(x: Tensor, numGroups: number, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  const c = x.shape[1] ?? 0;
  if (x.ndim < 2 || !Number.isInteger(numGroups) || numGroups < 1 || c % numGroups !== 0) {
    throw new ShapeError({ op: 'groupNorm', expected: `input [N, C, *] with C divisible by numGroups=${numGroups}`, got: fmtShape(x.shape) });
  }
  for (const [name, p] of [['weight', weight], ['bias', bias]] as const) {
    if (p !== null && (p.ndim !== 1 || p.shape[0] !== c)) throw new ShapeError({ op: 'groupNorm', expected: `${name} [${c}]`, got: fmtShape(p.shape) });
  }
  const row = (c / numGroups) * numel(x.shape.slice(2));
  let y = reshape(layerNorm(reshape(x, [x.shape[0]!, numGroups, row]), [row], null, null, eps), x.shape);
  const perChannel = [c, ...x.shape.slice(2).map(() => 1)];
  if (weight !== null) y = mul(y, reshape(weight, perChannel));
  if (bias !== null) y = add(y, reshape(bias, perChannel));
  return y;
}
