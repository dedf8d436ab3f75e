/**
 * The fused streaming steps (../step.ts) on the wasm backend: one exported kernel per block and token
 * (wasm/assembly/step.ts), bound with `bindDirect` (bind.ts) so that a streamed token allocates nothing in
 * JavaScript. Weights, states, caches and KV slabs that are resident (in wasm memory) are used in place;
 * anything else is copied in and out by the arena, as for every other method. Float64 arrays go to ref.
 */
import { refStepKernels } from '../ref/step.js';
import type { StepKernels } from '../step.js';
import type { BindDirect } from './bind.js';

/** The step kernels' exports (wasm/assembly/step.ts). */
export interface StepExports {
  mambaStepScratch(b: number, d: number, di: number, n: number, r: number): number;
  mambaStep(b: number, d: number, di: number, n: number, r: number, k: number, eps: number, x: number,
    norm: number, inProj: number, inProjB: number, convW: number, convB: number, xProj: number, dtProj: number, dtB: number,
    ALog: number, Aseen: number, A: number, D: number, outProj: number, outProjB: number, conv: number, ssm: number, ws: number): void;
  rwkv7StepScratch(b: number, d: number, f: number, lora: number): number;
  rwkv7Step(b: number, d: number, nh: number, hs: number, f: number, dw: number, da: number, dv: number, dg: number, first: number,
    x: number, vFirst: number, attPrev: number, wkv: number, ffnPrev: number,
    ln0w: number, ln0b: number, ln1w: number, ln1b: number, ln2w: number, ln2b: number,
    xr: number, xw: number, xk: number, xv: number, xa: number, xg: number,
    w0: number, w1: number, w2: number, a0: number, a1: number, a2: number, v0: number, v1: number, v2: number, g1: number, g2: number,
    kK: number, kA: number, rK: number, Wr: number, Wk: number, Wv: number, Wo: number, lnxw: number, lnxb: number,
    fXk: number, fKey: number, fValue: number, ws: number): void;
  mamba2StepScratch(b: number, d: number, nh: number, hs: number, g: number, n: number): number;
  mamba2Step(b: number, d: number, nh: number, hs: number, g: number, n: number, k: number, eps: number, normEps: number, dPerChannel: number,
    x: number, norm: number, inProj: number, inProjB: number, convW: number, convB: number, dtBias: number, ALog: number, Aseen: number, A: number,
    D: number, gnorm: number, outProj: number, outProjB: number, conv: number, ssm: number, ws: number): void;
  rwkv6StepScratch(b: number, d: number, f: number, dm: number, dw: number): number;
  rwkv6Step(b: number, d: number, nh: number, hs: number, f: number, dm: number, dw: number,
    x: number, attPrev: number, wkv: number, ffnPrev: number,
    ln0w: number, ln0b: number, ln1w: number, ln1b: number, ln2w: number, ln2b: number,
    maaX: number, maaW: number, maaK: number, maaV: number, maaR: number, maaG: number, maaW1: number, maaW2: number,
    tDecay: number, decW1: number, decW2: number, u: number, Wr: number, Wk: number, Wv: number, Wg: number, Wo: number, lnxw: number, lnxb: number,
    fMaaK: number, fMaaR: number, fKey: number, fRec: number, fValue: number, ws: number): void;
  gptStepScratch(b: number, C: number, H: number, T: number): number;
  gptStep(b: number, C: number, H: number, p: number, cap: number, eps: number, x: number, ln1w: number, ln1b: number, cAttn: number, cAttnB: number,
    projW: number, projB: number, ln2w: number, ln2b: number, fcW: number, fcB: number, mProjW: number, mProjB: number, k: number, v: number, ws: number): void;
}

const STEP_EXPORTS: readonly (keyof StepExports)[] = [
  'mambaStepScratch', 'mambaStep', 'rwkv7StepScratch', 'rwkv7Step', 'mamba2StepScratch', 'mamba2Step', 'rwkv6StepScratch', 'rwkv6Step',
  'gptStepScratch', 'gptStep',
];

function hasStepExports(ex: object): ex is StepExports {
  return STEP_EXPORTS.every((name) => typeof (ex as Record<string, unknown>)[name] === 'function');
}

/**
 * The wasm step kernels given the module's exports and the backend's direct binder (bind.ts: float32 guard,
 * arena copies for non-resident arrays, ref fallback when wasm memory is full). Empty when the build lacks
 * them. Each run passes the addresses in the export's order; the arena lays them out in that order.
 */
