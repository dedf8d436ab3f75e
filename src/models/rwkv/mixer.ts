/**
 * RWKV time-mixing and channel-mixing, RWKV-6 "Finch" (x060) and RWKV-7 "Goose" (x070), as pure functions
 * whose bodies follow the official GPT-mode code line by line:
 *   x060: BlinkDL/RWKV-LM RWKV-v5/rwkv_v6_demo.py, `RWKV_Tmix_x060.jit_func/jit_func_2`, `RWKV_CMix_x060`
 *   x070: BlinkDL/RWKV-LM RWKV-v7/rwkv_v7_demo.py, `RWKV_Tmix_x070.forward`, `RWKV_CMix_x070`
 * Papers: Peng et al. 2024, "Eagle and Finch" (arXiv:2404.05892) §4; Peng et al. 2025, "RWKV-7 Goose"
 * (arXiv:2503.14456) §4. Weight names are the checkpoint's (weights.ts); the module wrapper is model.ts.
 *
 * Glossary (shapes for one call over a chunk of t tokens; a streaming step is t = 1):
 *   b batch · t time · d model width (= attention width) · nh heads · hs head size (d = nh·hs) · f ffn width
 *   x        [b, t, d]    input of the mixer (already ln1/ln2-normalised)
 *   xPrev    [b, d]       the previous token's x (the carried state; zeros at the start)
 *   xx       [b, t, d]    token shift: x_{t−1} − x_t  (the official `self.time_shift(x) - x`)
 *   r, k, v  [b, t, d]    receptance, key, value;  g the output gate
 *   w        [b, t, d]    per-channel decay factor in (0, 1) (the kernels' input; logits are turned into it here)
 *   u        [nh, hs]     RWKV-6's bonus for the current token (`time_faaaa`)
 *   a        [b, t, d]    RWKV-7's in-context learning rate;  k̂ (`kk`) the L2-normalised removal key
 *   S        [b, nh, hs, hs] the WKV state (src/ops/wkv.ts states the recurrences)
 */
import { add, concat, div, exp, linear, matmul, maximum, mul, narrow, neg, reshape, sigmoid, silu, sqrt, square, sub, sum, tanh } from '../../ops/index.js';
import { groupNorm } from '../../ops/group-norm.js';
import { reluSquare } from '../../ops/relu-square.js';
import { tokenMix } from '../../ops/token-mix.js';
import { wkv6, wkv7 } from '../../ops/wkv.js';
import type { Tensor } from '../../tensor/tensor.js';

/** `ln_x`'s epsilon: 1e-5 · head_size_divisor² with divisor 8 (x060), written 64e-5 in x070. */
export const LN_X_EPS = 64e-5;

/** −e^{−0.5}: RWKV-7's decay is exp(−e^{−0.5}·σ(w)). */
const NEG_EXP_MINUS_HALF = -Math.exp(-0.5);

/** Token shift over a chunk: xx = x_{t−1} − x_t with `xPrev` before the first token; `last` is the new xPrev. */
export function tokenShift(x: Tensor, xPrev: Tensor): { xx: Tensor; last: Tensor } {
  const [b, t, d] = x.shape as [number, number, number];
  const shifted = concat([reshape(xPrev, [b, 1, d]), narrow(x, 1, 0, t - 1)], 1);
  return { xx: sub(shifted, x), last: reshape(narrow(x, 1, t - 1, 1), [b, d]) };
}

/** [b, t, d] ↔ [b, t, nh, hs] (a view: tensors are contiguous). */
const heads = (x: Tensor, nh: number): Tensor => reshape(x, [x.shape[0]!, x.shape[1]!, nh, -1]);
const flat = (x: Tensor): Tensor => reshape(x, [x.shape[0]!, x.shape[1]!, -1]);

/** `ln_x`: GroupNorm with one group per head over the [b·t, d] rows, eps 64e-5. */
function lnX(y: Tensor, nh: number, weight: Tensor, bias: Tensor): Tensor {
  const [b, t] = y.shape as [number, number];
  return reshape(groupNorm(reshape(y, [b * t, -1]), nh, weight, bias, LN_X_EPS), [b, t, -1]);
}

export interface LnWeights { weight: Tensor; bias: Tensor }

