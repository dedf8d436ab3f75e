/**
 * Reference whole-sequence recurrent layers (one layer direction per call), the way cuDNN does it:
 * one matmul projects the inputs of every timestep, then each step does one small matmul with W_hh plus
 * the pointwise cell; backward walks time in reverse and forms the weight gradients as whole-sequence
 * matmuls at the end. The pointwise equations are those of src/models/{rnn,lstm,gru}/cell.ts, which
 * state them in tensor form; tests prove the two agree.
 */
import { mm } from './gemm.js';
import {
  GATES, recurrentSavedSizes, type FloatArray, type RecurrentGrads, type RecurrentSaved, type RecurrentShape, type RecurrentStepShape, type RecurrentWeights,
} from '../types.js';

const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

const timeAt = (s: RecurrentShape, step: number): number => (s.reverse ? s.T - 1 - step : step);
const active = (s: RecurrentShape, t: number, n: number): boolean => s.lengths === null || t < s.lengths[n]!;
/** Time index of the state before time t, or −1 for the initial state. */
const prevTime = (s: RecurrentShape, t: number): number => (s.reverse ? (t === s.T - 1 ? -1 : t + 1) : t - 1);

function alloc(like: FloatArray, n: number): FloatArray {
  return like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
}

/** Saved buffers for a forward that feeds no backward, grown on demand and reused (one per dtype). */
let scratch32 = new Float32Array(0), scratch64 = new Float64Array(0);
function scratchSaved(like: FloatArray, sizes: Record<keyof RecurrentSaved, number>): RecurrentSaved {
  const total = sizes.gates + sizes.h + sizes.c + sizes.aux;
  let buf: FloatArray;
  if (like instanceof Float64Array) buf = scratch64.length >= total ? scratch64 : (scratch64 = new Float64Array(total));
  else buf = scratch32.length >= total ? scratch32 : (scratch32 = new Float32Array(total));
  let at = 0;
  const take = (n: number): FloatArray => buf.subarray(at, (at += n));
  return { gates: take(sizes.gates), h: take(sizes.h), c: take(sizes.c), aux: take(sizes.aux) };
}

