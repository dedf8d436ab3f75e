/**
 * What the models' fused streaming steps need from below: the active backend's step kernels
 * (kernels/step.ts), derived-value caches kept where the kernels read them in place, and the two ends of a
 * language model's step (embedding rows in, normalised head out) on plain arrays. No tape: these run only
 * when nothing is recorded (a model checks `canFuseStep` first).
 */
import { isGradEnabled } from '../autograd/tape.js';
import { kernels, residentCopy } from '../kernels/index.js';
import { derivedCache, type DerivedCache, type StepKernels } from '../kernels/step.js';
import { ShapeError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';

export type { DerivedCache, StepKernels } from '../kernels/step.js';

/** The active backend's fused step kernels. */
export const stepKernels = (): StepKernels => kernels();

/** A derived-value cache of n entries, resident in wasm memory where the backend keeps parameters. */
export function residentDerivedCache(n: number): DerivedCache {
  const c = derivedCache(n);
  return { seen: residentCopy(c.seen), value: residentCopy(c.value) };
}

/** A zeroed float32 array of n values, resident in wasm memory where the backend keeps parameters. */
export function residentArray(n: number): Float32Array {
  return residentCopy(new Float32Array(n));
}

/**
 * A fused step may replace the op-by-op one when nothing needs recording (no grad mode, or nothing requires
 * grad) and every tensor is float32 (float64 models are gradient checks, which take the op path).
 */
export function canFuseStep(tensors: Iterable<Tensor>): boolean {
  const grad = isGradEnabled();
  for (const t of tensors) {
    if (t.dtype !== 'float32' || (grad && t.requiresGrad)) return false;
  }
  return true;
}

/** Rows of an embedding table [V, d] for `ids` as one [n, d] array (ids checked as Embedding checks them). */
export function embedRows(op: string, table: Tensor, ids: Int32Array): Float32Array {
  const [V, d] = table.shape as [number, number];
  const out = new Float32Array(ids.length * d);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id) || id < 0 || id >= V) {
      throw new ShapeError({ op, expected: `ids in [0, ${V}) (numEmbeddings=${V})`, got: `${id} at [${i}]` });
    }
    out.set(table.buf.subarray(id * d, (id + 1) * d), i * d);
  }
  return out;
}

/**
 * logits [n, V] = norm(x) · Wᵀ for a residual x [n, d]: RMSNorm (bias null, mean not subtracted) or
 * LayerNorm, then the head (a tied embedding or a Linear weight [V, d]).
 */
export function normHead(x: Float32Array, n: number, norm: { kind: 'rms' | 'layer'; weight: Tensor | null; bias: Tensor | null; eps: number },
  W: Tensor): Tensor {
  const k = kernels(), d = W.shape[1]!, V = W.shape[0]!;
  const h = new Float32Array(n * d), stat = new Float32Array(n), mean = new Float32Array(n);
  const w = norm.weight?.buf ?? null;
  if (norm.kind === 'rms') k.rmsNormForward(x, w, h, stat, n, d, norm.eps);
  else k.layerNormForward(x, w, norm.bias?.buf ?? null, h, mean, stat, n, d, norm.eps);
  const logits = new Float32Array(n * V);
  k.gemm(false, true, n, V, d, h, 0, W.buf, 0, logits, 0, false);
  return new Tensor(logits, [n, V]);
}
