/**
 * Loss functions (the `losses` namespace), PyTorch's `torch.nn.functional` losses with camelCase options.
 *
 * Convention: seqlab puts the class dimension LAST — logits are [..., C] and targets [...] — because that
 * is how sequence models produce them ([N, T, V]). PyTorch's F.cross_entropy takes classes at dim 1
 * ([N, C, T]); for 2-D logits [N, C] the two agree.
 */
import { abs, add, crossEntropyRows, div, logSoftmax, mul, neg, squaredErrorSum, sub, sum, toIndices } from '../ops/index.js';
import { ConfigError, ShapeError, fmtShape } from '../tensor/errors.js';
import { sameShape } from '../tensor/shape.js';
import { Tensor, allocFloat, tensor, type NestedArray } from '../tensor/tensor.js';

export type Reduction = 'mean' | 'sum' | 'none';

/** Integer class targets: a tensor of integer values, a flat Int32Array/number[] or nested arrays. */
export type Targets = Tensor | Int32Array | readonly number[] | readonly NestedArray[];

export interface CrossEntropyOptions {
  /** Targets equal to this contribute nothing and are left out of the mean (default −100). */
  ignoreIndex?: number;
  reduction?: Reduction;
  /** ε in [0, 1]: the target distribution is (1−ε)·onehot + ε/C (Szegedy et al. 2016). */
  labelSmoothing?: number;
}

function checkReduction(op: string, r: Reduction): void {
  if (r !== 'mean' && r !== 'sum' && r !== 'none') {
    throw new ConfigError({ op, expected: "reduction 'mean', 'sum' or 'none'", got: JSON.stringify(r) });
  }
}

function asTargets(t: Targets): Tensor | Int32Array | readonly number[] {
  // Nested arrays become a tensor so their shape is checked against the logits.
  return t instanceof Tensor || t instanceof Int32Array || t.length === 0 || !Array.isArray(t[0])
    ? (t as Tensor | Int32Array | readonly number[])
    : tensor(t as NestedArray[], undefined, { dtype: 'float64' });
}

function reduce(loss: Tensor, reduction: Reduction, count: number): Tensor {
  if (reduction === 'none') return loss;
  const s = sum(loss);
  return reduction === 'sum' ? s : div(s, count);
}

/**
 * Cross-entropy between logits [..., C] (classes last) and integer targets [...]:
 * loss_i = −log softmax(logits_i)[t_i], with label smoothing
 * loss_i = (1−ε)·(−log p_i[t_i]) + ε·mean_c(−log p_i[c]).
 * 'mean' averages over the non-ignored elements (NaN when all are ignored, as PyTorch); 'none' returns
 * [...] with 0 at ignored positions.
 */
export function crossEntropy(logits: Tensor, targets: Targets, opts: CrossEntropyOptions = {}): Tensor {
  const ignoreIndex = opts.ignoreIndex ?? -100, reduction = opts.reduction ?? 'mean', eps = opts.labelSmoothing ?? 0;
  checkReduction('crossEntropy', reduction);
  if (!(eps >= 0 && eps <= 1)) throw new ConfigError({ op: 'crossEntropy', expected: 'labelSmoothing in [0, 1]', got: String(eps) });
  const t = asTargets(targets);
  let loss = crossEntropyRows(logits, t, ignoreIndex); // checks shapes and target range
  const raw = t instanceof Tensor ? t.buf : t;
  const keep = Float64Array.from(raw, (v) => (v === ignoreIndex ? 0 : 1));
  const count = keep.reduce((a, b) => a + b, 0);
  if (eps > 0) {
    const C = logits.shape[logits.ndim - 1]!;
    const mask = new Tensor(logits.dtype === 'float64' ? keep : Float32Array.from(keep), loss.shape);
    const smooth = mul(neg(sum(logSoftmax(logits), -1)), mask); // −Σ_c log p_c, 0 where ignored
    loss = add(mul(loss, 1 - eps), mul(smooth, eps / C));
  }
  return reduce(loss, reduction, count);
}

/**
 * Negative log-likelihood of log-probabilities [..., C] (classes last) at integer targets [...]:
 * loss_i = −logProbs_i[t_i]. Same options as crossEntropy, without label smoothing.
 */
export function nllLoss(logProbs: Tensor, targets: Targets, opts: Omit<CrossEntropyOptions, 'labelSmoothing'> = {}): Tensor {
  const ignoreIndex = opts.ignoreIndex ?? -100, reduction = opts.reduction ?? 'mean';
  checkReduction('nllLoss', reduction);
  // −Σ_c x_c·onehot_c, built from primitives (crossEntropyRows would re-normalise the rows).
  const t = asTargets(targets);
  const C = checkTargets('nllLoss', logProbs, t, ignoreIndex);
  const raw = t instanceof Tensor ? t.buf : t;
  const onehot = new Tensor(allocFloat(logProbs.dtype, logProbs.size), logProbs.shape);
  let count = 0;
  for (let r = 0; r < raw.length; r++) {
    if (raw[r] === ignoreIndex) continue;
    onehot.buf[r * C + raw[r]!] = 1;
    count++;
  }
  return reduce(neg(sum(mul(logProbs, onehot), -1)), reduction, count);
}

/** The checks crossEntropyRows makes, for losses that do not call it: shape [...] and ids in [0, C). */
function checkTargets(op: string, input: Tensor, t: Tensor | Int32Array | readonly number[], ignoreIndex: number): number {
  const rowShape = input.shape.slice(0, -1);
  const tShape = t instanceof Tensor ? t.shape : [t.length];
  const rows = rowShape.reduce((a, b) => a * b, 1);
  if (input.ndim < 1 || (t instanceof Tensor ? !sameShape(tShape, rowShape) : t.length !== rows)) {
    throw new ShapeError({ op, expected: `targets of shape ${fmtShape(rowShape)} for input ${fmtShape(input.shape)} (classes last)`, got: fmtShape(tShape) });
  }
  const C = input.shape[input.ndim - 1]!;
  toIndices(op, Array.from(t instanceof Tensor ? t.buf : t, (v) => (v === ignoreIndex ? 0 : v)), C, 'target');
  return C;
}

function checkSame(op: string, a: Tensor, b: Tensor): void {
  if (!sameShape(a.shape, b.shape)) {
    throw new ShapeError({ op, expected: `target of the input's shape ${fmtShape(a.shape)}`, got: fmtShape(b.shape) });
  }
}

/** Mean squared error: (pred − target)², reduced. Shapes must match (no silent broadcasting). */
export function mse(pred: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  const reduction = opts.reduction ?? 'mean';
  checkReduction('mse', reduction);
  checkSame('mse', pred, target);
  if (reduction === 'none') {
    const d = sub(pred, target);
    return mul(d, d);
  }
  const s = squaredErrorSum(pred, target);
  return reduction === 'sum' ? s : div(s, pred.size);
}

/** Mean absolute error: |pred − target|, reduced. */
export function l1(pred: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  const reduction = opts.reduction ?? 'mean';
  checkReduction('l1', reduction);
  checkSame('l1', pred, target);
  return reduce(abs(sub(pred, target)), reduction, pred.size);
}