export function recurrentForward(
  s: RecurrentShape, x: FloatArray, w: RecurrentWeights, h0: FloatArray, c0: FloatArray | null,
  y: FloatArray, hn: FloatArray, cn: FloatArray | null, saved: RecurrentSaved | null,
): void {
  const { kind, T, N, I, H, P } = s;
  const GH = GATES[kind] * H;
  const { gates, h: hseq, c: cseq, aux } = saved ?? scratchSaved(x, recurrentSavedSizes(s));
  // Input projections of every timestep at once: gates[t, n] ← W_ih x[t, n] + b_ih (pre-activation).
  mm(T * N, GH, I, x, 0, I, false, w.wih, 0, I, true, gates, 0, GH, false);
  if (w.bih) for (let r = 0; r < T * N; r++) for (let j = 0; j < GH; j++) gates[r * GH + j]! += w.bih[j]!;

  const h = Float64Array.from(h0); // running state [N, P]
  const c = c0 ? Float64Array.from(c0) : new Float64Array(0);
  const hp = alloc(x, N * GH); // W_hh h + b_hh for this step
  const hraw = alloc(x, N * H); // LSTM's o ⊙ tanh(c) before projection
  const rh = alloc(x, N * H);
  const hBuf = alloc(x, N * P);

  for (let step = 0; step < T; step++) {
    const t = timeAt(s, step);
    const G = t * N * GH;
    hBuf.set(h);
    if (kind === 'gru_reset_before') {
      // Only the r and z rows see h directly; the n rows see r ⊙ h, formed below.
      mm(N, 2 * H, P, hBuf, 0, P, false, w.whh, 0, P, true, hp, 0, GH, false);
    } else {
      mm(N, GH, P, hBuf, 0, P, false, w.whh, 0, P, true, hp, 0, GH, false);
    }
    if (w.bhh) for (let n = 0; n < N; n++) for (let j = 0; j < GH; j++) hp[n * GH + j]! += w.bhh[j]!;

    for (let n = 0; n < N; n++) {
      const g = G + n * GH, q = n * GH;
      if (!active(s, t, n)) {
        for (let j = 0; j < GH; j++) gates[g + j] = 0;
        continue;
      }
      for (let j = 0; j < H; j++) {
        switch (kind) {
          case 'rnn_tanh': gates[g + j] = Math.tanh(gates[g + j]! + hp[q + j]!); break;
          case 'rnn_relu': gates[g + j] = Math.max(0, gates[g + j]! + hp[q + j]!); break;
          case 'lstm': {
            const i = sigmoid(gates[g + j]! + hp[q + j]!);
            const f = sigmoid(gates[g + H + j]! + hp[q + H + j]!);
            const gg = Math.tanh(gates[g + 2 * H + j]! + hp[q + 2 * H + j]!);
            const o = sigmoid(gates[g + 3 * H + j]! + hp[q + 3 * H + j]!);
            const cNew = f * c[n * H + j]! + i * gg; // c_t = f ⊙ c_{t−1} + i ⊙ g
            gates[g + j] = i; gates[g + H + j] = f; gates[g + 2 * H + j] = gg; gates[g + 3 * H + j] = o;
            c[n * H + j] = cNew;
            hraw[n * H + j] = o * Math.tanh(cNew); // h_t = o ⊙ tanh(c_t)
            break;
          }
          case 'gru': {
            const r = sigmoid(gates[g + j]! + hp[q + j]!);
            const z = sigmoid(gates[g + H + j]! + hp[q + H + j]!);
            const hn_ = hp[q + 2 * H + j]!; // W_hn h + b_hn
            const nn = Math.tanh(gates[g + 2 * H + j]! + r * hn_);
            gates[g + j] = r; gates[g + H + j] = z; gates[g + 2 * H + j] = nn;
            aux[(t * N + n) * H + j] = hn_;
            hraw[n * H + j] = (1 - z) * nn + z * h[n * P + j]!; // h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}
            break;
          }
          case 'gru_reset_before': {
            const r = sigmoid(gates[g + j]! + hp[q + j]!);
            const z = sigmoid(gates[g + H + j]! + hp[q + H + j]!);
            gates[g + j] = r; gates[g + H + j] = z;
            rh[n * H + j] = r * h[n * P + j]!;
            break;
          }
          default: break;
        }
      }
    }
    if (kind === 'gru_reset_before') {
      // n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)
      mm(N, H, H, rh, 0, H, false, w.whh, 2 * H * P, P, true, hp, 2 * H, GH, false);
      for (let n = 0; n < N; n++) {
        if (!active(s, t, n)) continue;
        const g = G + n * GH, q = n * GH;
        for (let j = 0; j < H; j++) {
          const nn = Math.tanh(gates[g + 2 * H + j]! + hp[q + 2 * H + j]! + (w.bhh ? w.bhh[2 * H + j]! : 0));
          const z = gates[g + H + j]!;
          gates[g + 2 * H + j] = nn;
          aux[(t * N + n) * H + j] = rh[n * H + j]!;
          hraw[n * H + j] = (1 - z) * nn + z * h[n * P + j]!;
        }
      }
    }
    // The new state: h (projected for an LSTM with projSize), frozen past each sequence's end.
    const proj = kind === 'lstm' && w.whr !== null;
    if (proj) mm(N, P, H, hraw, 0, H, false, w.whr!, 0, H, true, hBuf, 0, P, false);
    for (let n = 0; n < N; n++) {
      const on = active(s, t, n);
      for (let j = 0; j < P; j++) {
        if (on) {
          h[n * P + j] = kind === 'rnn_tanh' || kind === 'rnn_relu' ? gates[G + n * GH + j]! : proj ? hBuf[n * P + j]! : hraw[n * P + j]!;
        }
        hseq[(t * N + n) * P + j] = h[n * P + j]!;
        y[(t * N + n) * P + j] = on ? h[n * P + j]! : 0;
      }
      if (kind === 'lstm') {
        for (let j = 0; j < H; j++) {
          cseq[(t * N + n) * H + j] = c[n * H + j]!;
          if (proj) aux[(t * N + n) * H + j] = on ? hraw[n * H + j]! : 0;
        }
      }
    }
  }
  hn.set(h);
  if (cn) cn.set(c);
}

/**
 * The streaming step: recurrentForward over one timestep, its final state written over the initial one
 * (recurrentForward reads h0 and c0 before it writes anything, so they may be the same arrays).
 */
