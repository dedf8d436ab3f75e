/**
 * Fused ops with hand-written backward passes: faster and numerically better than their composed twins.
 * Each one saves a typed record in forward and consumes it in backward.
 */
import { fusedOp } from '../autograd/tape.js';
import { kernels } from '../kernels/index.js';
import { ShapeError, fmtShape } from '../tensor/errors.js';
import { numel, sameShape } from '../tensor/shape.js';
import { Tensor, allocFloat, type FloatArray } from '../tensor/tensor.js';
import { empty, emptyOverwritten, resultDtype, toIndices } from './primitives.js';

function checkNormalized(op: string, x: Tensor, normalizedShape: readonly number[], params: (Tensor | null)[]): number {
  const tail = x.shape.slice(x.ndim - normalizedShape.length);
  if (normalizedShape.length > x.ndim || !sameShape(tail, normalizedShape)) {
    throw new ShapeError({ op, expected: `input ending in ${fmtShape(normalizedShape)}`, got: fmtShape(x.shape) });
  }
  for (const p of params) {
    if (p && !sameShape(p.shape, normalizedShape)) {
      throw new ShapeError({ op, expected: `weight/bias of shape ${fmtShape(normalizedShape)}`, got: fmtShape(p.shape) });
    }
  }
  return numel(normalizedShape);
}

interface LayerNormSaved { x: Tensor; w: Tensor | null; b: Tensor | null; mean: FloatArray; rstd: FloatArray; rows: number; cols: number }
const recordLayerNorm = fusedOp<LayerNormSaved>('layerNorm', (s, [g]) => {
  const dx = emptyOverwritten(s.x.shape, s.x.dtype);
  const dw = s.w ? empty(s.w.shape, s.w.dtype) : null;
  const db = s.b ? empty(s.b.shape, s.b.dtype) : null;
  kernels().layerNormBackward(s.x.buf, s.w?.buf ?? null, s.mean, s.rstd, g!.buf, dx.buf, dw?.buf ?? null, db?.buf ?? null, s.rows, s.cols);
  return [dx, dw, db];
});

/** y = (x − E[x]) / √(Var[x] + eps) ⊙ weight + bias over the trailing `normalizedShape` dims (biased variance). */
export function layerNorm(x: Tensor, normalizedShape: readonly number[], weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  const cols = checkNormalized('layerNorm', x, normalizedShape, [weight, bias]);
  const rows = cols === 0 ? 0 : x.size / cols;
  const dtype = resultDtype(x, ...[weight, bias].filter((t): t is Tensor => t !== null));
  const y = empty(x.shape, dtype);
  const mean = allocFloat(dtype, rows), rstd = allocFloat(dtype, rows);
  kernels().layerNormForward(x.buf, weight?.buf ?? null, bias?.buf ?? null, y.buf, mean, rstd, rows, cols, eps);
  // Placeholders keep input positions fixed when weight or bias are absent.
  const inputs = [x, weight ?? empty([0]), bias ?? empty([0])];
  recordLayerNorm(inputs, [y], { x, w: weight, b: bias, mean, rstd, rows, cols });
  return y;
}

interface RMSNormSaved { x: Tensor; w: Tensor | null; rstd: FloatArray; rows: number; cols: number }
const recordRMSNorm = fusedOp<RMSNormSaved>('rmsNorm', (s, [g]) => {
  const dx = emptyOverwritten(s.x.shape, s.x.dtype);
  const dw = s.w ? empty(s.w.shape, s.w.dtype) : null;
  kernels().rmsNormBackward(s.x.buf, s.w?.buf ?? null, s.rstd, g!.buf, dx.buf, dw?.buf ?? null, s.rows, s.cols);
  return [dx, dw];
});

