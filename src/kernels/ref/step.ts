/**
 * Reference fused streaming steps (../step.ts): each block's one-token update written as the mixer's
 * equations in order, on plain arrays, reusing the reference kernels of the sequence path (GEMM, causal conv,
 * selective scan, WKV) with t = 1. This is the specification the fast steps are held to; it is as slow as it
 * is plain. Scalars are computed in doubles and rounded on store, as everywhere in ref.
 */
import type {
  DerivedCache, GptStepShape, GptStepWeights, Mamba2StepShape, Mamba2StepWeights, MambaStepShape, MambaStepState, MambaStepWeights, Rwkv6StepShape,
  Rwkv6StepWeights, Rwkv7StepShape, Rwkv7StepWeights, RwkvStepState, StepKernels,
} from '../step.js';
import type { FloatArray } from '../types.js';
import { attentionForward } from './attention.js';
import { gelu } from './erf.js';
import { mm } from './gemm.js';
import { causalConv1dForward, selectiveScanForward, ssdForward } from './scan.js';
import { wkv6Forward, wkv7Forward } from './wkv.js';

const f32 = (n: number): Float32Array => new Float32Array(n);
const sigmoid = (v: number): number => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));
const silu = (v: number): number => v * sigmoid(v);
const softplus = (v: number): number => (v > 20 ? v : Math.log1p(Math.exp(v)));

/** y[b, out] = x[b, in] · Wᵀ (+ bias) for a Linear weight W [out, in]. */
function linear(b: number, inF: number, outF: number, x: FloatArray, W: FloatArray, bias: FloatArray | null, y: FloatArray): void {
  mm(b, outF, inF, x, 0, inF, false, W, 0, inF, true, y, 0, outF, false);
  if (bias) for (let i = 0; i < b; i++) for (let j = 0; j < outF; j++) y[i * outF + j]! += bias[j]!;
}

/** y[b, out] = x[b, in] · W for a matrix stored [in, out] (RWKV's LoRA factors, applied with matmul). */
function matmul(b: number, inF: number, outF: number, x: FloatArray, W: FloatArray, y: FloatArray): void {
  mm(b, outF, inF, x, 0, inF, false, W, 0, outF, false, y, 0, outF, false);
}

/** LayerNorm over `cols` of each of `rows` rows (biased variance), y = x̂ ⊙ w + b. */
function layerNorm(rows: number, cols: number, x: FloatArray, ln: { weight: FloatArray; bias: FloatArray | null }, eps: number, y: FloatArray, wOff = 0): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let mu = 0, v = 0;
    for (let j = 0; j < cols; j++) mu += x[o + j]!;
    mu /= cols;
    for (let j = 0; j < cols; j++) v += (x[o + j]! - mu) ** 2;
    const rs = 1 / Math.sqrt(v / cols + eps);
    for (let j = 0; j < cols; j++) y[o + j] = (x[o + j]! - mu) * rs * ln.weight[wOff + j]! + (ln.bias ? ln.bias[wOff + j]! : 0);
  }
}

/** A = −exp(A_log), recomputed where A_log changed since it was last seen (bitwise, so NaN counts as seen). */
export function refreshDerived(cache: DerivedCache, source: FloatArray, f: (v: number) => number): void {
  const { seen, value } = cache;
  for (let i = 0; i < source.length; i++) {
    if (!Object.is(seen[i], Math.fround(source[i]!))) {
      seen[i] = source[i]!;
      value[i] = f(source[i]!);
    }
  }
}

/** u = RMSNorm(x) ⊙ w over each of b rows of d values. */
function rmsNorm(b: number, d: number, x: FloatArray, w: FloatArray, eps: number, u: FloatArray): void {
  for (let i = 0; i < b; i++) {
    let ms = 0;
    for (let j = 0; j < d; j++) ms += x[i * d + j]! ** 2;
    const rs = 1 / Math.sqrt(ms / d + eps);
    for (let j = 0; j < d; j++) u[i * d + j] = x[i * d + j]! * rs * w[j]!;
  }
}

/** Columns [from, from + width) of each of b rows of `cols` values. */
function columns(x: FloatArray, b: number, cols: number, from: number, width: number): Float32Array {
  const out = f32(b * width);
  for (let i = 0; i < b; i++) out.set(x.subarray(i * cols + from, i * cols + from + width), i * width);
  return out;
}

