/**
 * Fused streaming steps: one call advances one block of a model by one token for b independent streams,
 * reading each weight once (the weights are the cost of a streaming step: a batch-1 step is a handful of
 * matrix-vector products). The models' `step` uses them when nothing needs recording (each family's model.ts);
 * the equations are the families' mixers (models/mamba/mixer.ts, models/rwkv/mixer.ts), and ref/step.ts
 * is the readable version every backend is held to (test/kernels/step-conformance.ts).
 *
 * Conventions: `x` is the residual stream [b, d], updated in place (x ← x + block(x)); states are updated
 * in place. Weights keep the checkpoints' layouts (Linear weights [out, in]; RWKV's LoRA matrices [in, out]).
 * Token-independent values derived from the weights (Mamba's A = −exp(A_log)) live in a `DerivedCache` the
 * caller keeps with the model: the kernel refreshes an entry only where its source changed since it was
 * last seen, so they are computed once per parameter update and never per token.
 */
import type { FloatArray } from './arrays.js';

/**
 * A cache of `value[i] = f(source[i])`. Entries whose `seen[i]` is not bit-for-bit `source[i]` are
 * recomputed and `seen[i]` updated; a fresh cache has `seen` filled with NaN, so everything is computed
 * on first use. Owned by the caller (one per layer), float32 like the parameters.
 */
export interface DerivedCache {
  seen: Float32Array;
  value: Float32Array;
}

export function derivedCache(n: number): DerivedCache {
  return { seen: new Float32Array(n).fill(NaN), value: new Float32Array(n) };
}

// ---------------------------------------------------------------- Mamba-1

/** b streams, d model width, di inner width, n state size, r Δ rank, k conv width; eps of the block's RMSNorm. */
export interface MambaStepShape { b: number; d: number; di: number; n: number; r: number; k: number; eps: number }

/** One Mamba-1 block (mamba_ssm's names in comments): the block's RMSNorm and its mixer. */
export interface MambaStepWeights {
  norm: FloatArray;               // norm.weight [d]
  inProj: FloatArray;             // mixer.in_proj.weight [2·di, d]
  inProjBias: FloatArray | null;
  convWeight: FloatArray;         // mixer.conv1d.weight [di, 1, k]
  convBias: FloatArray | null;
  xProj: FloatArray;              // mixer.x_proj.weight [r + 2n, di]
  dtProj: FloatArray;             // mixer.dt_proj.weight [di, r]
  dtProjBias: FloatArray;         // [di]
  ALog: FloatArray;               // mixer.A_log [di, n]
  D: FloatArray;                  // [di]
  outProj: FloatArray;            // mixer.out_proj.weight [d, di]
  outProjBias: FloatArray | null;
}

/** The layer's state (state.ts), updated in place: conv [b, di, k] (oldest first), ssm h [b, di, n]. */
export interface MambaStepState { conv: FloatArray; ssm: FloatArray }

// ---------------------------------------------------------------- Mamba-2

/**
 * b streams, d model width, nh heads of hs channels (di = nh·hs), g groups of B and C, n state size, k conv
 * width; eps of the block's RMSNorm, normEps of the gated RMSNorm; D per channel ([di]) or per head ([nh]).
 */
export interface Mamba2StepShape {
  b: number; d: number; nh: number; hs: number; g: number; n: number; k: number; eps: number; normEps: number; dPerChannel: boolean;
}

/** One Mamba-2 block under mamba_ssm's names. */
export interface Mamba2StepWeights {
  norm: FloatArray;               // norm.weight [d]
  inProj: FloatArray;             // mixer.in_proj.weight [2·di + 2·g·n + nh, d], rows [z, xBC, dt]
  inProjBias: FloatArray | null;
  convWeight: FloatArray;         // mixer.conv1d.weight [di + 2·g·n, 1, k]
  convBias: FloatArray | null;
  dtBias: FloatArray;             // [nh]
  ALog: FloatArray;               // [nh]
  D: FloatArray;                  // [nh] or [di]
  gatedNorm: FloatArray;          // mixer.norm.weight [di]
  outProj: FloatArray;            // [d, di]
  outProjBias: FloatArray | null;
}

// ---------------------------------------------------------------- RWKV-6

/** b streams, d width, nh heads of hs, f channel-mix width, mix LoRA width (each of five), decay LoRA width. */
export interface Rwkv6StepShape { b: number; d: number; nh: number; hs: number; f: number; dm: number; dw: number; first: boolean }

/** One RWKV-6 block under the official names (`blocks.{i}.` + key). */
export interface Rwkv6StepWeights {
  ln0: LnPair | null; ln1: LnPair; ln2: LnPair;
  time_maa_x: FloatArray; time_maa_w: FloatArray; time_maa_k: FloatArray; time_maa_v: FloatArray; time_maa_r: FloatArray; time_maa_g: FloatArray;
  time_maa_w1: FloatArray;   // [d, 5·dm]
  time_maa_w2: FloatArray;   // [5, dm, d]
  time_decay: FloatArray; time_decay_w1: FloatArray; time_decay_w2: FloatArray;   // [d], [d, dw], [dw, d]
  time_faaaa: FloatArray;    // u [nh, hs]
  receptance: FloatArray; key: FloatArray; value: FloatArray; gate: FloatArray; output: FloatArray;   // [d, d]
  ln_x: LnPair;
  ffnMaaK: FloatArray; ffnMaaR: FloatArray; ffnKey: FloatArray; ffnReceptance: FloatArray; ffnValue: FloatArray;   // [d], [d], [f, d], [d, d], [d, f]
}

// ---------------------------------------------------------------- RWKV-7

