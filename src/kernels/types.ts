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
import * as RK from './recurrent-kinds.js';
import type { StepKernels } from './step.js';

import type { FloatArray } from './arrays.js';

export type { FloatArray } from './arrays.js';

/** 'gelu' is the exact, erf-based GELU x·Φ(x) (PyTorch's `nn.GELU()`), not the tanh approximation. */
export type UnaryOp = 'neg' | 'exp' | 'log' | 'sqrt' | 'tanh' | 'sigmoid' | 'relu' | 'abs' | 'pow' | 'softplus' | 'silu' | 'gelu';
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum';

export interface Kernels extends RecurrentKernels, AttentionKernels, ScanKernels, WkvKernels, StepKernels {
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
  /**
   * RWKV's token-shift mix over rows × d values: out = x + xx ⊙ (c + m), c holding d values (one per
   * column) and m [rows, d]; with m null, out = x + xx ⊙ c. Every operation rounds to the arrays'
   * precision, so the values are those of the composed add and mul.
   */
  tokenMix(x: FloatArray, xx: FloatArray, c: FloatArray, m: FloatArray | null, out: FloatArray, rows: number, d: number): void;
  /** `tokenMix`'s backward for g = ∂L/∂out: gxx = g ⊙ (c + m) (or g ⊙ c) and gm = g ⊙ xx (∂L/∂m; summed over rows, ∂L/∂c). */
  tokenMixBackward(g: FloatArray, xx: FloatArray, c: FloatArray, m: FloatArray | null, gxx: FloatArray, gm: FloatArray,
    rows: number, d: number): void;