export interface MixerState {
  xPrev: Tensor;
  wkv: Tensor;
}

// ---------------------------------------------------------------- RWKV-6

export interface TimeMix6Weights {
  time_maa_x: Tensor; time_maa_w: Tensor; time_maa_k: Tensor; time_maa_v: Tensor; time_maa_r: Tensor; time_maa_g: Tensor;
  time_maa_w1: Tensor; time_maa_w2: Tensor;
  time_decay: Tensor; time_decay_w1: Tensor; time_decay_w2: Tensor;
  time_faaaa: Tensor;
  receptance: Tensor; key: Tensor; value: Tensor; gate: Tensor; output: Tensor;
  ln_x: LnWeights;
}

/**
 * RWKV-6 time-mix (Finch paper eq. 11–19): data-dependent token shift through a shared low-rank MLP
 * ("ddlerp"), data-dependent decay, the WKV recurrence with bonus u, per-head GroupNorm, SiLU gate.
 */
export function timeMix6(x: Tensor, s: MixerState, W: TimeMix6Weights, nh: number): { out: Tensor; state: MixerState } {
  const [b, t, d] = x.shape as [number, number, number];
  const D = W.time_maa_w2.shape[1]!;
  const { xx, last } = tokenShift(x, s.xPrev);

  const xxx = tokenMix(x, xx, W.time_maa_x);
  const m = reshape(tanh(matmul(xxx, W.time_maa_w1)), [b * t, 5, D]); // five low-rank offsets share one tanh layer
  const [mw, mk, mv, mr, mg] = [0, 1, 2, 3, 4].map((i) =>
    reshape(matmul(reshape(narrow(m, 1, i, 1), [b * t, D]), reshape(narrow(W.time_maa_w2, 0, i, 1), [D, d])), [b, t, d])) as [Tensor, Tensor, Tensor, Tensor, Tensor];

  const xw = tokenMix(x, xx, W.time_maa_w, mw);
  const xk = tokenMix(x, xx, W.time_maa_k, mk);
  const xv = tokenMix(x, xx, W.time_maa_v, mv);
  const xr = tokenMix(x, xx, W.time_maa_r, mr);
  const xg = tokenMix(x, xx, W.time_maa_g, mg);

  const r = linear(xr, W.receptance);
  const k = linear(xk, W.key);
  const v = linear(xv, W.value);
  const g = silu(linear(xg, W.gate));

  const ww = matmul(tanh(matmul(xw, W.time_decay_w1)), W.time_decay_w2);
  const w = add(W.time_decay, ww); // decay logit; the CUDA kernel applies exp(−exp(w))
  const decay = exp(neg(exp(w)));

  const wkv = wkv6(heads(r, nh), heads(k, nh), heads(v, nh), heads(decay, nh), W.time_faaaa, s.wkv);
  const out = linear(mul(lnX(flat(wkv.y), nh, W.ln_x.weight, W.ln_x.bias), g), W.output);
  return { out, state: { xPrev: last, wkv: wkv.state } };
}

export interface ChannelMix6Weights {
  time_maa_k: Tensor; time_maa_r: Tensor;
  key: Tensor; receptance: Tensor; value: Tensor;
}

/** RWKV-6 channel-mix: σ(W_r x_r) ⊙ W_v relu(W_k x_k)². */
export function channelMix6(x: Tensor, xPrev: Tensor, W: ChannelMix6Weights): { out: Tensor; xPrev: Tensor } {
  const { xx, last } = tokenShift(x, xPrev);
  const xk = tokenMix(x, xx, W.time_maa_k);
  const xr = tokenMix(x, xx, W.time_maa_r);

  const k = reluSquare(linear(xk, W.key));
  const kv = linear(k, W.value);
  return { out: mul(sigmoid(linear(xr, W.receptance)), kv), xPrev: last };
}

// ---------------------------------------------------------------- RWKV-7

export interface TimeMix7Weights {
  x_r: Tensor; x_w: Tensor; x_k: Tensor; x_v: Tensor; x_a: Tensor; x_g: Tensor;
  w0: Tensor; w1: Tensor; w2: Tensor;
  a0: Tensor; a1: Tensor; a2: Tensor;
  /** The value-residual gate; absent in block 0, which produces v_first instead. */
  v0: Tensor | null; v1: Tensor | null; v2: Tensor | null;
  g1: Tensor; g2: Tensor;
  k_k: Tensor; k_a: Tensor; r_k: Tensor;
  receptance: Tensor; key: Tensor; value: Tensor; output: Tensor;
  ln_x: LnWeights;
}