export function wasmStepKernels(ex: object, bind: BindDirect): Partial<StepKernels> {
  if (!hasStepExports(ex)) return {};
  const R = refStepKernels;
  return {
    mambaStep: bind(R.mambaStep, (p, s, w, A, x, st) => {
      const { b, d, di, n, r, k } = s;
      ex.mambaStep(b, d, di, n, r, k, s.eps, p.inout(x, b * d),
        p.in(w.norm, d), p.in(w.inProj, 2 * di * d), p.in(w.inProjBias, 2 * di), p.in(w.convWeight, di * k), p.in(w.convBias, di),
        p.in(w.xProj, (r + 2 * n) * di), p.in(w.dtProj, di * r), p.in(w.dtProjBias, di), p.in(w.ALog, di * n),
        p.inout(A.seen, di * n), p.inout(A.value, di * n), p.in(w.D, di), p.in(w.outProj, d * di), p.in(w.outProjBias, d),
        p.inout(st.conv, b * di * k), p.inout(st.ssm, b * di * n), p.scratch(ex.mambaStepScratch(b, d, di, n, r)));
    }),

    rwkv7Step: bind(R.rwkv7Step, (p, s, w, x, vFirst, st) => {
      const { b, d, nh, hs, f } = s, lora = Math.max(s.dw, s.da, s.dv, s.dg);
      ex.rwkv7Step(b, d, nh, hs, f, s.dw, s.da, s.dv, s.dg, s.first ? 1 : 0,
        p.inout(x, b * d), p.inout(vFirst, b * d), p.inout(st.attXPrev, b * d), p.inout(st.wkv, b * nh * hs * hs), p.inout(st.ffnXPrev, b * d),
        p.in(w.ln0?.weight ?? null, d), p.in(w.ln0?.bias ?? null, d), p.in(w.ln1.weight, d), p.in(w.ln1.bias, d),
        p.in(w.ln2.weight, d), p.in(w.ln2.bias, d),
        p.in(w.x_r, d), p.in(w.x_w, d), p.in(w.x_k, d), p.in(w.x_v, d), p.in(w.x_a, d), p.in(w.x_g, d),
        p.in(w.w0, d), p.in(w.w1, d * s.dw), p.in(w.w2, s.dw * d), p.in(w.a0, d), p.in(w.a1, d * s.da), p.in(w.a2, s.da * d),
        p.in(w.v0, d), p.in(w.v1, d * s.dv), p.in(w.v2, s.dv * d), p.in(w.g1, d * s.dg), p.in(w.g2, s.dg * d),
        p.in(w.k_k, d), p.in(w.k_a, d), p.in(w.r_k, d), p.in(w.receptance, d * d), p.in(w.key, d * d),
        p.in(w.value, d * d), p.in(w.output, d * d), p.in(w.ln_x.weight, d), p.in(w.ln_x.bias, d),
        p.in(w.ffnXk, d), p.in(w.ffnKey, f * d), p.in(w.ffnValue, d * f),
        p.scratch(ex.rwkv7StepScratch(b, d, f, lora)));
    }),

    mamba2Step: bind(R.mamba2Step, (p, s, w, A, x, st) => {
      const { b, d, nh, hs, g, n, k } = s, di = nh * hs, cd = di + 2 * g * n, rows = di + cd + nh;
      ex.mamba2Step(b, d, nh, hs, g, n, k, s.eps, s.normEps, s.dPerChannel ? 1 : 0, p.inout(x, b * d),
        p.in(w.norm, d), p.in(w.inProj, rows * d), p.in(w.inProjBias, rows), p.in(w.convWeight, cd * k), p.in(w.convBias, cd),
        p.in(w.dtBias, nh), p.in(w.ALog, nh), p.inout(A.seen, nh), p.inout(A.value, nh), p.in(w.D, s.dPerChannel ? di : nh),
        p.in(w.gatedNorm, di), p.in(w.outProj, d * di), p.in(w.outProjBias, d),
        p.inout(st.conv, b * cd * k), p.inout(st.ssm, b * di * n), p.scratch(ex.mamba2StepScratch(b, d, nh, hs, g, n)));
    }),

    rwkv6Step: bind(R.rwkv6Step, (p, s, w, x, st) => {
      const { b, d, nh, hs, f, dm, dw } = s;
      ex.rwkv6Step(b, d, nh, hs, f, dm, dw,
        p.inout(x, b * d), p.inout(st.attXPrev, b * d), p.inout(st.wkv, b * nh * hs * hs), p.inout(st.ffnXPrev, b * d),
        p.in(w.ln0?.weight ?? null, d), p.in(w.ln0?.bias ?? null, d), p.in(w.ln1.weight, d), p.in(w.ln1.bias, d),
        p.in(w.ln2.weight, d), p.in(w.ln2.bias, d),
        p.in(w.time_maa_x, d), p.in(w.time_maa_w, d), p.in(w.time_maa_k, d), p.in(w.time_maa_v, d),
        p.in(w.time_maa_r, d), p.in(w.time_maa_g, d), p.in(w.time_maa_w1, d * 5 * dm), p.in(w.time_maa_w2, 5 * dm * d),
        p.in(w.time_decay, d), p.in(w.time_decay_w1, d * dw), p.in(w.time_decay_w2, dw * d), p.in(w.time_faaaa, d),
        p.in(w.receptance, d * d), p.in(w.key, d * d), p.in(w.value, d * d), p.in(w.gate, d * d), p.in(w.output, d * d),
        p.in(w.ln_x.weight, d), p.in(w.ln_x.bias, d), p.in(w.ffnMaaK, d), p.in(w.ffnMaaR, d),
        p.in(w.ffnKey, f * d), p.in(w.ffnReceptance, d * d), p.in(w.ffnValue, d * f),
        p.scratch(ex.rwkv6StepScratch(b, d, f, dm, dw)));
    }),

    gptStep: bind(R.gptStep, (a, s, w, x, k, v) => {
      const { b, C, H, p } = s, T = p + 1, cap = s.cap ?? T;
      // The caches are read and row p written: in place when resident (models/transformer/kv-cache.ts).
      ex.gptStep(b, C, H, p, cap, s.eps, a.inout(x, b * C),
        a.in(w.ln1.weight, C), a.in(w.ln1.bias, C), a.in(w.cAttn, 3 * C * C), a.in(w.cAttnBias, 3 * C),
        a.in(w.attnProj, C * C), a.in(w.attnProjBias, C), a.in(w.ln2.weight, C), a.in(w.ln2.bias, C),
        a.in(w.cFc, 4 * C * C), a.in(w.cFcBias, 4 * C), a.in(w.mlpProj, 4 * C * C), a.in(w.mlpProjBias, C),
        a.inout(k, b * cap * C), a.inout(v, b * cap * C), a.scratch(ex.gptStepScratch(b, C, H, T)));
    }),
  };
}
