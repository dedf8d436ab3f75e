/**
 * The fused streaming steps (../step.ts) on the wasm backend: one exported kernel per block and token
 * (wasm/assembly/step.ts), each described once for the binder (bind.ts). Weights, states, caches and KV
 * slabs that are resident (in wasm memory) are used in place; anything else is copied in and out by the
 * arena, as for every other method. Float64 arrays go to ref.
 */
import { refStepKernels } from '../ref/step.js';
import type { StepKernels } from '../step.js';
import { inout, input, scratch, type Bind } from './bind.js';

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
  gptStep(b: number, C: number, H: number, p: number, eps: number, x: number, ln1w: number, ln1b: number, cAttn: number, cAttnB: number,
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
 * The wasm step kernels given the module's exports and the backend's binder (bind.ts: float32 guard, arena
 * copies for non-resident arrays, ref fallback when wasm memory is full). Empty when the build lacks them.
 */
export function wasmStepKernels(ex: object, bind: Bind): Partial<StepKernels> {
  if (!hasStepExports(ex)) return {};
  const R = refStepKernels;
  return {
    mambaStep: bind(R.mambaStep, {
      args: (s, w, A, x, st) => {
        const { b, d, di, n, r, k } = s;
        return {
          x: inout(x, b * d), conv: inout(st.conv, b * di * k), ssm: inout(st.ssm, b * di * n), seen: inout(A.seen, di * n), A: inout(A.value, di * n),
          norm: input(w.norm, d), inProj: input(w.inProj, 2 * di * d), inProjBias: input(w.inProjBias, 2 * di), convWeight: input(w.convWeight, di * k),
          convBias: input(w.convBias, di), xProj: input(w.xProj, (r + 2 * n) * di), dtProj: input(w.dtProj, di * r), dtProjBias: input(w.dtProjBias, di),
          ALog: input(w.ALog, di * n), D: input(w.D, di), outProj: input(w.outProj, d * di), outProjBias: input(w.outProjBias, d),
          ws: scratch(ex.mambaStepScratch(b, d, di, n, r)),
        };
      },
    }, (p, s) => ex.mambaStep(s.b, s.d, s.di, s.n, s.r, s.k, s.eps, p.x, p.norm, p.inProj, p.inProjBias, p.convWeight, p.convBias,
        p.xProj, p.dtProj, p.dtProjBias, p.ALog, p.seen, p.A, p.D, p.outProj, p.outProjBias, p.conv, p.ssm, p.ws)),

    rwkv7Step: bind(R.rwkv7Step, {
      args: (s, w, x, vFirst, st) => {
        const { b, d, nh, hs, f } = s, lora = Math.max(s.dw, s.da, s.dv, s.dg);
        return {
          x: inout(x, b * d), vFirst: inout(vFirst, b * d), attXPrev: inout(st.attXPrev, b * d), wkv: inout(st.wkv, b * nh * hs * hs),
          ffnXPrev: inout(st.ffnXPrev, b * d),
          ln0w: input(w.ln0?.weight ?? null, d), ln0b: input(w.ln0?.bias ?? null, d), ln1w: input(w.ln1.weight, d), ln1b: input(w.ln1.bias, d),
          ln2w: input(w.ln2.weight, d), ln2b: input(w.ln2.bias, d),
          xr: input(w.x_r, d), xw: input(w.x_w, d), xk: input(w.x_k, d), xv: input(w.x_v, d), xa: input(w.x_a, d), xg: input(w.x_g, d),
          w0: input(w.w0, d), w1: input(w.w1, d * s.dw), w2: input(w.w2, s.dw * d), a0: input(w.a0, d), a1: input(w.a1, d * s.da), a2: input(w.a2, s.da * d),
          v0: input(w.v0, d), v1: input(w.v1, d * s.dv), v2: input(w.v2, s.dv * d), g1: input(w.g1, d * s.dg), g2: input(w.g2, s.dg * d),
          kK: input(w.k_k, d), kA: input(w.k_a, d), rK: input(w.r_k, d), Wr: input(w.receptance, d * d), Wk: input(w.key, d * d),
          Wv: input(w.value, d * d), Wo: input(w.output, d * d), lnxw: input(w.ln_x.weight, d), lnxb: input(w.ln_x.bias, d),
          fXk: input(w.ffnXk, d), fKey: input(w.ffnKey, f * d), fValue: input(w.ffnValue, d * f),
          ws: scratch(ex.rwkv7StepScratch(b, d, f, lora)),
        };
      },
    }, (p, s) => ex.rwkv7Step(s.b, s.d, s.nh, s.hs, s.f, s.dw, s.da, s.dv, s.dg, s.first ? 1 : 0, p.x, p.vFirst, p.attXPrev, p.wkv, p.ffnXPrev,
        p.ln0w, p.ln0b, p.ln1w, p.ln1b, p.ln2w, p.ln2b, p.xr, p.xw, p.xk, p.xv, p.xa, p.xg, p.w0, p.w1, p.w2, p.a0, p.a1, p.a2,
        p.v0, p.v1, p.v2, p.g1, p.g2, p.kK, p.kA, p.rK, p.Wr, p.Wk, p.Wv, p.Wo, p.lnxw, p.lnxb, p.fXk, p.fKey, p.fValue, p.ws)),

    mamba2Step: bind(R.mamba2Step, {
      args: (s, w, A, x, st) => {
        const { b, d, nh, hs, g, n, k } = s, di = nh * hs, cd = di + 2 * g * n, rows = di + cd + nh;
        return {
          x: inout(x, b * d), conv: inout(st.conv, b * cd * k), ssm: inout(st.ssm, b * di * n), seen: inout(A.seen, nh), A: inout(A.value, nh),
          norm: input(w.norm, d), inProj: input(w.inProj, rows * d), inProjBias: input(w.inProjBias, rows), convWeight: input(w.convWeight, cd * k),
          convBias: input(w.convBias, cd), dtBias: input(w.dtBias, nh), ALog: input(w.ALog, nh), D: input(w.D, s.dPerChannel ? di : nh),
          gatedNorm: input(w.gatedNorm, di), outProj: input(w.outProj, d * di), outProjBias: input(w.outProjBias, d),
          ws: scratch(ex.mamba2StepScratch(b, d, nh, hs, g, n)),
        };
      },
    }, (p, s) => ex.mamba2Step(s.b, s.d, s.nh, s.hs, s.g, s.n, s.k, s.eps, s.normEps, s.dPerChannel ? 1 : 0, p.x, p.norm, p.inProj,
        p.inProjBias, p.convWeight, p.convBias, p.dtBias, p.ALog, p.seen, p.A, p.D, p.gatedNorm, p.outProj, p.outProjBias, p.conv, p.ssm, p.ws)),

    rwkv6Step: bind(R.rwkv6Step, {
      args: (s, w, x, st) => {
        const { b, d, nh, hs, f, dm, dw } = s;
        return {
          x: inout(x, b * d), attXPrev: inout(st.attXPrev, b * d), wkv: inout(st.wkv, b * nh * hs * hs), ffnXPrev: inout(st.ffnXPrev, b * d),
          ln0w: input(w.ln0?.weight ?? null, d), ln0b: input(w.ln0?.bias ?? null, d), ln1w: input(w.ln1.weight, d), ln1b: input(w.ln1.bias, d),
          ln2w: input(w.ln2.weight, d), ln2b: input(w.ln2.bias, d),
          maaX: input(w.time_maa_x, d), maaW: input(w.time_maa_w, d), maaK: input(w.time_maa_k, d), maaV: input(w.time_maa_v, d),
          maaR: input(w.time_maa_r, d), maaG: input(w.time_maa_g, d), maaW1: input(w.time_maa_w1, d * 5 * dm), maaW2: input(w.time_maa_w2, 5 * dm * d),
          tDecay: input(w.time_decay, d), decW1: input(w.time_decay_w1, d * dw), decW2: input(w.time_decay_w2, dw * d), u: input(w.time_faaaa, d),
          Wr: input(w.receptance, d * d), Wk: input(w.key, d * d), Wv: input(w.value, d * d), Wg: input(w.gate, d * d), Wo: input(w.output, d * d),
          lnxw: input(w.ln_x.weight, d), lnxb: input(w.ln_x.bias, d), fMaaK: input(w.ffnMaaK, d), fMaaR: input(w.ffnMaaR, d),
          fKey: input(w.ffnKey, f * d), fRec: input(w.ffnReceptance, d * d), fValue: input(w.ffnValue, d * f),
          ws: scratch(ex.rwkv6StepScratch(b, d, f, dm, dw)),
        };
      },
    }, (p, s) => ex.rwkv6Step(s.b, s.d, s.nh, s.hs, s.f, s.dm, s.dw, p.x, p.attXPrev, p.wkv, p.ffnXPrev, p.ln0w, p.ln0b, p.ln1w, p.ln1b,
        p.ln2w, p.ln2b, p.maaX, p.maaW, p.maaK, p.maaV, p.maaR, p.maaG, p.maaW1, p.maaW2, p.tDecay, p.decW1, p.decW2, p.u, p.Wr, p.Wk, p.Wv,
        p.Wg, p.Wo, p.lnxw, p.lnxb, p.fMaaK, p.fMaaR, p.fKey, p.fRec, p.fValue, p.ws)),

    gptStep: bind(R.gptStep, {
      args: (s, w, x, k, v) => {
        const { b, C, H, p } = s, T = p + 1;
        return {
          // The caches are read and row p written: in place when resident (models/transformer/kv-cache.ts).
          x: inout(x, b * C), k: inout(k, b * T * C), v: inout(v, b * T * C),
          ln1w: input(w.ln1.weight, C), ln1b: input(w.ln1.bias, C), cAttn: input(w.cAttn, 3 * C * C), cAttnB: input(w.cAttnBias, 3 * C),
          projW: input(w.attnProj, C * C), projB: input(w.attnProjBias, C), ln2w: input(w.ln2.weight, C), ln2b: input(w.ln2.bias, C),
          fcW: input(w.cFc, 4 * C * C), fcB: input(w.cFcBias, 4 * C), mProjW: input(w.mlpProj, 4 * C * C), mProjB: input(w.mlpProjBias, C),
          ws: scratch(ex.gptStepScratch(b, C, H, T)),
        };
      },
    }, (a, s) => ex.gptStep(s.b, s.C, s.H, s.p, s.eps, a.x, a.ln1w, a.ln1b, a.cAttn, a.cAttnB, a.projW, a.projB, a.ln2w, a.ln2b,
        a.fcW, a.fcB, a.mProjW, a.mProjB, a.k, a.v, a.ws)),
  };
}