/** Mamba-1 block (models/mamba/mixer.ts, mamba_ssm's `Mamba.step`), b streams, one token. */
export function mambaStep(s: MambaStepShape, w: MambaStepWeights, A: DerivedCache, x: FloatArray, st: MambaStepState): void {
  const { b, d, di, n, r, k } = s;
  refreshDerived(A, w.ALog, (v) => -Math.exp(v)); // A = −exp(A_log), token-independent

  const u = f32(b * d);
  rmsNorm(b, d, x, w.norm, s.eps, u); //                                    u = RMSNorm(x) ⊙ norm.weight
  const xz = f32(b * 2 * di);
  linear(b, d, 2 * di, u, w.inProj, w.inProjBias, xz); //                 [x, z] = in_proj u
  const xin = columns(xz, b, 2 * di, 0, di), z = columns(xz, b, 2 * di, di, di);
  const conv = f32(b * di);
  causalConv1dForward({ b, t: 1, c: di, k }, xin, w.convWeight, w.convBias, st.conv, conv, st.conv); // window shifts by one
  const xs = conv.map(silu); //                                              x = SiLU(conv1d(x))
  const xdbl = f32(b * (r + 2 * n));
  linear(b, di, r + 2 * n, xs, w.xProj, null, xdbl); //                     [δ, B, C] = x_proj x
  const delta = columns(xdbl, b, r + 2 * n, 0, r), B = columns(xdbl, b, r + 2 * n, r, n), C = columns(xdbl, b, r + 2 * n, r + n, n);
  const dt = f32(b * di);
  linear(b, r, di, delta, w.dtProj, w.dtProjBias, dt);
  for (let i = 0; i < dt.length; i++) dt[i] = softplus(dt[i]!); //          Δ = softplus(dt_proj δ + bias)
  const y = f32(b * di);
  // h ← exp(ΔA) h + Δ x B;  y = C·h + D x
  selectiveScanForward({ b, t: 1, di, n }, { x: xs, delta: dt, A: A.value, B, C, D: w.D }, st.ssm, y, st.ssm, null);
  for (let i = 0; i < y.length; i++) y[i] = y[i]! * silu(z[i]!); //          y ⊙ SiLU(z)
  const out = f32(b * d);
  linear(b, di, d, y, w.outProj, w.outProjBias, out);
  for (let i = 0; i < b * d; i++) x[i]! += out[i]!; //                       x ← x + out_proj y
}

