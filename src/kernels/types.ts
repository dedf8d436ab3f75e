/**
 * The one interface every compute backend implements: coarse, model-shaped operations on flat typed arrays
 * with explicit sizes. Model code never sees which backend runs. `ref` (plain TypeScript loops) is the
 * specification; faster backends must agree with it (test/kernels/conformance.ts).
 *
 * Conventions: all arrays are contiguous row-major; `*Off` arguments are element offsets; outputs are
 * overwritten unless the method says it accumulates. Methods are generic over Float32Array and
 * Float64Array (the latter for finite-difference gradient checks); a backend may handle float64 by
 * delegating to `ref`.
 */
export type FloatArray = Float32Array | Float64Array;

export type UnaryOp = 'neg' | 'exp' | 'log' | 'sqrt' | 'tanh' | 'sigmoid' | 'relu' | 'abs' | 'pow' | 'softplus' | 'silu';
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum';

export interface Kernels {
  readonly name: string;

  /**
   * C[m, n] = op(A) · op(B) (+ C when `accumulate`), op(A) is [m, k] (A stored [k, m] when transA),
   * op(B) is [k, n] (B stored [n, k] when transB).
   */
  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number,
    a: FloatArray, aOff: number, b: FloatArray, bOff: number,
    c: FloatArray, cOff: number, accumulate: boolean,
  ): void;

  /** out = f(x) elementwise; `alpha` is the exponent of 'pow' (unused otherwise). */
  unary(op: UnaryOp, x: FloatArray, out: FloatArray, n: number, alpha: number): void;
  /** dx = dy ⊙ f'(x), given x and y = f(x) (each rule reads whichever is cheaper and stabler). */
  unaryBackward(op: UnaryOp, x: FloatArray, y: FloatArray, dy: FloatArray, dx: FloatArray, n: number, alpha: number): void;

  /** out[outShape] = a ∘ b where a and b are read through broadcast strides (0 on broadcast dims). */
  binary(op: BinaryOp, a: FloatArray, aStrides: readonly number[], b: FloatArray, bStrides: readonly number[],
    out: FloatArray, outShape: readonly number[]): void;

  /** x viewed as [outer, dim, inner]; out[outer, inner] = Σ over dim. */
  reduceSum(x: FloatArray, out: FloatArray, outer: number, dim: number, inner: number): void;
  /** Max over the middle axis; `argmax` receives the index of the first maximum. */
  reduceMax(x: FloatArray, out: FloatArray, argmax: Int32Array, outer: number, dim: number, inner: number): void;

  /** out = x with axes permuted: out.shape[i] = shape[perm[i]]. */
  permute(x: FloatArray, out: FloatArray, shape: readonly number[], perm: readonly number[]): void;

  /** Softmax (or log-softmax) over the last axis of x viewed as [rows, cols]. */
  softmax(x: FloatArray, out: FloatArray, rows: number, cols: number, log: boolean): void;
  /** Backward of softmax/log-softmax given its output y. */
  softmaxBackward(y: FloatArray, dy: FloatArray, dx: FloatArray, rows: number, cols: number, log: boolean): void;

  /**
   * Cross-entropy per row of logits [rows, cols] against integer targets; rows whose target equals
   * `ignoreIndex` get loss 0 and are excluded. Writes per-row loss and the row's log-softmax to `logp`.
   */
  crossEntropyForward(logits: FloatArray, targets: Int32Array, rows: number, cols: number, ignoreIndex: number,
    loss: FloatArray, logp: FloatArray): void;
  /** dlogits = scale[row] · (softmax − onehot) for kept rows, 0 for ignored rows. */
  crossEntropyBackward(logp: FloatArray, targets: Int32Array, rows: number, cols: number, ignoreIndex: number,
    dloss: FloatArray, dlogits: FloatArray): void;

  /** LayerNorm over the last `cols` values of each row: y = (x − μ)·rstd ⊙ w + b (w, b may be null). */
  layerNormForward(x: FloatArray, w: FloatArray | null, b: FloatArray | null, y: FloatArray,
    mean: FloatArray, rstd: FloatArray, rows: number, cols: number, eps: number): void;
  /** Writes dx; accumulates into dw and db when given. */
  layerNormBackward(x: FloatArray, w: FloatArray | null, mean: FloatArray, rstd: FloatArray, dy: FloatArray,
    dx: FloatArray, dw: FloatArray | null, db: FloatArray | null, rows: number, cols: number): void;

  /** RMSNorm: y = x · rstd ⊙ w, rstd = 1/√(mean(x²) + eps). */
  rmsNormForward(x: FloatArray, w: FloatArray | null, y: FloatArray, rstd: FloatArray, rows: number, cols: number,
    eps: number): void;
  rmsNormBackward(x: FloatArray, w: FloatArray | null, rstd: FloatArray, dy: FloatArray, dx: FloatArray,
    dw: FloatArray | null, rows: number, cols: number): void;

  /** out[r, :] = table[idx[r], :] for a table of [?, cols]. */
  indexSelect(table: FloatArray, idx: Int32Array, out: FloatArray, cols: number): void;
  /** dtable[idx[r], :] += dout[r, :] (rows with idx == skip are left out; pass -1 for none). */
  indexAdd(dtable: FloatArray, idx: Int32Array, dout: FloatArray, cols: number, skip: number): void;

  /** PyTorch's SGD step on n values (in place on p and the momentum buffer). */
  sgdUpdate(p: FloatArray, g: FloatArray, buf: FloatArray | null, n: number, o: SGDStep): void;
  /** PyTorch's Adam / AdamW step (in place on p, m, v and vmax). */
  adamUpdate(p: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, vmax: FloatArray | null, n: number, o: AdamStep): void;
}

export interface SGDStep {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  /** First step for this parameter: the momentum buffer is initialised to the gradient. */
  first: boolean;
}

export interface AdamStep {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW: decay the weights directly instead of adding weightDecay·p to the gradient. */
  decoupled: boolean;
  /** 1-based step count, for bias correction. */
  step: number;
  amsgrad: boolean;
}
