/**
 * The Mamba-2 mixer (SSD), Dao & Gu 2024, "Transformers are SSMs: Generalized Models and Efficient
 * Algorithms Through Structured State Space Duality", https://arxiv.org/abs/2405.21060 — §7 (the Mamba-2
 * block, Figure 6) and Listing 1 (the chunked SSD), as state-spaces/mamba `mamba_ssm/modules/mamba2.py`
 * and `ssd_minimal.py` compute them.
 *
 * Glossary (lowercase: dimensions; uppercase: the SSM's parameters)
 *   b   batch (streams)           t   time steps in this call
 *   d   model width               di  inner width = expand · d = nh · hs
 *   nh  heads                     hs  head size (headdim)
 *   g   groups of B and C         n   SSM state size (dState)
 *   k   conv width                q   chunk length of the SSD form (chunkSize)
 *   u   [b, t, d]     input;   z [b, t, di] gate;   xBC [b, t, di + 2·g·n] the conv's channels
 *   x   [b, t, nh, hs]         B, C [b, t, g, n] (head i reads group ⌊i·g/nh⌋)
 *   Δ   [b, t, nh]    one step size per head = softplus(dt + dt_bias)
 *   A   [nh]          = −exp(A_log): one scalar decay per head (Mamba-1 has a matrix [di, n])
 *   D   [nh]          skip (or [di] with DHasHdim)
 *   h   [b, nh, hs, n] the SSM state
 *
 * Differences from Mamba-1 (mixer.ts): B, C and Δ come straight out of in_proj (no x_proj/dt_proj) and
 * the conv runs over x, B and C together; A is a scalar per head, which makes the SSM a masked
 * attention-like product inside each chunk (the "dual" form) that runs as matrix products; the output is
 * gated and normalised by one RMSNorm of y ⊙ SiLU(z) (norm_before_gate=False).
 *
 * The sequence runs through the chunked SSD form (ops/scan.ts `ssd`); over a single token — `step` — the
 * same op is the plain recurrence h ← exp(ΔA) h + Δ x ⊗ B, y = C h + D x. Tests check the chunked form
 * against the token-by-token recurrence for chunk lengths that do and do not divide t.
 */
import { add, linear, mul, narrow, neg, exp, reshape, rmsNorm, silu, softplus } from '../../ops/index.js';
import { causalConv1d, ssd } from '../../ops/scan.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { MambaLayerState } from './state.js';

export interface Mamba2MixerParams {
  inProj: Tensor;            // in_proj.weight [2·di + 2·g·n + nh, d], rows [z, xBC, dt]
  inProjBias: Tensor | null;
  convWeight: Tensor;        // conv1d.weight [di + 2·g·n, 1, k]
  convBias: Tensor | null;
  dtBias: Tensor;            // dt_bias [nh]
  ALog: Tensor;              // A_log [nh]
  D: Tensor;                 // D [nh] (or [di])
  normWeight: Tensor;        // norm.weight [di]
  outProj: Tensor;           // out_proj.weight [d, di]
  outProjBias: Tensor | null;
}

export interface Mamba2Dims {
  nh: number; hs: number; g: number; n: number;
  /** Chunk length of the SSD form. */
  chunkSize: number;
  /** The gated RMSNorm's epsilon (mamba2.py fixes 1e-5). */
  eps: number;
}

/**
 * mamba_ssm's RMSNormGated with norm_before_gate=False (ops/triton/layernorm_gated.py):
 * RMSNorm(y ⊙ SiLU(z)) ⊙ w, normalised separately over each of g groups of di/g channels.
 */
export function rmsNormGated(y: Tensor, z: Tensor, weight: Tensor, g: number, eps: number): Tensor {
  const shape = y.shape, di = shape[shape.length - 1]!;
  const grouped = reshape(mul(y, silu(z)), [...shape.slice(0, -1), g, di / g]);
  return mul(reshape(rmsNorm(grouped, [di / g], null, eps), shape), weight);
}

export function mamba2Mixer(u: Tensor, p: Mamba2MixerParams, dims: Mamba2Dims, state: MambaLayerState): { out: Tensor; state: MambaLayerState } {
  const { nh, hs, g, n } = dims;
  const [b, t] = [u.shape[0]!, u.shape[1]!];
  const di = nh * hs, convDim = di + 2 * g * n;

  const zxbcdt = linear(u, p.inProj, p.inProjBias);               // [b, t, 2·di + 2·g·n + nh]
  const z = narrow(zxbcdt, -1, 0, di);                            // split order [z, xBC, dt]
  const conv = causalConv1d(narrow(zxbcdt, -1, di, convDim), p.convWeight, p.convBias, state.conv);
  const xBC = silu(conv.y);                                       // xBC = SiLU(conv1d(xBC))
  const dt = narrow(zxbcdt, -1, di + convDim, nh);

  const x = reshape(narrow(xBC, -1, 0, di), [b, t, nh, hs]);      // [x, B, C] = split(xBC)
  const B = reshape(narrow(xBC, -1, di, g * n), [b, t, g, n]);
  const C = reshape(narrow(xBC, -1, di + g * n, g * n), [b, t, g, n]);
  const delta = softplus(add(dt, p.dtBias));                      // Δ = softplus(dt + dt_bias), per head
  const A = neg(exp(p.ALog));                                     // A = −exp(A_log), a scalar per head

  // h_t = exp(Δ_t A) h_{t−1} + Δ_t x_t ⊗ B_t;  y_t = h_t C_t + D x_t   (chunked SSD, Listing 1)
  const ssm = ssd(x, delta, A, B, C, p.D, state.ssm, { chunkSize: dims.chunkSize });
  const y = rmsNormGated(reshape(ssm.y, [b, t, di]), z, p.normWeight, g, dims.eps); // RMSNorm(y ⊙ SiLU(z)) · w
  return { out: linear(y, p.outProj, p.outProjBias), state: { conv: conv.window, ssm: ssm.h } };
}