  /** out = relu(x)² (RWKV's channel-mix activation), rounded as relu then a multiply round it. */
  reluSquare(x: FloatArray, out: FloatArray, n: number): void;
  /** Its backward: dx = 2 (g · relu(x)) where x > 0, else 0 (the two products of relu(x)·relu(x)'s rule, summed). */
  reluSquareBackward(x: FloatArray, g: FloatArray, dx: FloatArray, n: number): void;

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

// ------------------------------------------------------------------ recurrent layers

/**
 * The cell of a fused recurrent layer. Gate blocks follow PyTorch: LSTM (i, f, g, o), GRU (r, z, n).
 * `gru` is PyTorch's reset-after form (r ⊙ (W_hn h + b_hn)); `gru_reset_before` is the original form
 * (W_hn (r ⊙ h) + b_hn), ONNX's default and Keras' reset_after=False.
 */
export type RecurrentKind = keyof typeof RECURRENT_KINDS;

/** Each kind's code (the wasm kernels' `kind` argument) and gate count, from recurrent-kinds.ts. */
export const RECURRENT_KINDS = {
  rnn_tanh: { code: RK.RNN_TANH, gates: RK.RNN_GATES },
  rnn_relu: { code: RK.RNN_RELU, gates: RK.RNN_GATES },
  lstm: { code: RK.LSTM, gates: RK.LSTM_GATES },
  gru: { code: RK.GRU, gates: RK.GRU_GATES },
  gru_reset_before: { code: RK.GRU_RESET_BEFORE, gates: RK.GRU_GATES },
} as const;

/** Gate blocks per cell family (the `cell` option of the recurrent language models). */
export const CELL_GATES = { rnn: RK.RNN_GATES, lstm: RK.LSTM_GATES, gru: RK.GRU_GATES } as const;

/** Gate blocks per kind (LSTM 4, GRU 3, RNN 1). */
export const GATES: { readonly [K in RecurrentKind]: number } = {
  rnn_tanh: RECURRENT_KINDS.rnn_tanh.gates, rnn_relu: RECURRENT_KINDS.rnn_relu.gates, lstm: RECURRENT_KINDS.lstm.gates,
  gru: RECURRENT_KINDS.gru.gates, gru_reset_before: RECURRENT_KINDS.gru_reset_before.gates,
};

/** One layer direction over a whole sequence, time-major. */
export interface RecurrentShape {
  kind: RecurrentKind;
  /** Time steps, batch, input width, hidden width, output width (P = projSize for a projected LSTM, else H). */
  T: number; N: number; I: number; H: number; P: number;
  /** Walk time from T−1 down to 0 (the backward direction of a bidirectional layer). */
  reverse: boolean;
  /** Per-sequence lengths for right-padded batches, or null when all are T. */
  lengths: Int32Array | null;
}

/** One timestep of one layer direction (a streaming step): the fields of RecurrentShape that T = 1 leaves. */
export type RecurrentStepShape = Pick<RecurrentShape, 'kind' | 'N' | 'I' | 'H' | 'P'>;

export interface RecurrentWeights {
  wih: FloatArray;   // [G·H, I]
  whh: FloatArray;   // [G·H, P]
  bih: FloatArray | null; // [G·H]
  bhh: FloatArray | null; // [G·H]
  whr: FloatArray | null; // [P, H], LSTM projection
}

/**
 * Values the forward pass saves for the backward pass, all indexed by time t (not by step):
 * `gates` [T, N, G·H] post-activation gates; `h` [T, N, P] state after time t (a frozen copy past a
 * sequence's end); `c` [T, N, H] LSTM cell state; `aux` [T, N, H]: GRU's W_hn h + b_hn (reset-after),
 * GRU's r ⊙ h (reset-before), or the LSTM's unprojected h (projSize > 0).
 */
export interface RecurrentSaved {
  gates: FloatArray;
  h: FloatArray;
  c: FloatArray;
  aux: FloatArray;
}

/** Sizes of the saved buffers for one layer direction. */
export function recurrentSavedSizes(s: Pick<RecurrentShape, 'kind' | 'T' | 'N' | 'H' | 'P'>): Record<keyof RecurrentSaved, number> {
  const tn = s.T * s.N;
  const lstm = s.kind === 'lstm';
  const gru = s.kind === 'gru' || s.kind === 'gru_reset_before';
  return {
    gates: tn * GATES[s.kind] * s.H,
    h: tn * s.P,
    c: lstm ? tn * s.H : 0,
    aux: gru || (lstm && s.P !== s.H) ? tn * s.H : 0,
  };
}

export interface RecurrentGrads {
  dx: FloatArray;          // [T, N, I] (written)
  dh0: FloatArray;         // [N, P] (written)
  dc0: FloatArray | null;  // [N, H] (written)
  dwih: FloatArray;        // the weight gradients are accumulated
  dwhh: FloatArray;
  dbih: FloatArray | null;
  dbhh: FloatArray | null;
  dwhr: FloatArray | null;
}

export interface RecurrentKernels {
  /**
   * Whole-sequence forward of one layer direction: y [T, N, P] (zeros past each sequence's length),
   * final states hn [N, P] and cn [N, H] (LSTM), and the saved buffers for backward (null when no backward
   * will run: the kernel keeps them as its own scratch).
   */
  recurrentForward(s: RecurrentShape, x: FloatArray, w: RecurrentWeights, h0: FloatArray, c0: FloatArray | null,
    y: FloatArray, hn: FloatArray, cn: FloatArray | null, saved: RecurrentSaved | null): void;
  /**
   * One timestep with nothing saved and the state advanced in place (streaming): x [N, I] → y [N, P], while the
   * state h [N, P] stored at element `hOff` of `h` (and c [N, H] at `cOff` of `c`, LSTM) is read and overwritten
   * (offsets, so a stack's [L, N, ·] state needs no views). The same values as recurrentForward with T = 1.
   */
  recurrentStep(s: RecurrentStepShape, x: FloatArray, w: RecurrentWeights, h: FloatArray, hOff: number,
    c: FloatArray | null, cOff: number, y: FloatArray): void;
  /** Backpropagation through time over the whole sequence (dy, dhn, dcn may be null for zeros). */
  recurrentBackward(s: RecurrentShape, x: FloatArray, w: RecurrentWeights, h0: FloatArray, c0: FloatArray | null,
    saved: RecurrentSaved, dy: FloatArray | null, dhn: FloatArray | null, dcn: FloatArray | null, g: RecurrentGrads): void;
}

// ------------------------------------------------------------------ causal attention

/**
 * Causal multi-head attention over a block of Tq queries whose keys and values cover Tk ≥ Tq positions:
 * the queries are the *last* Tq positions, so query i sees keys 0 … Tk − Tq + i. Tq = Tk is a whole
 * sequence; Tq < Tk is a continuation over a KV cache of Tk − Tq earlier positions (Tq = 1: one decode step).
 * Layout is batch-first with the H heads side by side (what a fused QKV projection produces):
 * q [B, Tq, H·D], k and v [B, Tk, H·D], y [B, Tq, H·D].
 */
export interface AttentionShape {
  B: number; H: number; Tq: number; Tk: number; D: number;
  /** Multiplies q·k before the softmax, usually 1/√D. */
  scale: number;
}

export interface AttentionKernels {
  /**
   * y_i = Σ_j softmax_j(scale · q_i · k_j) v_j over the visible keys, per head. Writes `lse` [B, H, Tq], each
   * row's log-sum-exp of scores, which is all backward needs to rebuild the probabilities.
   */
  attentionForward(s: AttentionShape, q: FloatArray, k: FloatArray, v: FloatArray, y: FloatArray, lse: FloatArray): void;
  /** Writes dq [B, Tq, H·D], dk and dv [B, Tk, H·D] given dy, recomputing the probabilities from `lse`. */
  attentionBackward(s: AttentionShape, q: FloatArray, k: FloatArray, v: FloatArray, lse: FloatArray, dy: FloatArray,
    dq: FloatArray, dk: FloatArray, dv: FloatArray): void;
}

// ------------------------------------------------------------------ state-space scans (Mamba)
// Glossary (shared with src/models/mamba): b batch, t time, c channels, k conv width, di inner width,
// n SSM state size, nh heads, hs head size, g groups of B/C, q chunk length. Uppercase A, B, C, D and
// Δ (`delta`) are the SSM's parameters, as in the papers. Layouts are batch-first, like the models.

/** A depthwise causal convolution over time: x [b, t, c], weight [c, k], window [b, c, k]. */
export interface ConvShape { b: number; t: number; c: number; k: number }

export interface ConvGrads {
  dx: FloatArray;        // [b, t, c]
  dw: FloatArray;        // [c, k]
  db: FloatArray | null; // [c]
  dwindow: FloatArray;   // [b, c, k]
}

/** Mamba-1's selective scan: each channel has its own Δ and its own row of A [di, n]; B and C are shared. */
export interface SelectiveScanShape { b: number; t: number; di: number; n: number }

export interface SelectiveScanInputs {
  x: FloatArray;        // [b, t, di]
  delta: FloatArray;    // Δ [b, t, di], already positive (after softplus)
  A: FloatArray;        // [di, n]
  B: FloatArray;        // [b, t, n]
  C: FloatArray;        // [b, t, n]
  D: FloatArray | null; // [di]
}

/** Steps between two states the selective scan saves for backward (SCAN_EVERY in wasm/assembly/scan.ts). */
export const SCAN_CHECKPOINT_EVERY = 16;

/**
 * Values of `hs`, what the selective scan saves for backward: [b, ⌈t / 16⌉, di, n], the state after steps
 * 15, 31, … and after the last step of each batch row. Backward recomputes the states inside each stretch
 * of 16 steps from the one before it (mamba_ssm's kernel recomputes its scan in backward too), so the saved
 * memory grows with t/16 instead of t.
 */
export function selectiveScanSavedSize(s: SelectiveScanShape): number {
  return s.b * Math.ceil(s.t / SCAN_CHECKPOINT_EVERY) * s.di * s.n;
}

export interface SelectiveScanGrads {
  dx: FloatArray; ddelta: FloatArray; dA: FloatArray; dB: FloatArray; dC: FloatArray;
  dD: FloatArray | null; dh0: FloatArray;
}

/**
 * Mamba-2's SSD: a scalar A and one Δ per head, x split into nh heads of hs channels, B and C in g groups
 * (head i reads group ⌊i·g/nh⌋), D per head ([nh]) or per channel ([nh·hs]) when `dPerChannel`.
 * q is the chunk length of the chunked form (any q ≥ 1; t need not be a multiple of it).
 */
export interface SSDShape { b: number; t: number; nh: number; hs: number; g: number; n: number; q: number; dPerChannel: boolean }

export interface SSDInputs {
  x: FloatArray;        // [b, t, nh, hs]
  delta: FloatArray;    // Δ [b, t, nh], already positive
  A: FloatArray;        // [nh], negative
  B: FloatArray;        // [b, t, g, n]
  C: FloatArray;        // [b, t, g, n]
  D: FloatArray | null; // [nh] or [nh·hs]
}

export type SSDGrads = SelectiveScanGrads;

/** Number of chunks of the SSD's chunked form: ⌈t / q⌉. */
export const ssdChunks = (s: Pick<SSDShape, 't' | 'q'>): number => Math.ceil(s.t / s.q);

/**
 * Fused whole-sequence kernels of the state-space families. Each takes the state before the sequence and
 * writes the state after it, so a sequence split into chunks gives the same result as one pass. Backward
 * methods **accumulate** into gradient buffers the caller has zeroed; a null upstream gradient means zero.
 */
export interface ScanKernels {
  /**
   * y[b,t,c] = bias[c] + Σ_j w[c,j]·e[b, t+1+j, c], where e is window[b, c, 0..k−1] (the k latest inputs
   * before this call, oldest first) followed by x[b, 0..t−1, c]. windowOut receives the k latest inputs
   * after the call (mamba_ssm's conv_state layout [b, c, k]).
   */
  causalConv1dForward(s: ConvShape, x: FloatArray, w: FloatArray, bias: FloatArray | null, window: FloatArray,
    y: FloatArray, windowOut: FloatArray): void;
  causalConv1dBackward(s: ConvShape, x: FloatArray, w: FloatArray, window: FloatArray, dy: FloatArray | null,
    dwindowOut: FloatArray | null, g: ConvGrads): void;

