/**
 * Reference causal multi-head attention (the specification for faster backends). Per batch b, head h and
 * query i, with scores over the visible keys j ≤ Tk − Tq + i:
 *
 *   s_j = scale · q_i · k_j          ℓ = log Σ_j e^{s_j}          p_j = e^{s_j − ℓ}          y_i = Σ_j p_j v_j
 *
 * Forward saves only ℓ (the row's log-sum-exp, [B, H, Tq]), not the [Tq, Tk] probability matrix: backward
 * recomputes p_j = e^{s_j − ℓ} (FlashAttention's trade: O(T) saved memory for one more q·k pass). Backward
 * of the softmax-weighted sum, with dp_j = dy_i · v_j and Δ = Σ_j p_j dp_j:
 *
 *   dv_j += p_j dy_i          ds_j = p_j (dp_j − Δ)          dq_i = scale Σ_j ds_j k_j          dk_j += scale ds_j q_i
 *
 * Layout: q [B, Tq, H·D], k and v [B, Tk, H·D], y [B, Tq, H·D] (heads side by side, as a fused QKV
 * projection produces them); head h of position t lives at ((b·T + t)·H + h)·D.
 */
import type { AttentionShape, FloatArray } from '../types.js';

export function attentionForward(s: AttentionShape, q: FloatArray, k: FloatArray, v: FloatArray, y: FloatArray, lse: FloatArray): void {
  const { B, H, Tq, Tk, D, scale } = s;
  const C = H * D, past = Tk - Tq;
  const score = new Float64Array(Tk);
  const acc = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < Tq; i++) {
        const qi = (b * Tq + i) * C + h * D, last = past + i;
        let max = -Infinity;
        for (let j = 0; j <= last; j++) {
          const kj = (b * Tk + j) * C + h * D;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[qi + d]! * k[kj + d]!;
          score[j] = scale * dot;
          if (score[j]! > max) max = score[j]!;
        }
        let sum = 0;
        for (let j = 0; j <= last; j++) sum += Math.exp(score[j]! - max);
        const l = max + Math.log(sum);
        lse[(b * H + h) * Tq + i] = l;
        acc.fill(0);
        for (let j = 0; j <= last; j++) {
          const p = Math.exp(score[j]! - l), vj = (b * Tk + j) * C + h * D;
          for (let d = 0; d < D; d++) acc[d]! += p * v[vj + d]!;
        }
        for (let d = 0; d < D; d++) y[qi + d] = acc[d]!;
      }
    }
  }
}

export function attentionBackward(
  s: AttentionShape, q: FloatArray, k: FloatArray, v: FloatArray, lse: FloatArray, dy: FloatArray,
  dq: FloatArray, dk: FloatArray, dv: FloatArray,
): void {
  const { B, H, Tq, Tk, D, scale } = s;
  const C = H * D, past = Tk - Tq;
  dk.fill(0, 0, B * Tk * C);
  dv.fill(0, 0, B * Tk * C);
  const p = new Float64Array(Tk), dp = new Float64Array(Tk), dqi = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < Tq; i++) {
        const qi = (b * Tq + i) * C + h * D, last = past + i, l = lse[(b * H + h) * Tq + i]!;
        let delta = 0;
        for (let j = 0; j <= last; j++) {
          const kj = (b * Tk + j) * C + h * D;
          let dot = 0, dpj = 0;
          for (let d = 0; d < D; d++) {
            dot += q[qi + d]! * k[kj + d]!;
            dpj += dy[qi + d]! * v[kj + d]!;
          }
          p[j] = Math.exp(scale * dot - l);
          dp[j] = dpj;
          delta += p[j]! * dpj;
        }
        dqi.fill(0);
        for (let j = 0; j <= last; j++) {
          const kj = (b * Tk + j) * C + h * D;
          const ds = scale * p[j]! * (dp[j]! - delta);
          for (let d = 0; d < D; d++) {
            dv[kj + d]! += p[j]! * dy[qi + d]!;
            dqi[d]! += ds * k[kj + d]!;
            dk[kj + d]! += ds * q[qi + d]!;
          }
        }
        for (let d = 0; d < D; d++) dq[qi + d] = dqi[d]!;
      }
    }
  }
}
