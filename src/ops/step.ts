/**
 * What the models' fused streaming steps need from below: the active backend's step kernels
 * (kernels/step.ts), derived-value caches kept where the kernels read them in place, and the two ends of a
 * language model's step (embedding rows in, normalised head out) on plain arrays. No tape: these run only
 * when nothing is recorded (a model checks `canFuseStep` first).
 */
import { isGradEnabled } from '../autograd/tape.js';
import { kernels, releaseResident, residentCopy, residentZeros } from '../kernels/index.js';
import { derivedCache, type DerivedCache, type StepKernels } from '../kernels/step.js';
import { ShapeError, fmtShape } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';

export type {
  DerivedCache, GptStepShape, GptStepWeights, Mamba2StepShape, Mamba2StepWeights, MambaStepShape, MambaStepState, MambaStepWeights,
  LnPair, Rwkv6StepShape, Rwkv6StepWeights, Rwkv7StepShape, Rwkv7StepWeights, RwkvStepState, StepKernels,
} from '../kernels/step.js';

/** The active backend's fused step kernels. */
export const stepKernels = (): StepKernels => kernels();

/** A derived-value cache of n entries, resident in wasm memory where the backend keeps parameters. */
export function residentDerivedCache(n: number): DerivedCache {
  const c = derivedCache(n);
  return { seen: residentCopy(c.seen), value: residentCopy(c.value) };
}

/** A zeroed float32 array of n values, resident in wasm memory where the backend keeps parameters. */
export function residentArray(n: number): Float32Array {
  return residentZeros(n);
}

/** Free a `residentArray` now (see kernels' releaseResident): only for an owner sure nothing else holds it. */
export const releaseArray = (a: Float32Array): boolean => releaseResident(a);

/**
 * A fused step may replace the op-by-op one when nothing needs recording (no grad mode, or nothing requires
 * grad) and every tensor is float32 (float64 models are gradient checks, which take the op path).
 */
export function canFuseStep(tensors: readonly Tensor[]): boolean {
  const grad = isGradEnabled();
  for (let i = 0; i < tensors.length; i++) {
    const t = tensors[i]!;
    if (t.dtype !== 'float32' || (grad && t.requiresGrad)) return false;
  }
  return true;
}

/** The final norm before a language model's head (RMSNorm: bias null, mean not subtracted; or LayerNorm). */
export interface HeadNorm { readonly kind: 'rms' | 'layer'; readonly weight: Tensor | null; readonly bias: Tensor | null; readonly eps: number }

/**
 * The arrays a model's fused step uses from one token to the next — the ids, the residual stream and the
 * head's normalised input and statistics — kept by the model and re-made only when the number of streams
 * changes, so that a streamed token allocates nothing but the logits handed to the caller (and not those
 * when the caller passes an array to write them into). The residual, the head's input and its output are
 * resident in wasm memory where the backend keeps parameters (`residentArray`): each block's kernel then
 * updates the residual in place instead of copying it in and out (at 16 streams and d 256, 4,096 values
 * each way per block, element by element), and the logits leave wasm memory in one copy.
 */
export class StepBuffers {
  private ids = new Int32Array(0);
  private x: Float32Array = new Float32Array(0);
  private h: Float32Array = new Float32Array(0);
  private logits: Float32Array = new Float32Array(0);
  private stat = new Float32Array(0);
  private mean = new Float32Array(0);

  /** The token of each stream as an int32 id (the conversion `Int32Array.from` makes), in a reused array. */
  readTokens(tokens: Tensor | Int32Array | readonly number[]): Int32Array {
    const src = tokens instanceof Tensor ? tokens.buf : tokens;
    if (this.ids.length !== src.length) this.ids = new Int32Array(src.length);
    for (let i = 0; i < src.length; i++) this.ids[i] = src[i]!;
    return this.ids;
  }

  /** The residual stream [n, d]: rows of an embedding table [V, d] for `ids` (ids checked as Embedding checks them). */
  embed(op: string, table: Tensor, ids: Int32Array): Float32Array {
    const V = table.shape[0]!, d = table.shape[1]!;
    this.x = sized(this.x, ids.length * d);
    const x = this.x, w = table.buf;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= V) {
        throw new ShapeError({ op, expected: `ids in [0, ${V}) (numEmbeddings=${V})`, got: `${id} at [${i}]` });
      }
      for (let j = 0, o = id * d; j < d; j++) x[i * d + j] = w[o + j]!;
    }
    return x;
  }

  /**
   * logits [n, V] = norm(x) · Wᵀ for a residual x [n, d] and the head W [V, d] (a tied embedding or a Linear
   * weight), written into `out` when given (its buffer float32 of n·V values) and returned; else a new tensor.
   */
  head(x: Float32Array, n: number, norm: HeadNorm, W: Tensor, out: Tensor | null = null): Tensor {
    const k = kernels(), d = W.shape[1]!, V = W.shape[0]!;
    this.h = sized(this.h, n * d);
    if (this.stat.length !== n) { this.stat = new Float32Array(n); this.mean = new Float32Array(n); }
    const w = norm.weight?.buf ?? null;
    if (norm.kind === 'rms') k.rmsNormForward(x, w, this.h, this.stat, n, d, norm.eps);
    else k.layerNormForward(x, w, norm.bias?.buf ?? null, this.h, this.mean, this.stat, n, d, norm.eps);
    const logits = out ?? new Tensor(new Float32Array(n * V), [n, V]);
    this.logits = sized(this.logits, n * V);
    k.gemm(false, true, n, V, d, this.h, 0, W.buf, 0, this.logits, 0, false);
    logits.buf.set(this.logits);
    return logits;
  }
}

/** `a` when it holds n values, else a new zeroed `residentArray` of n (the old one freed: only its owner holds it). */
export function sized(a: Float32Array, n: number): Float32Array {
  if (a.length === n) return a;
  releaseArray(a);
  return residentArray(n);
}

/** Check a caller's logits array for `stepInPlace`: float32, shape [n, V]. */
export function checkLogitsOut(op: string, out: Tensor, n: number, V: number): void {
  if (out.dtype !== 'float32' || out.ndim !== 2 || out.shape[0] !== n || out.shape[1] !== V) {
    throw new ShapeError({ op, expected: `out: a float32 tensor [${n}, ${V}] for the logits`, got: `${out.dtype} ${fmtShape(out.shape)}` });
  }
}