/** RWKV-7 block (models/rwkv/mixer.ts timeMix7 and channelMix7, rwkv_v7_demo.py), b streams, one token. */
export function rwkv7Step(s: Rwkv7StepShape, w: Rwkv7StepWeights, x: FloatArray, vFirst: FloatArray, st: RwkvStepState): void {
  const { b, d, nh, hs, f } = s;
  if (w.ln0) layerNorm(b, d, x, w.ln0, 1e-5, x);

  // ---- time mix on xa = ln1(x), with the token shift xx = x_{t−1} − x_t
  const xa = f32(b * d), xx = f32(b * d);
  layerNorm(b, d, x, w.ln1, 1e-5, xa);
  for (let i = 0; i < b * d; i++) { xx[i] = st.attXPrev[i]! - xa[i]!; st.attXPrev[i] = xa[i]!; }
  const mix = (m: FloatArray) => { const o = f32(b * d); for (let i = 0; i < b * d; i++) o[i] = xa[i]! + xx[i]! * m[i % d]!; return o; };
  const [xr, xw, xk, xv, xaa, xg] = [w.x_r, w.x_w, w.x_k, w.x_v, w.x_a, w.x_g].map(mix) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
  const lora = (xin: FloatArray, A1: FloatArray, A2: FloatArray, width: number, inner: (v: number) => number) => {
    const h = f32(b * width), o = f32(b * d);
    matmul(b, d, width, xin, A1, h);
    for (let i = 0; i < h.length; i++) h[i] = inner(h[i]!);
    matmul(b, width, d, h, A2, o);
    return o;
  };
  const r = f32(b * d), k = f32(b * d), v = f32(b * d);
  linear(b, d, d, xr, w.receptance, null, r);
  linear(b, d, d, xk, w.key, null, k);
  linear(b, d, d, xv, w.value, null, v);
  // decay = exp(−e^{−0.5} σ(w0 + tanh(xw w1) w2))
  const ww = lora(xw, w.w1, w.w2, s.dw, Math.tanh);
  const decay = ww.map((val, i) => Math.exp(-Math.exp(-0.5) * sigmoid(w.w0[i % d]! + val)));
  if (s.first) vFirst.set(v);
  else {
    const vg = lora(xv, w.v1!, w.v2!, s.dv, (t) => t); //                     value residual gate
    for (let i = 0; i < b * d; i++) v[i] = v[i]! + (vFirst[i]! - v[i]!) * sigmoid(w.v0![i % d]! + vg[i]!);
  }
  const aa = lora(xaa, w.a1, w.a2, s.da, (t) => t).map((val, i) => sigmoid(w.a0[i % d]! + val)); // in-context rate a
  const g = lora(xg, w.g1, w.g2, s.dg, sigmoid);
  // k̂ = normalize(k ⊙ k_k) per head;  k ← k ⊙ (1 + (a − 1) ⊙ k_a)
  const kk = f32(b * d);
  for (let i = 0; i < b * nh; i++) {
    let ss = 0;
    for (let j = 0; j < hs; j++) ss += (k[i * hs + j]! * w.k_k[(i % nh) * hs + j]!) ** 2;
    const nrm = Math.max(Math.sqrt(ss), 1e-12);
    for (let j = 0; j < hs; j++) kk[i * hs + j] = (k[i * hs + j]! * w.k_k[(i % nh) * hs + j]!) / nrm;
  }
  for (let i = 0; i < b * d; i++) k[i] = k[i]! * ((aa[i]! - 1) * w.k_a[i % d]! + 1);
  // WKV: S ← S diag(w) + (S (−k̂)) (k̂ ⊙ a)ᵀ + v kᵀ;  y = S r
  const y = f32(b * d), ma = kk.map((t) => -t), mb = kk.map((t, i) => t * aa[i]!);
  wkv7Forward({ B: b, T: 1, H: nh, N: hs }, { r, w: decay, k, v, a: ma, b: mb }, st.wkv, y, st.wkv, { states: f32(b * nh * hs * hs) });
  // ln_x per head, plus the bonus (Σ_head r ⊙ k ⊙ r_k) v, gated by g
  const yn = f32(b * d);
  for (let i = 0; i < b * nh; i++) {
    const o = i * hs, h = i % nh;
    layerNorm(1, hs, y.subarray(o, o + hs), w.ln_x, 64e-5, yn.subarray(o, o + hs), h * hs);
    let bonus = 0;
    for (let j = 0; j < hs; j++) bonus += r[o + j]! * k[o + j]! * w.r_k[h * hs + j]!;
    for (let j = 0; j < hs; j++) yn[o + j] = (yn[o + j]! + bonus * v[o + j]!) * g[o + j]!;
  }
  const out = f32(b * d);
  linear(b, d, d, yn, w.output, null, out);
  for (let i = 0; i < b * d; i++) x[i]! += out[i]!;

  // ---- channel mix on xf = ln2(x): W_v relu(W_k x_k)²
  const xf = f32(b * d), xkf = f32(b * d);
  layerNorm(b, d, x, w.ln2, 1e-5, xf);
  for (let i = 0; i < b * d; i++) { xkf[i] = xf[i]! + (st.ffnXPrev[i]! - xf[i]!) * w.ffnXk[i % d]!; st.ffnXPrev[i] = xf[i]!; }
  const hk = f32(b * f), o2 = f32(b * d);
  linear(b, d, f, xkf, w.ffnKey, null, hk);
  for (let i = 0; i < hk.length; i++) hk[i] = Math.max(hk[i]!, 0) ** 2;
  linear(b, f, d, hk, w.ffnValue, null, o2);
  for (let i = 0; i < b * d; i++) x[i]! += o2[i]!;
}