/** v / max(‖v‖₂, 1e-12) over each head's hs values (`F.normalize(kk.view(B,T,H,-1), dim=-1, p=2.0)`). */
function normalizeHeads(x: Tensor, nh: number): Tensor {
  const xh = heads(x, nh);
  return flat(div(xh, maximum(sqrt(sum(square(xh), -1, true)), 1e-12)));
}

/**
 * RWKV-7 time-mix (Goose paper §4): static token shift, the decay soft-clamped below exp(−e^{−0.5}),
 * value residual from block 0 (v_first), in-context learning rate a, the generalised delta rule with
 * removal key k̂, per-head GroupNorm plus the bonus (r·(k ⊙ r_k))·v, and a low-rank sigmoid gate.
 * `vFirst` is null in block 0, which returns its v as vFirst for the later blocks.
 */
export function timeMix7(x: Tensor, s: MixerState, vFirst: Tensor | null, W: TimeMix7Weights, nh: number): { out: Tensor; state: MixerState; vFirst: Tensor } {
  const { xx, last } = tokenShift(x, s.xPrev);
  const xr = tokenMix(x, xx, W.x_r);
  const xw = tokenMix(x, xx, W.x_w);
  const xk = tokenMix(x, xx, W.x_k);
  const xv = tokenMix(x, xx, W.x_v);
  const xa = tokenMix(x, xx, W.x_a);
  const xg = tokenMix(x, xx, W.x_g);

  const r = linear(xr, W.receptance);
  // Official: w = −softplus(−(w0 + tanh(xw w1) w2)) − 0.5, then the kernel's exp(−exp(w)). Since
  // −softplus(−z) = log σ(z), that is exp(−e^{−0.5}·σ(z)) — one sigmoid instead of softplus, exp, exp.
  const decay = exp(mul(sigmoid(add(W.w0, matmul(tanh(matmul(xw, W.w1)), W.w2))), NEG_EXP_MINUS_HALF));
  let k = linear(xk, W.key);
  let v = linear(xv, W.value);
  if (vFirst === null) {
    vFirst = v; // block 0 stores its v
  } else {
    v = add(v, mul(sub(vFirst, v), sigmoid(add(W.v0!, matmul(matmul(xv, W.v1!), W.v2!))))); // value residual
  }
  const a = sigmoid(add(W.a0, matmul(matmul(xa, W.a1), W.a2))); // in-context learning rate
  const g = matmul(sigmoid(matmul(xg, W.g1)), W.g2);

  const kk = normalizeHeads(mul(k, W.k_k), nh);
  k = mul(k, add(mul(sub(a, 1), W.k_a), 1)); // k ⊙ (1 + (a − 1) ⊙ k_a)

  const wkv = wkv7(heads(r, nh), heads(decay, nh), heads(k, nh), heads(v, nh), heads(neg(kk), nh), heads(mul(kk, a), nh), s.wkv);
  const bonus = mul(sum(mul(heads(mul(r, k), nh), W.r_k), -1, true), heads(v, nh)); // (Σ_head r ⊙ k ⊙ r_k) v
  const y = add(lnX(flat(wkv.y), nh, W.ln_x.weight, W.ln_x.bias), flat(bonus));
  return { out: linear(mul(y, g), W.output), state: { xPrev: last, wkv: wkv.state }, vFirst };
}

export interface ChannelMix7Weights {
  x_k: Tensor;
  key: Tensor; value: Tensor;
}

/** RWKV-7 channel-mix: W_v relu(W_k x_k)² (no receptance gate). */
export function channelMix7(x: Tensor, xPrev: Tensor, W: ChannelMix7Weights): { out: Tensor; xPrev: Tensor } {
  const { xx, last } = tokenShift(x, xPrev);
  const k = reluSquare(linear(tokenMix(x, xx, W.x_k), W.key));
  return { out: linear(k, W.value), xPrev: last };
}