export function recurrentStep(
  s: RecurrentStepShape, x: FloatArray, w: RecurrentWeights, h: FloatArray, hOff: number, c: FloatArray | null, cOff: number, y: FloatArray,
): void {
  const { N, H, P } = s;
  const hs = h.subarray(hOff, hOff + N * P), cs = c === null ? null : c.subarray(cOff, cOff + N * H);
  recurrentForward({ ...s, T: 1, reverse: false, lengths: null }, x, w, hs, cs, y, hs, cs, null);
}

export function recurrentBackward(
  s: RecurrentShape, x: FloatArray, w: RecurrentWeights, h0: FloatArray, c0: FloatArray | null,
  saved: RecurrentSaved, dy: FloatArray | null, dhn: FloatArray | null, dcn: FloatArray | null, out: RecurrentGrads,
): void {
  const { kind, T, N, I, H, P } = s;
  const GH = GATES[kind] * H;
  const { gates, h: hseq, c: cseq, aux } = saved;
  const lstm = kind === 'lstm', proj = lstm && w.whr !== null;
  const resetAfter = kind === 'gru', resetBefore = kind === 'gru_reset_before';

  // Pre-activation gradients, indexed by time: dXP feeds W_ih, dHP feeds W_hh (they differ only for GRU).
  const dXP = alloc(x, T * N * GH);
  const dHP = resetAfter || resetBefore ? alloc(x, T * N * GH) : dXP;
  const dHall = proj ? alloc(x, T * N * P) : null; // dL/dh_t in full, for the projection's gradient
  const dh = dhn ? Float64Array.from(dhn) : new Float64Array(N * P);
  const dc = lstm ? (dcn ? Float64Array.from(dcn) : new Float64Array(N * H)) : new Float64Array(0);
  const dhBuf = alloc(x, N * P);
  const dhraw = alloc(x, N * H);
  const dhh = alloc(x, N * P); // dHP · W_hh for this step
  const drh = alloc(x, N * H);
  const dDirect = new Float64Array(N * P); // the part of dh_{t−1} that skips W_hh

  const hPrev = (t: number, n: number, j: number): number => {
    const tp = prevTime(s, t);
    return tp < 0 ? h0[n * P + j]! : hseq[(tp * N + n) * P + j]!;
  };
  const cPrev = (t: number, n: number, j: number): number => {
    const tp = prevTime(s, t);
    return tp < 0 ? c0![n * H + j]! : cseq[(tp * N + n) * H + j]!;
  };

  for (let step = T - 1; step >= 0; step--) {
    const t = timeAt(s, step);
    const G = t * N * GH;
    for (let n = 0; n < N; n++) {
      if (dy && active(s, t, n)) for (let j = 0; j < P; j++) dh[n * P + j]! += dy[(t * N + n) * P + j]!;
    }
    if (proj) {
      dhBuf.set(dh);
      mm(N, H, P, dhBuf, 0, P, false, w.whr!, 0, H, false, dhraw, 0, H, false);
      for (let n = 0; n < N; n++) {
        if (active(s, t, n)) for (let j = 0; j < P; j++) dHall![(t * N + n) * P + j] = dh[n * P + j]!;
      }
    }
    for (let n = 0; n < N; n++) {
      if (!active(s, t, n)) continue; // state was frozen: its gradient passes through untouched
      const g = G + n * GH;
      for (let j = 0; j < P; j++) dDirect[n * P + j] = 0;
      for (let j = 0; j < H; j++) {
        switch (kind) {
          case 'rnn_tanh': { const hv = gates[g + j]!; dXP[g + j] = dh[n * P + j]! * (1 - hv * hv); break; }
          case 'rnn_relu': { dXP[g + j] = gates[g + j]! > 0 ? dh[n * P + j]! : 0; break; }
          case 'lstm': {
            const i = gates[g + j]!, f = gates[g + H + j]!, gg = gates[g + 2 * H + j]!, o = gates[g + 3 * H + j]!;
            const tc = Math.tanh(cseq[(t * N + n) * H + j]!);
            const dhr = proj ? dhraw[n * H + j]! : dh[n * P + j]!;
            const dct = dc[n * H + j]! + dhr * o * (1 - tc * tc);
            dXP[g + j] = dct * gg * i * (1 - i);                         // ∂/∂i
            dXP[g + H + j] = dct * cPrev(t, n, j) * f * (1 - f);          // ∂/∂f
            dXP[g + 2 * H + j] = dct * i * (1 - gg * gg);                 // ∂/∂g
            dXP[g + 3 * H + j] = dhr * tc * o * (1 - o);                  // ∂/∂o
            dc[n * H + j] = dct * f;                                      // ∂/∂c_{t−1}
            break;
          }
          case 'gru': {
            const r = gates[g + j]!, z = gates[g + H + j]!, nn = gates[g + 2 * H + j]!;
            const d = dh[n * P + j]!, hv = hPrev(t, n, j);
            const dnPre = d * (1 - z) * (1 - nn * nn);
            const drPre = dnPre * aux[(t * N + n) * H + j]! * r * (1 - r);
            const dzPre = d * (hv - nn) * z * (1 - z);
            dXP[g + j] = drPre; dXP[g + H + j] = dzPre; dXP[g + 2 * H + j] = dnPre;
            dHP[g + j] = drPre; dHP[g + H + j] = dzPre; dHP[g + 2 * H + j] = dnPre * r;
            dDirect[n * P + j] = d * z;
            break;
          }
          case 'gru_reset_before': {
            const z = gates[g + H + j]!, nn = gates[g + 2 * H + j]!;
            const d = dh[n * P + j]!, hv = hPrev(t, n, j);
            const dnPre = d * (1 - z) * (1 - nn * nn);
            dXP[g + 2 * H + j] = dnPre; dHP[g + 2 * H + j] = dnPre;
            dXP[g + H + j] = dHP[g + H + j] = d * (hv - nn) * z * (1 - z);
            dDirect[n * P + j] = d * z;
            break;
          }
          default: break;
        }
      }
    }
    if (resetBefore) {
      // d(r ⊙ h) = dn_pre · W_hn, then split into dr and a direct term r ⊙ d(r ⊙ h).
      mm(N, H, H, dHP, G + 2 * H, GH, false, w.whh, 2 * H * P, P, false, drh, 0, H, false);
      for (let n = 0; n < N; n++) {
        if (!active(s, t, n)) continue;
        const g = G + n * GH;
        for (let j = 0; j < H; j++) {
          const r = gates[g + j]!;
          const drPre = drh[n * H + j]! * hPrev(t, n, j) * r * (1 - r);
          dXP[g + j] = dHP[g + j] = drPre;
          dDirect[n * P + j]! += drh[n * H + j]! * r;
        }
      }
    }
    // dh_{t−1} = (direct term) + dHP · W_hh for active rows; frozen rows keep dh.
    const rows = resetBefore ? 2 * H : GH;
    mm(N, P, rows, dHP, G, GH, false, w.whh, 0, P, false, dhh, 0, P, false);
    for (let n = 0; n < N; n++) {
      if (!active(s, t, n)) continue;
      for (let j = 0; j < P; j++) dh[n * P + j] = dDirect[n * P + j]! + dhh[n * P + j]!;
    }
  }

  // Whole-sequence weight gradients.
  mm(T * N, I, GH, dXP, 0, GH, false, w.wih, 0, I, false, out.dx, 0, I, false);
  mm(GH, I, T * N, dXP, 0, GH, true, x, 0, I, false, out.dwih, 0, I, true);
  const hp = alloc(x, T * N * P);
  for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) for (let j = 0; j < P; j++) hp[(t * N + n) * P + j] = hPrev(t, n, j);
  if (resetBefore) {
    mm(2 * H, P, T * N, dHP, 0, GH, true, hp, 0, P, false, out.dwhh, 0, P, true);
    mm(H, H, T * N, dHP, 2 * H, GH, true, aux, 0, H, false, out.dwhh, 2 * H * P, P, true);
  } else {
    mm(GH, P, T * N, dHP, 0, GH, true, hp, 0, P, false, out.dwhh, 0, P, true);
  }
  for (let r = 0; r < T * N; r++) {
    for (let j = 0; j < GH; j++) {
      if (out.dbih) out.dbih[j]! += dXP[r * GH + j]!;
      if (out.dbhh) out.dbhh[j]! += dHP[r * GH + j]!;
    }
  }
  if (proj && out.dwhr) mm(P, H, T * N, dHall!, 0, P, true, aux, 0, H, false, out.dwhr, 0, H, true);
  out.dh0.set(dh);
  if (out.dc0) out.dc0.set(dc);
}