/** Mamba-2 block (models/mamba/mixer2.ts, mamba_ssm's `Mamba2.step`), b streams, one token. */
export function mamba2Step(s: Mamba2StepShape, w: Mamba2StepWeights, A: DerivedCache, x: FloatArray, st: MambaStepState): void {
  const { b, d, nh, hs, g, n, k } = s, di = nh * hs, cd = di + 2 * g * n, rows = di + cd + nh;
  refreshDerived(A, w.ALog, (v) => -Math.exp(v)); // A = −exp(A_log), one scalar per head

  const u = f32(b * d), zxbcdt = f32(b * rows);
  rmsNorm(b, d, x, w.norm, s.eps, u);
  linear(b, d, rows, u, w.inProj, w.inProjBias, zxbcdt); //                [z, xBC, dt] = in_proj u
  const z = columns(zxbcdt, b, rows, 0, di), xBC = f32(b * cd), dt = columns(zxbcdt, b, rows, di + cd, nh);
  causalConv1dForward({ b, t: 1, c: cd, k }, columns(zxbcdt, b, rows, di, cd), w.convWeight, w.convBias, st.conv, xBC, st.conv);
  for (let i = 0; i < xBC.length; i++) xBC[i] = silu(xBC[i]!); //          xBC = SiLU(conv1d(xBC))
  for (let i = 0; i < b * nh; i++) dt[i] = softplus(dt[i]! + w.dtBias[i % nh]!); // Δ = softplus(dt + dt_bias)
  // h ← exp(ΔA) h + Δ x ⊗ B;  y = C·h + D x   (the SSD with one token is the plain recurrence)
  const y = f32(b * di);
  ssdForward({ b, t: 1, nh, hs, g, n, q: 1, dPerChannel: s.dPerChannel },
    { x: columns(xBC, b, cd, 0, di), delta: dt, A: A.value, B: columns(xBC, b, cd, di, g * n), C: columns(xBC, b, cd, di + g * n, g * n), D: w.D },
    st.ssm, y, st.ssm, null);
  // RMSNorm(y ⊙ SiLU(z)) ⊙ w over each of the g groups of di/g channels
  const gs = di / g;
  for (let i = 0; i < b * g; i++) {
    const o = i * gs;
    for (let j = 0; j < gs; j++) y[o + j] = y[o + j]! * silu(z[o + j]!);
    rmsNorm(1, gs, y.subarray(o, o + gs), w.gatedNorm.subarray((i % g) * gs, (i % g + 1) * gs), s.normEps, y.subarray(o, o + gs));
  }
  const out = f32(b * d);
  linear(b, di, d, y, w.outProj, w.outProjBias, out);
  for (let i = 0; i < b * d; i++) x[i]! += out[i]!; //                       x ← x + out_proj y
}

/** RWKV-6 block (models/rwkv/mixer.ts timeMix6 and channelMix6, rwkv_v6_demo.py), b streams, one token. */
export function rwkv6Step(s: Rwkv6StepShape, w: Rwkv6StepWeights, x: FloatArray, st: RwkvStepState): void {
  const { b, d, nh, hs, f, dm } = s;
  if (w.ln0) layerNorm(b, d, x, w.ln0, 1e-5, x);

  // ---- time mix on xa = ln1(x), with the token shift xx = x_{t−1} − x_t
  const xa = f32(b * d), xx = f32(b * d);
  layerNorm(b, d, x, w.ln1, 1e-5, xa);
  for (let i = 0; i < b * d; i++) { xx[i] = st.attXPrev[i]! - xa[i]!; st.attXPrev[i] = xa[i]!; }
  // ddlerp: five data-dependent mixes from one shared tanh layer
  const xxx = xa.map((v, i) => v + xx[i]! * w.time_maa_x[i % d]!);
  const m = f32(b * 5 * dm);
  matmul(b, d, 5 * dm, xxx, w.time_maa_w1, m);
  for (let i = 0; i < m.length; i++) m[i] = Math.tanh(m[i]!);
  const mixes = [w.time_maa_w, w.time_maa_k, w.time_maa_v, w.time_maa_r, w.time_maa_g].map((maa, q) => {
    const off = f32(b * d);
    matmul(b, dm, d, columns(m, b, 5 * dm, q * dm, dm), w.time_maa_w2.subarray(q * dm * d, (q + 1) * dm * d), off);
    return xa.map((v, i) => v + xx[i]! * (maa[i % d]! + off[i]!));
  });
  const [xw, xk, xv, xr, xg] = mixes as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
  const r = f32(b * d), k = f32(b * d), v = f32(b * d), g = f32(b * d);
  linear(b, d, d, xr, w.receptance, null, r);
  linear(b, d, d, xk, w.key, null, k);
  linear(b, d, d, xv, w.value, null, v);
  linear(b, d, d, xg, w.gate, null, g);
  for (let i = 0; i < g.length; i++) g[i] = silu(g[i]!);
  // decay = exp(−exp(time_decay + tanh(xw w1) w2))
  const hid = f32(b * s.dw), ww = f32(b * d);
  matmul(b, d, s.dw, xw, w.time_decay_w1, hid);
  for (let i = 0; i < hid.length; i++) hid[i] = Math.tanh(hid[i]!);
  matmul(b, s.dw, d, hid, w.time_decay_w2, ww);
  const decay = ww.map((val, i) => Math.exp(-Math.exp(w.time_decay[i % d]! + val)));
  // WKV: y = rᵀ (S + diag(u) k vᵀ);  S ← diag(w) S + k vᵀ
  const y = f32(b * d);
  wkv6Forward({ B: b, T: 1, H: nh, N: hs }, { r, k, v, w: decay, u: w.time_faaaa }, st.wkv, y, st.wkv, { states: f32(b * nh * hs * hs) });
  const yn = f32(b * d);
  for (let i = 0; i < b * nh; i++) {
    const o = i * hs;
    layerNorm(1, hs, y.subarray(o, o + hs), w.ln_x, 64e-5, yn.subarray(o, o + hs), (i % nh) * hs);
  }
  for (let i = 0; i < yn.length; i++) yn[i] = yn[i]! * g[i]!;
  const out = f32(b * d);
  linear(b, d, d, yn, w.output, null, out);
  for (let i = 0; i < b * d; i++) x[i]! += out[i]!;

  // ---- channel mix on xf = ln2(x): σ(W_r x_r) ⊙ W_v relu(W_k x_k)²
  const xf = f32(b * d);
  layerNorm(b, d, x, w.ln2, 1e-5, xf);
  const fk = f32(b * d), fr = f32(b * d);
  for (let i = 0; i < b * d; i++) {
    const sh = st.ffnXPrev[i]! - xf[i]!;
    fk[i] = xf[i]! + sh * w.ffnMaaK[i % d]!;
    fr[i] = xf[i]! + sh * w.ffnMaaR[i % d]!;
    st.ffnXPrev[i] = xf[i]!;
  }
  const hk = f32(b * f), kv = f32(b * d), rr = f32(b * d);
  linear(b, d, f, fk, w.ffnKey, null, hk);
  for (let i = 0; i < hk.length; i++) hk[i] = Math.max(hk[i]!, 0) ** 2;
  linear(b, f, d, hk, w.ffnValue, null, kv);
  linear(b, d, d, fr, w.ffnReceptance, null, rr);
  for (let i = 0; i < b * d; i++) x[i]! += sigmoid(rr[i]!) * kv[i]!;
}