  /**
   * h_t = exp(Δ_t A) ⊙ h_{t−1} + (Δ_t x_t) ⊗ B_t;  y_t = h_t · C_t + D ⊙ x_t, from h0 [b, di, n] to
   * hT [b, di, n]. `hs` [b, t, di, n] receives every h_t for the backward pass (null when none will run).
   */
  selectiveScanForward(s: SelectiveScanShape, p: SelectiveScanInputs, h0: FloatArray, y: FloatArray,
    hT: FloatArray, hs: FloatArray | null): void;
  selectiveScanBackward(s: SelectiveScanShape, p: SelectiveScanInputs, h0: FloatArray, hs: FloatArray,
    dy: FloatArray | null, dhT: FloatArray | null, g: SelectiveScanGrads): void;

  /**
   * The same recurrence per head (h_t = exp(Δ_t A) h_{t−1} + Δ_t x_t ⊗ B_t, y_t = h_t C_t + D x_t) in the
   * chunked SSD form: chunks of q steps, each an intra-chunk causal decay mask plus the state carried in
   * from the previous chunk. From h0 [b, nh, hs, n] to hT; `chunkStates` [b, ⌈t/q⌉, nh, hs, n] receives
   * the state entering each chunk (null when no backward will run).
   */
  ssdForward(s: SSDShape, p: SSDInputs, h0: FloatArray, y: FloatArray, hT: FloatArray, chunkStates: FloatArray | null): void;
  ssdBackward(s: SSDShape, p: SSDInputs, chunkStates: FloatArray, dy: FloatArray | null, dhT: FloatArray | null,
    g: SSDGrads): void;
}

// ------------------------------------------------------------------ RWKV WKV recurrences

/**
 * One WKV call: B sequences of T steps, H heads of size N (channels C = H·N), batch-first. Per-step
 * inputs are [B, T, H, N]; states are [B, H, N, N] in the official layout of each version: RWKV-6
 * key-major S[key, value], RWKV-7 value-major S[value, key].
 */
export interface WkvShape {
  B: number; T: number; H: number; N: number;
}

/** Steps between two states saved by the forward pass; backward recomputes the states in between. */
export const WKV_CHECKPOINT_EVERY = 16;

/**
 * Saved for backward: `states` [B, H, ⌈T / WKV_CHECKPOINT_EVERY⌉, N, N] holds the state *before* steps
 * 0, 16, 32, … of each (sequence, head). Backward recomputes the states inside each stretch from these,
 * so memory grows with T/16 instead of T (the official RWKV-7 CUDA kernel saves its state the same way).
 */
export interface WkvSaved {
  states: FloatArray;
}

export function wkvSavedSizes(s: WkvShape): Record<keyof WkvSaved, number> {
  return { states: s.B * s.H * Math.ceil(s.T / WKV_CHECKPOINT_EVERY) * s.N * s.N };
}

/**
 * RWKV-6 inputs: r, k, v and the decay w ∈ (0, 1) (already exp(−exp(logit))), each [B, T, H, N];
 * the bonus u [H, N] (`time_faaaa`).
 */
export interface Wkv6Inputs {
  r: FloatArray; k: FloatArray; v: FloatArray; w: FloatArray; u: FloatArray;
}

/** dr, dk, dv, dw, ds0 are written; du is accumulated. */
export interface Wkv6Grads {
  dr: FloatArray; dk: FloatArray; dv: FloatArray; dw: FloatArray; du: FloatArray; ds0: FloatArray;
}

/**
 * RWKV-7 inputs, each [B, T, H, N]: r, the decay w ∈ (0, 1) (already exp(−e^{−0.5}·σ(logit))), k, v, and the
 * rank-one state correction a, b (the official call passes a = −k̂, b = k̂ ⊙ a_icl).
 */
export interface Wkv7Inputs {
  r: FloatArray; w: FloatArray; k: FloatArray; v: FloatArray; a: FloatArray; b: FloatArray;
}

/** Every gradient is written (none accumulates). */
export interface Wkv7Grads {
  dr: FloatArray; dw: FloatArray; dk: FloatArray; dv: FloatArray; da: FloatArray; db: FloatArray; ds0: FloatArray;
}

export interface WkvKernels {
  /**
   * RWKV-6 over whole sequences, per head with S[key, value] starting from s0:
   *   y_t = r_tᵀ (S + diag(u) k_t v_tᵀ),   S ← diag(w_t) S + k_t v_tᵀ.
   * Writes y [B, T, H, N], the final state sT [B, H, N, N] and the saved states (`saved` null when no
   * backward will run: nothing is saved, or only into the backend's own scratch).
   */
  wkv6Forward(s: WkvShape, x: Wkv6Inputs, s0: FloatArray, y: FloatArray, sT: FloatArray, saved: WkvSaved | null): void;
  /** Backpropagation through the whole sequence (dy and dsT may be null for zeros). */
  wkv6Backward(s: WkvShape, x: Wkv6Inputs, saved: WkvSaved, dy: FloatArray | null, dsT: FloatArray | null, g: Wkv6Grads): void;
  /**
   * RWKV-7 over whole sequences, per head with S[value, key] starting from s0:
   *   S ← S diag(w_t) + (S a_t) b_tᵀ + v_t k_tᵀ,   y_t = S r_t.
   */
  wkv7Forward(s: WkvShape, x: Wkv7Inputs, s0: FloatArray, y: FloatArray, sT: FloatArray, saved: WkvSaved | null): void;
  wkv7Backward(s: WkvShape, x: Wkv7Inputs, saved: WkvSaved, dy: FloatArray | null, dsT: FloatArray | null, g: Wkv7Grads): void;
}