/** y = x / √(mean(x²) + eps) ⊙ weight over the trailing `normalizedShape` dims. */
export function rmsNorm(x: Tensor, normalizedShape: readonly number[], weight: Tensor | null, eps: number): Tensor {
  const cols = checkNormalized('rmsNorm', x, normalizedShape, [weight]);
  const rows = cols === 0 ? 0 : x.size / cols;
  const dtype = resultDtype(x, ...(weight ? [weight] : []));
  const y = empty(x.shape, dtype);
  const rstd = allocFloat(dtype, rows);
  kernels().rmsNormForward(x.buf, weight?.buf ?? null, y.buf, rstd, rows, cols, eps);
  recordRMSNorm([x, weight ?? empty([0])], [y], { x, w: weight, rstd, rows, cols });
  return y;
}

interface CrossEntropySaved { logits: Tensor; logp: FloatArray; targets: Int32Array; rows: number; cols: number; ignoreIndex: number }
const recordCrossEntropy = fusedOp<CrossEntropySaved>('crossEntropyRows', (s, [g]) => {
  const dl = emptyOverwritten(s.logits.shape, s.logits.dtype);
  kernels().crossEntropyBackward(s.logp, s.targets, s.rows, s.cols, s.ignoreIndex, g!.buf, dl.buf);
  return [dl];
});

/**
 * Per-row cross-entropy −log softmax(logits)[target] for logits [..., C] (classes last) and integer
 * targets [...]; rows whose target is `ignoreIndex` get 0. Reductions live in `losses.crossEntropy`.
 */
export function crossEntropyRows(logits: Tensor, targets: Tensor | Int32Array | readonly number[], ignoreIndex = -100): Tensor {
  if (logits.ndim < 1) throw new ShapeError({ op: 'crossEntropy', expected: 'logits [..., C]', got: 'a scalar' });
  const cols = logits.shape[logits.ndim - 1]!;
  const rowShape = logits.shape.slice(0, -1);
  const rows = numel(rowShape);
  const tShape = targets instanceof Tensor ? targets.shape : [targets.length];
  if (numel(tShape) !== rows || (targets instanceof Tensor && !sameShape(tShape, rowShape))) {
    throw new ShapeError({
      op: 'crossEntropy', expected: `targets of shape ${fmtShape(rowShape)} for logits ${fmtShape(logits.shape)} (classes last)`,
      got: fmtShape(tShape),
    });
  }
  const raw = targets instanceof Tensor ? targets.buf : targets;
  const kept = Array.from(raw, (v) => (v === ignoreIndex ? 0 : v));
  toIndices('crossEntropy', kept, cols, 'target'); // range check with a clear message
  const t = Int32Array.from(raw);
  const loss = empty(rowShape, logits.dtype);
  const logp = allocFloat(logits.dtype, logits.size);
  kernels().crossEntropyForward(logits.buf, t, rows, cols, ignoreIndex, loss.buf, logp);
  recordCrossEntropy([logits], [loss], { logits, logp, targets: t, rows, cols, ignoreIndex });
  return loss;
}

interface SquaredErrorSaved { pred: Tensor; target: Tensor }
const recordSquaredError = fusedOp<SquaredErrorSaved>('squaredErrorSum', (s, [g]) => {
  const { pred, target } = s;
  const dp = empty(pred.shape, pred.dtype), dt = empty(target.shape, target.dtype);
  const k = 2 * g!.buf[0]!, p = pred.buf, t = target.buf, a = dp.buf, b = dt.buf;
  for (let i = 0; i < a.length; i++) {
    const v = k * (p[i]! - t[i]!);
    a[i] = v;
    b[i] = -v;
  }
  return [dp, dt];
});

/**
 * Σ (pred − target)² over every element, as one op: the loss of a regression over a whole sequence is one
 * pass forward and one backward instead of a chain of elementwise ops over [T, N, H]. The sum accumulates
 * in float64. Shapes must match (the caller checks).
 */
export function squaredErrorSum(pred: Tensor, target: Tensor): Tensor {
  const p = pred.buf, t = target.buf;
  let s = 0;
  for (let i = 0; i < p.length; i++) { const d = p[i]! - t[i]!; s += d * d; }
  const out = empty([], resultDtype(pred, target));
  out.buf[0] = s;
  recordSquaredError([pred, target], [out], { pred, target });
  return out;
}