/** GPT-2 block (models/transformer/block.ts, nanoGPT's Block), b streams, one token over a KV cache of p positions (stream i at row i·cap). */
export function gptStep(s: GptStepShape, w: GptStepWeights, x: FloatArray, k: FloatArray, v: FloatArray): void {
  const { b, C, H, p, eps } = s, T = p + 1, cap = s.cap ?? T;
  const h = f32(b * C), qkv = f32(b * 3 * C);
  layerNorm(b, C, x, w.ln1, eps, h);
  linear(b, C, 3 * C, h, w.cAttn, w.cAttnBias, qkv); //                       [q | k | v] = c_attn(ln_1(x))
  const y = f32(b * C), o = f32(b * C), D = C / H;
  for (let i = 0; i < b; i++) {
    const row = qkv.subarray(i * 3 * C, (i + 1) * 3 * C), at = i * cap * C;
    k.set(row.subarray(C, 2 * C), at + p * C); //                                 append k and v at position p
    v.set(row.subarray(2 * C, 3 * C), at + p * C);
    attentionForward({ B: 1, H, Tq: 1, Tk: T, D, scale: 1 / Math.sqrt(D) }, row.subarray(0, C), k.subarray(at, at + T * C),
      v.subarray(at, at + T * C), y.subarray(i * C, (i + 1) * C), f32(H));
  }
  linear(b, C, C, y, w.attnProj, w.attnProjBias, o);
  for (let i = 0; i < b * C; i++) x[i]! += o[i]!; //                             (1) x = x + attn(ln_1(x))
  const f = f32(b * 4 * C);
  layerNorm(b, C, x, w.ln2, eps, h);
  linear(b, C, 4 * C, h, w.cFc, w.cFcBias, f);
  for (let i = 0; i < f.length; i++) f[i] = gelu(f[i]!);
  linear(b, 4 * C, C, f, w.mlpProj, w.mlpProjBias, o);
  for (let i = 0; i < b * C; i++) x[i]! += o[i]!; //                             (2) x = x + mlp(ln_2(x))
}

export const refStepKernels: StepKernels = { mambaStep, rwkv7Step, mamba2Step, rwkv6Step, gptStep };
