/**
 * The Mamba-1 mixer (selective SSM block), Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling with
 * Selective State Spaces", https://arxiv.org/abs/2312.00752 — §3.2 Algorithm 2 and §3.4 Figure 3, as
 * state-spaces/mamba `mamba_ssm/modules/mamba_simple.py` computes it.
 *
 * Glossary (lowercase: dimensions; uppercase: the SSM's parameters)
 *   b   batch (streams)                  t   time steps in this call
 *   d   model width (dModel)             di  inner width = expand · d
 *   n   SSM state size (dState)          r   rank of Δ's projection (dtRank)
 *   k   conv width (dConv)
 *   u   [b, t, d]    the mixer's input (after the block's RMSNorm)
 *   x   [b, t, di]   the SSM branch;  z [b, t, di] the gate branch
 *   Δ   [b, t, di]   step size, softplus(dt_proj(δ)) with δ [b, t, r]
 *   A   [di, n]      = −exp(A_log), diagonal and negative (continuous-time decay)
 *   B   [b, t, n]    input matrix, C [b, t, n] output matrix (both selective: functions of x)
 *   D   [di]         skip connection
 *   h   [b, di, n]   the SSM state
 *
 * One function, `mambaMixer`, over a whole sequence, starting from `state` and returning the state after
 * the last token: run over one token it is mamba_ssm's `step`, over many its `forward` — the same code, so
 * step equals forward by construction, and chunked prefill continues exactly.
 */
import { linear, mul, narrow, neg, exp, silu, softplus } from '../../ops/index.js';
import { causalConv1d, selectiveScan } from '../../ops/scan.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { MambaLayerState } from './state.js';

/** One layer's parameters (mamba_ssm's names in comments). Biases of in/out projections are off by default. */
export interface MambaMixerParams {
  inProj: Tensor;            // in_proj.weight [2·di, d]
  inProjBias: Tensor | null; // in_proj.bias [2·di]
  convWeight: Tensor;        // conv1d.weight [di, 1, k]
  convBias: Tensor | null;   // conv1d.bias [di]
  xProj: Tensor;             // x_proj.weight [r + 2n, di]
  dtProjWeight: Tensor;      // dt_proj.weight [di, r]
  dtProjBias: Tensor;        // dt_proj.bias [di]
  ALog: Tensor;              // A_log [di, n]
  D: Tensor;                 // D [di]
  outProj: Tensor;           // out_proj.weight [d, di]
  outProjBias: Tensor | null;
}

export function mambaMixer(u: Tensor, p: MambaMixerParams, state: MambaLayerState): { out: Tensor; state: MambaLayerState } {
  const di = p.D.shape[0]!, n = p.ALog.shape[1]!, r = p.dtProjWeight.shape[1]!;

  const xz = linear(u, p.inProj, p.inProjBias);                 // [b, t, 2·di]
  const z = narrow(xz, -1, di, di);                             // [x, z] = split(in_proj u): x first
  const conv = causalConv1d(narrow(xz, -1, 0, di), p.convWeight, p.convBias, state.conv);
  const x = silu(conv.y);                                       // x = SiLU(conv1d(x)), causal, depthwise

  const xdbl = linear(x, p.xProj);                              // [b, t, r + 2n]
  const delta = narrow(xdbl, -1, 0, r);                         // [δ, B, C] = split(x_proj x)
  const B = narrow(xdbl, -1, r, n);
  const C = narrow(xdbl, -1, r + n, n);
  const dt = softplus(linear(delta, p.dtProjWeight, p.dtProjBias)); // Δ = softplus(dt_proj δ + bias)
  const A = neg(exp(p.ALog));                                   // A = −exp(A_log)

  // h_t = exp(Δ_t A) ⊙ h_{t−1} + (Δ_t x_t) ⊗ B_t;  y_t = h_t C_t + D ⊙ x_t   (Algorithm 2, discretised)
  const ssm = selectiveScan(x, dt, A, B, C, p.D, state.ssm);
  const y = mul(ssm.y, silu(z));                                // y ⊙ SiLU(z)
  return { out: linear(y, p.outProj, p.outProjBias), state: { conv: conv.window, ssm: ssm.h } };
}