/**
 * b streams, d width, nh heads of hs (d = nh·hs), f channel-mix width, LoRA widths of the decay, a, the value
 * residual and the gate. `first`: block 0, which applies ln0 first and produces v_first instead of mixing it in.
 */
export interface Rwkv7StepShape {
  b: number; d: number; nh: number; hs: number; f: number;
  dw: number; da: number; dv: number; dg: number;
  first: boolean;
}

export interface LnPair { weight: FloatArray; bias: FloatArray }

/** One RWKV-7 block under the official names (`blocks.{i}.` + key). */
export interface Rwkv7StepWeights {
  ln0: LnPair | null; ln1: LnPair; ln2: LnPair;
  x_r: FloatArray; x_w: FloatArray; x_k: FloatArray; x_v: FloatArray; x_a: FloatArray; x_g: FloatArray;   // [d]
  w0: FloatArray; w1: FloatArray; w2: FloatArray;   // [d], [d, dw], [dw, d]
  a0: FloatArray; a1: FloatArray; a2: FloatArray;
  v0: FloatArray | null; v1: FloatArray | null; v2: FloatArray | null;   // absent in block 0
  g1: FloatArray; g2: FloatArray;
  k_k: FloatArray; k_a: FloatArray; r_k: FloatArray;   // [d], [d], [nh·hs]
  receptance: FloatArray; key: FloatArray; value: FloatArray; output: FloatArray;   // [d, d]
  ln_x: LnPair;
  ffnXk: FloatArray; ffnKey: FloatArray; ffnValue: FloatArray;   // ffn.x_k [d], ffn.key [f, d], ffn.value [d, f]
}

/** state.ts's per-layer state, updated in place: attXPrev [b, d], wkv [b, nh, hs, hs] (each version's layout: RWKV-6 S[key, value], RWKV-7 S[value, key]), ffnXPrev [b, d]. */
export interface RwkvStepState { attXPrev: FloatArray; wkv: FloatArray; ffnXPrev: FloatArray }

// ---------------------------------------------------------------- GPT

/**
 * b streams, C width, H heads (C = H·D), p positions already in the KV cache, eps of both LayerNorms. The
 * cache rows 0 … p − 1 hold the past; the step writes row p (this token's k and v) and attends over 0 … p.
 * `cap`: rows per stream in the cache arrays (stream i's rows start at row i·cap; default p + 1, packed), so
 * a cache with room to grow is used where it lies.
 */
export interface GptStepShape { b: number; C: number; H: number; p: number; eps: number; cap?: number }

/** One GPT-2 block under nanoGPT's names (`transformer.h.{i}.` + key); biases and LayerNorm biases may be absent. */
export interface GptStepWeights {
  ln1: { weight: FloatArray; bias: FloatArray | null };
  cAttn: FloatArray; cAttnBias: FloatArray | null;       // attn.c_attn [3C, C]
  attnProj: FloatArray; attnProjBias: FloatArray | null; // attn.c_proj [C, C]
  ln2: { weight: FloatArray; bias: FloatArray | null };
  cFc: FloatArray; cFcBias: FloatArray | null;           // mlp.c_fc [4C, C]
  mlpProj: FloatArray; mlpProjBias: FloatArray | null;   // mlp.c_proj [C, 4C]
}

export interface StepKernels {
  /**
   * One Mamba-1 block for one token: x ← x + Mixer(RMSNorm(x)) (mixer.ts: in_proj, the conv window shifted by
   * one, SiLU, x_proj, Δ = softplus(dt_proj δ + bias), h ← exp(ΔA) h + Δ x B, y = C·h + D x, y ⊙ SiLU(z),
   * out_proj), with A = −exp(A_log) read from `A` (refreshed from w.ALog where it changed).
   */
  mambaStep(s: MambaStepShape, w: MambaStepWeights, A: DerivedCache, x: FloatArray, state: MambaStepState): void;
  /**
   * One RWKV-7 block for one token: (block 0: x ← ln0(x)); x ← x + TimeMix7(ln1(x)); x ← x + ChannelMix7(ln2(x)).
   * `vFirst` [b, d] is written by block 0 and read by the others.
   */
  rwkv7Step(s: Rwkv7StepShape, w: Rwkv7StepWeights, x: FloatArray, vFirst: FloatArray, state: RwkvStepState): void;
  /**
   * One Mamba-2 block for one token: x ← x + Mixer2(RMSNorm(x)) (mixer2.ts: in_proj, conv over xBC, SiLU,
   * Δ = softplus(dt + dt_bias), h ← exp(ΔA) h + Δ x ⊗ B per head, y = C·h + D x, RMSNorm(y ⊙ SiLU(z)) per group,
   * out_proj), with A = −exp(A_log) read from `A` (refreshed where A_log changed). state.conv [b, di + 2gn, k],
   * state.ssm [b, nh, hs, n].
   */
  mamba2Step(s: Mamba2StepShape, w: Mamba2StepWeights, A: DerivedCache, x: FloatArray, state: MambaStepState): void;
  /** One RWKV-6 block for one token: (block 0: x ← ln0(x)); x ← x + TimeMix6(ln1(x)); x ← x + ChannelMix6(ln2(x)). */
  rwkv6Step(s: Rwkv6StepShape, w: Rwkv6StepWeights, x: FloatArray, state: RwkvStepState): void;
  /**
   * One GPT-2 block for one token (transformer/block.ts): [q | k | v] = c_attn(ln_1(x)), k and v written to row p
   * of the caches k, v [b, cap, C] (cap ≥ p + 1), x ← x + c_proj(attention of q over rows 0 … p), x ← x + mlp(ln_2(x)).
   */
  gptStep(s: GptStepShape, w: GptStepWeights, x: FloatArray, k: FloatArray, v: FloatArray): void;
}
