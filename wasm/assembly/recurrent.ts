/**
 * Whole-sequence recurrent layers, one layer direction per call: the same algorithm and the same saved
 * buffers as src/kernels/ref/recurrent.ts (the specification; read it first), with
 *
 * - biases folded once: b_ih + b_hh into the input projection wherever the two only add (all of RNN and
 *   LSTM, the r and z rows of GRU, all rows of reset-before GRU), so a step's pre-activations are
 *   `gates[t] += h · W_hhᵀ` — one GEMM straight into the saved buffer;
 * - forward products with the weights as stored ([out, in], so x · Wᵀ is a row-by-row dot product) by
 *   gemmNT, which needs no packing — a batch-1 streaming step reads each weight once and nothing else;
 * - backward products with W_hh (and W_hr, W_hn) un-transposed, packed once per call (gemm.ts);
 * - the gate nonlinearities fused into one vectorised pass per step (math.ts);
 * - the weight gradients formed as whole-sequence GEMMs after the time loop, with h_{t−1} read straight
 *   out of the saved h sequence (shifted by one step) instead of being copied.
 *
 * Kinds: the codes of src/kernels/recurrent-kinds.ts (rnn_tanh, rnn_relu, lstm, gru reset-after,
 * gru_reset_before). Gate blocks follow
 * PyTorch: LSTM (i, f, g, o), GRU (r, z, n). Every pointer is a byte address; `lengths` (int32 [N]),
 * `bih`, `bhh`, `whr`, `c0`, `dy`, `dhn`, `dcn` and the optional gradients may be 0 for "none".
 */
import { gemmPackedScratch, gemmScratch, packB, packedBSize } from './gemm';
import { gemm, gemmNT, gemmPacked } from './parallel';
import { vsigmoid, vtanh } from './math';
import { fma, fnma, splat } from './vec';
// The kind codes and gate counts, shared with the TypeScript side (one file, valid in both languages).
import {
  GRU, GRU_GATES, GRU_RESET_BEFORE as GRU_RB, LSTM, LSTM_GATES, RNN_GATES, RNN_RELU,
} from '../../src/kernels/recurrent-kinds';

// @ts-ignore: decorator
@inline function gatesOf(kind: i32): i32 { return kind == LSTM ? LSTM_GATES : kind >= GRU ? GRU_GATES : RNN_GATES; } // both GRU codes ≥ GRU
// @ts-ignore: decorator
@inline function f4(i: i32): usize { return <usize>i << 2; }
// @ts-ignore: decorator
@inline function isActive(lengths: usize, t: i32, n: i32): bool { return lengths == 0 || t < load<i32>(lengths + f4(n)); }
// @ts-ignore: decorator
@inline function timeAt(reverse: bool, T: i32, step: i32): i32 { return reverse ? T - 1 - step : step; }
/** Time index of the state before time t, or −1 for the initial state. */
// @ts-ignore: decorator
@inline function prevTime(reverse: bool, T: i32, t: i32): i32 { return reverse ? (t == T - 1 ? -1 : t + 1) : t - 1; }

// ------------------------------------------------------------------ scratch layout

let top: usize = 0;
/** Carve `n` floats (64-byte aligned) from the scratch area. */
function take(n: i32): usize {
  const p = top;
  top += (f4(n) + 63) & ~63;
  return p;
}

// Forward scratch regions.
let fBias: usize = 0, fBhn: usize = 0;
let fH: usize = 0, fC: usize = 0, fHraw: usize = 0, fHp: usize = 0, fRh: usize = 0, fHproj: usize = 0;

function layoutForward(base: usize, kind: i32, N: i32, I: i32, H: i32, P: i32, proj: bool): usize {
  top = (base + 63) & ~63;
  const GH = gatesOf(kind) * H;
  fBias = take(GH);
  fBhn = take(H);
  fH = take(N * P);
  fC = take(N * H);
  fHraw = take(N * H);
  fHp = take(N * GH);
  fRh = take(N * H);
  fHproj = take(N * P);
  STAGE = take(48);
  return top - base;
}

/** Bytes of scratch `recurrentForward` needs. */
export function recurrentForwardScratch(kind: i32, N: i32, I: i32, H: i32, P: i32, proj: bool): usize {
  return layoutForward(0, kind, N, I, H, P, proj) + 64;
}

// ------------------------------------------------------------------ tails

// A step's pointwise pass runs 4 lanes at a time; the last H mod 4 elements are staged through 12
// vectors of scratch so the same vector code handles them (lanes past the end are zero and never
// stored). The stage lives in the call's scratch, not in static memory, so concurrent calls on shared
// memory (threads) never share it.
let STAGE: usize = 0;

// @ts-ignore: decorator
@inline function stageIn(slot: i32, src: usize, r: i32): usize {
  const d = STAGE + (<usize>slot << 4);
  v128.store(d, splat(0));
  for (let i = 0; i < r; i++) store<f32>(d + f4(i), load<f32>(src + f4(i)));
  return d;
}
// @ts-ignore: decorator
@inline function stageOut(slot: i32, dst: usize, r: i32): void {
  const s = STAGE + (<usize>slot << 4);
  for (let i = 0; i < r; i++) store<f32>(dst + f4(i), load<f32>(s + f4(i)));
}

// ------------------------------------------------------------------ forward cells (4 lanes)

/** LSTM: i, f, o = σ(·), g = tanh(·); c_t = f ⊙ c_{t−1} + i ⊙ g; h_t = o ⊙ tanh(c_t). */
// @ts-ignore: decorator
@inline function lstmCell(pi: usize, pf: usize, pg: usize, po: usize, pc: usize, ph: usize): void {
  const i = vsigmoid(v128.load(pi)), f = vsigmoid(v128.load(pf));
  const g = vtanh(v128.load(pg)), o = vsigmoid(v128.load(po));
  const c = fma(f, v128.load(pc), f32x4.mul(i, g));
  v128.store(pi, i); v128.store(pf, f); v128.store(pg, g); v128.store(po, o);
  v128.store(pc, c);
  v128.store(ph, f32x4.mul(o, vtanh(c)));
}

/** GRU (reset-after): r, z = σ(·); n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)); h = n + z ⊙ (h − n). */
// @ts-ignore: decorator
@inline function gruCell(pr: usize, pz: usize, pn: usize, qr: usize, qz: usize, qn: usize, bn: usize,
  ph: usize, pa: usize): void {
  const r = vsigmoid(f32x4.add(v128.load(pr), v128.load(qr)));
  const z = vsigmoid(f32x4.add(v128.load(pz), v128.load(qz)));
  const hn = f32x4.add(v128.load(qn), v128.load(bn));
  const n = vtanh(fma(r, hn, v128.load(pn)));
  v128.store(pr, r); v128.store(pz, z); v128.store(pn, n);
  v128.store(pa, hn);
  v128.store(ph, fma(z, f32x4.sub(v128.load(ph), n), n));
}

/** Reset-before GRU, first half: r, z = σ(·) and r ⊙ h for W_hn. */
// @ts-ignore: decorator
@inline function gruRbGates(pr: usize, pz: usize, qr: usize, qz: usize, ph: usize, prh: usize): void {
  const r = vsigmoid(f32x4.add(v128.load(pr), v128.load(qr)));
  const z = vsigmoid(f32x4.add(v128.load(pz), v128.load(qz)));
  v128.store(pr, r); v128.store(pz, z);
  v128.store(prh, f32x4.mul(r, v128.load(ph)));
}

/** Reset-before GRU, second half: n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn); h = n + z ⊙ (h − n). */
// @ts-ignore: decorator
@inline function gruRbOut(pz: usize, pn: usize, qn: usize, prh: usize, ph: usize, pa: usize): void {
  const n = vtanh(f32x4.add(v128.load(pn), v128.load(qn)));
  const z = v128.load(pz);
  v128.store(pn, n);
  v128.store(pa, v128.load(prh));
  v128.store(ph, fma(z, f32x4.sub(v128.load(ph), n), n));
}

// @ts-ignore: decorator
@inline function rnnCell(relu: bool, pg: usize, ph: usize): void {
  const v = v128.load(pg);
  const a = relu ? f32x4.max(v, splat(0)) : vtanh(v);
  v128.store(pg, a);
  v128.store(ph, a);
}

// ------------------------------------------------------------------ forward

export function recurrentForward(
  kind: i32, T: i32, N: i32, I: i32, H: i32, P: i32, reverse: bool, lengths: usize,
  x: usize, wih: usize, whh: usize, bih: usize, bhh: usize, whr: usize, h0: usize, c0: usize,
  y: usize, hn: usize, cn: usize, gates: usize, hseq: usize, cseq: usize, aux: usize, ws: usize,
): void {
  const G = gatesOf(kind);
  const GH = G * H;
  const proj = kind == LSTM && whr != 0;
  layoutForward(ws, kind, N, I, H, P, proj);

  // Folded biases: fBias = b_ih + b_hh where they only add; fBhn = b_hn for reset-after GRU.
  memory.fill(fBias, 0, f4(GH));
  memory.fill(fBhn, 0, f4(H));
  if (bih != 0) memory.copy(fBias, bih, f4(GH));
  if (bhh != 0) {
    const merged = kind == GRU ? 2 * H : GH;
    for (let j = 0; j < merged; j++) store<f32>(fBias + f4(j), load<f32>(fBias + f4(j)) + load<f32>(bhh + f4(j)));
    if (kind == GRU) memory.copy(fBhn, bhh + f4(2 * H), f4(H));
  }
  // Input projections of every step at once: gates[t, n] = x[t, n] · W_ihᵀ + bias.
  const TN = T * N;
  for (let r = 0; r < TN; r++) memory.copy(gates + f4(r * GH), fBias, f4(GH));
  gemmNT(TN, GH, I, x, I, wih, I, gates, GH, true);

  memory.copy(fH, h0, f4(N * P));
  if (kind == LSTM) {
    if (c0 != 0) memory.copy(fC, c0, f4(N * H));
    else memory.fill(fC, 0, f4(N * H));
  }
  memory.fill(fRh, 0, f4(N * H));
  const H4 = H & ~3, rem = H - H4;

  for (let step = 0; step < T; step++) {
    const t = timeAt(reverse, T, step);
    const Gt = gates + f4(t * N * GH);
    if (kind == GRU) gemmNT(N, GH, P, fH, P, whh, P, fHp, GH, false);
    else if (kind == GRU_RB) gemmNT(N, 2 * H, P, fH, P, whh, P, fHp, GH, false);
    else gemmNT(N, GH, P, fH, P, whh, P, Gt, GH, true);

    for (let n = 0; n < N; n++) {
      const g = Gt + f4(n * GH);
      if (!isActive(lengths, t, n)) {
        memory.fill(g, 0, f4(GH));
        if (kind >= GRU) memory.fill(aux + f4((t * N + n) * H), 0, f4(H));
        continue;
      }
      const q = fHp + f4(n * GH);
      const hrow = fH + f4(n * P);
      if (kind == LSTM) {
        const crow = fC + f4(n * H);
        const out = proj ? fHraw + f4(n * H) : hrow;
        for (let j = 0; j < H4; j += 4) {
          lstmCell(g + f4(j), g + f4(H + j), g + f4(2 * H + j), g + f4(3 * H + j), crow + f4(j), out + f4(j));
        }
        if (rem) {
          const j = H4;
          lstmCell(stageIn(0, g + f4(j), rem), stageIn(1, g + f4(H + j), rem), stageIn(2, g + f4(2 * H + j), rem),
            stageIn(3, g + f4(3 * H + j), rem), stageIn(4, crow + f4(j), rem), STAGE + 80);
          stageOut(0, g + f4(j), rem); stageOut(1, g + f4(H + j), rem); stageOut(2, g + f4(2 * H + j), rem);
          stageOut(3, g + f4(3 * H + j), rem); stageOut(4, crow + f4(j), rem); stageOut(5, out + f4(j), rem);
        }
      } else if (kind == GRU) {
        const arow = aux + f4((t * N + n) * H);
        for (let j = 0; j < H4; j += 4) {
          gruCell(g + f4(j), g + f4(H + j), g + f4(2 * H + j), q + f4(j), q + f4(H + j), q + f4(2 * H + j),
            fBhn + f4(j), hrow + f4(j), arow + f4(j));
        }
        if (rem) {
          const j = H4;
          gruCell(stageIn(0, g + f4(j), rem), stageIn(1, g + f4(H + j), rem), stageIn(2, g + f4(2 * H + j), rem),
            stageIn(3, q + f4(j), rem), stageIn(4, q + f4(H + j), rem), stageIn(5, q + f4(2 * H + j), rem),
            stageIn(6, fBhn + f4(j), rem), stageIn(7, hrow + f4(j), rem), STAGE + 128);
          stageOut(0, g + f4(j), rem); stageOut(1, g + f4(H + j), rem); stageOut(2, g + f4(2 * H + j), rem);
          stageOut(7, hrow + f4(j), rem); stageOut(8, arow + f4(j), rem);
        }
      } else if (kind == GRU_RB) {
        const rh = fRh + f4(n * H);
        for (let j = 0; j < H4; j += 4) gruRbGates(g + f4(j), g + f4(H + j), q + f4(j), q + f4(H + j), hrow + f4(j), rh + f4(j));
        if (rem) {
          const j = H4;
          gruRbGates(stageIn(0, g + f4(j), rem), stageIn(1, g + f4(H + j), rem), stageIn(2, q + f4(j), rem),
            stageIn(3, q + f4(H + j), rem), stageIn(4, hrow + f4(j), rem), STAGE + 80);
          stageOut(0, g + f4(j), rem); stageOut(1, g + f4(H + j), rem); stageOut(5, rh + f4(j), rem);
        }
      } else {
        const relu = kind == RNN_RELU;
        for (let j = 0; j < H4; j += 4) rnnCell(relu, g + f4(j), hrow + f4(j));
        if (rem) {
          const j = H4;
          rnnCell(relu, stageIn(0, g + f4(j), rem), STAGE + 16);
          stageOut(0, g + f4(j), rem); stageOut(1, hrow + f4(j), rem);
        }
      }
    }

    if (kind == GRU_RB) {
      // n's hidden part sees r ⊙ h: one more GEMM, then the rest of the cell.
      gemmNT(N, H, H, fRh, H, whh + f4(2 * H * P), P, fHp + f4(2 * H), GH, false);
      for (let n = 0; n < N; n++) {
        if (!isActive(lengths, t, n)) continue;
        const g = Gt + f4(n * GH), q = fHp + f4(n * GH), rh = fRh + f4(n * H), hrow = fH + f4(n * P);
        const arow = aux + f4((t * N + n) * H);
        for (let j = 0; j < H4; j += 4) {
          gruRbOut(g + f4(H + j), g + f4(2 * H + j), q + f4(2 * H + j), rh + f4(j), hrow + f4(j), arow + f4(j));
        }
        if (rem) {
          const j = H4;
          gruRbOut(stageIn(0, g + f4(H + j), rem), stageIn(1, g + f4(2 * H + j), rem), stageIn(2, q + f4(2 * H + j), rem),
            stageIn(3, rh + f4(j), rem), stageIn(4, hrow + f4(j), rem), STAGE + 80);
          stageOut(1, g + f4(2 * H + j), rem); stageOut(4, hrow + f4(j), rem); stageOut(5, arow + f4(j), rem);
        }
      }
    }

    if (proj) gemmNT(N, P, H, fHraw, H, whr, H, fHproj, P, false);
    // Save the step: h (a frozen copy past a sequence's end), y (zeros there), c and the LSTM's h before projection.
    for (let n = 0; n < N; n++) {
      const on = isActive(lengths, t, n);
      const hrow = fH + f4(n * P);
      const r = t * N + n;
      if (proj && on) memory.copy(hrow, fHproj + f4(n * P), f4(P));
      memory.copy(hseq + f4(r * P), hrow, f4(P));
      if (on) memory.copy(y + f4(r * P), hrow, f4(P));
      else memory.fill(y + f4(r * P), 0, f4(P));
      if (kind == LSTM) {
        memory.copy(cseq + f4(r * H), fC + f4(n * H), f4(H));
        if (proj) {
          if (on) memory.copy(aux + f4(r * H), fHraw + f4(n * H), f4(H));
          else memory.fill(aux + f4(r * H), 0, f4(H));
        }
      }
    }
  }
  memory.copy(hn, fH, f4(N * P));
  if (kind == LSTM && cn != 0) memory.copy(cn, fC, f4(N * H));
}

// ------------------------------------------------------------------ backward

let bDXP: usize = 0, bDHP: usize = 0, bDHall: usize = 0, bDh: usize = 0, bDc: usize = 0, bDhraw: usize = 0;
let bDhh: usize = 0, bDrh: usize = 0, bDirect: usize = 0, bPWhh: usize = 0, bPWhn: usize = 0, bPWhr: usize = 0;
let bZero: usize = 0, bGemm: usize = 0;

function layoutBackward(base: usize, kind: i32, T: i32, N: i32, I: i32, H: i32, P: i32, proj: bool): usize {
  top = (base + 63) & ~63;
  const GH = gatesOf(kind) * H, TN = T * N;
  const gru = kind >= GRU;
  bDXP = take(TN * GH);
  bDHP = gru ? take(TN * GH) : bDXP;
  bDHall = proj ? take(TN * P) : 0;
  bDh = take(N * P);
  bDc = take(N * H);
  bDhraw = take(N * H);
  bDhh = take(N * P);
  bDrh = take(N * H);
  bDirect = take(N * P);
  bZero = take(H);
  STAGE = take(48);
  const rows = kind == GRU_RB ? 2 * H : GH;
  bPWhh = take(packedBSize(rows, P));
  bPWhn = kind == GRU_RB ? take(packedBSize(H, P)) : 0;
  bPWhr = proj ? take(packedBSize(P, H)) : 0;
  bGemm = top;
  let g = gemmPackedScratch();
  g = max(g, gemmScratch(GH, I));
  g = max(g, gemmScratch(TN, max(I, max(P, H))));
  top += <usize>g;
  return top - base;
}

/** Bytes of scratch `recurrentBackward` needs. */
export function recurrentBackwardScratch(kind: i32, T: i32, N: i32, I: i32, H: i32, P: i32, proj: bool): usize {
  return layoutBackward(0, kind, T, N, I, H, P, proj) + 64;
}

/** LSTM backward through one step's cell (see the ref for the derivation of each term). */
// @ts-ignore: decorator
@inline function lstmCellBack(gi: usize, gf: usize, gg: usize, go: usize, pc: usize, pcPrev: usize, pdhr: usize,
  pdc: usize, di: usize, df: usize, dg: usize, do_: usize): void {
  const i = v128.load(gi), f = v128.load(gf), g = v128.load(gg), o = v128.load(go);
  const one = splat(1);
  const tc = vtanh(v128.load(pc));
  const dhr = v128.load(pdhr);
  const dct = fma(f32x4.mul(dhr, o), fnma(tc, tc, one), v128.load(pdc)); // dc + dh·o·(1 − tanh²c)
  v128.store(di, f32x4.mul(f32x4.mul(dct, g), f32x4.mul(i, f32x4.sub(one, i))));
  v128.store(df, f32x4.mul(f32x4.mul(dct, v128.load(pcPrev)), f32x4.mul(f, f32x4.sub(one, f))));
  v128.store(dg, f32x4.mul(f32x4.mul(dct, i), fnma(g, g, one)));
  v128.store(do_, f32x4.mul(f32x4.mul(dhr, tc), f32x4.mul(o, f32x4.sub(one, o))));
  v128.store(pdc, f32x4.mul(dct, f));
}

/** GRU (reset-after) backward: pre-activation gradients for W_ih (dx*) and W_hh (dq*), and d h_{t−1} direct. */
// @ts-ignore: decorator
@inline function gruCellBack(gr: usize, gz: usize, gn: usize, pa: usize, pdh: usize, phv: usize,
  dxr: usize, dxz: usize, dxn: usize, dqr: usize, dqz: usize, dqn: usize, pdir: usize): void {
  const r = v128.load(gr), z = v128.load(gz), n = v128.load(gn);
  const d = v128.load(pdh), hv = v128.load(phv), one = splat(1);
  const dnPre = f32x4.mul(f32x4.mul(d, f32x4.sub(one, z)), fnma(n, n, one));
  const drPre = f32x4.mul(f32x4.mul(dnPre, v128.load(pa)), f32x4.mul(r, f32x4.sub(one, r)));
  const dzPre = f32x4.mul(f32x4.mul(d, f32x4.sub(hv, n)), f32x4.mul(z, f32x4.sub(one, z)));
  v128.store(dxr, drPre); v128.store(dxz, dzPre); v128.store(dxn, dnPre);
  v128.store(dqr, drPre); v128.store(dqz, dzPre); v128.store(dqn, f32x4.mul(dnPre, r));
  v128.store(pdir, f32x4.mul(d, z));
}

/** Reset-before GRU backward, first half (z and n; r needs d(r ⊙ h) from one more GEMM). */
// @ts-ignore: decorator
@inline function gruRbBack1(gz: usize, gn: usize, pdh: usize, phv: usize, dxz: usize, dxn: usize, dqz: usize, dqn: usize,
  pdir: usize): void {
  const z = v128.load(gz), n = v128.load(gn);
  const d = v128.load(pdh), hv = v128.load(phv), one = splat(1);
  const dnPre = f32x4.mul(f32x4.mul(d, f32x4.sub(one, z)), fnma(n, n, one));
  const dzPre = f32x4.mul(f32x4.mul(d, f32x4.sub(hv, n)), f32x4.mul(z, f32x4.sub(one, z)));
  v128.store(dxn, dnPre); v128.store(dqn, dnPre);
  v128.store(dxz, dzPre); v128.store(dqz, dzPre);
  v128.store(pdir, f32x4.mul(d, z));
}

/** Reset-before GRU backward, second half: dr from d(r ⊙ h); the direct term gains r ⊙ d(r ⊙ h). */
// @ts-ignore: decorator
@inline function gruRbBack2(gr: usize, pdrh: usize, phv: usize, dxr: usize, dqr: usize, pdir: usize): void {
  const r = v128.load(gr), drh = v128.load(pdrh), one = splat(1);
  const drPre = f32x4.mul(f32x4.mul(drh, v128.load(phv)), f32x4.mul(r, f32x4.sub(one, r)));
  v128.store(dxr, drPre); v128.store(dqr, drPre);
  v128.store(pdir, fma(drh, r, v128.load(pdir)));
}

// @ts-ignore: decorator
@inline function rnnCellBack(relu: bool, pg: usize, pdh: usize, dx: usize): void {
  const h = v128.load(pg), d = v128.load(pdh);
  const v = relu ? v128.and(d, f32x4.gt(h, splat(0))) : f32x4.mul(d, fnma(h, h, splat(1)));
  v128.store(dx, v);
}

/** out[j] += Σ_r m[r, j] over rows r of a [rows, cols] matrix. */
function addColumnSums(m: usize, rows: i32, cols: i32, out: usize): void {
  for (let r = 0; r < rows; r++) {
    const row = m + f4(r * cols);
    let j = 0;
    for (; j + 4 <= cols; j += 4) v128.store(out + f4(j), f32x4.add(v128.load(out + f4(j)), v128.load(row + f4(j))));
    for (; j < cols; j++) store<f32>(out + f4(j), load<f32>(out + f4(j)) + load<f32>(row + f4(j)));
  }
}

export function recurrentBackward(
  kind: i32, T: i32, N: i32, I: i32, H: i32, P: i32, reverse: bool, lengths: usize,
  x: usize, wih: usize, whh: usize, whr: usize, h0: usize, c0: usize,
  gates: usize, hseq: usize, cseq: usize, aux: usize, dy: usize, dhn: usize, dcn: usize,
  dx: usize, dh0: usize, dc0: usize, dwih: usize, dwhh: usize, dbih: usize, dbhh: usize, dwhr: usize, ws: usize,
): void {
  const G = gatesOf(kind);
  const GH = G * H, TN = T * N;
  const proj = kind == LSTM && whr != 0;
  const gru = kind >= GRU;
  layoutBackward(ws, kind, T, N, I, H, P, proj);
  const rows = kind == GRU_RB ? 2 * H : GH;

  packB(rows, P, whh, P, 1, bPWhh);
  if (kind == GRU_RB) packB(H, P, whh + f4(2 * H * P), P, 1, bPWhn);
  if (proj) packB(P, H, whr, H, 1, bPWhr);

  if (dhn != 0) memory.copy(bDh, dhn, f4(N * P)); else memory.fill(bDh, 0, f4(N * P));
  if (kind == LSTM) { if (dcn != 0) memory.copy(bDc, dcn, f4(N * H)); else memory.fill(bDc, 0, f4(N * H)); }
  if (proj) memory.fill(bDHall, 0, f4(TN * P));
  memory.fill(bZero, 0, f4(H));
  const H4 = H & ~3, rem = H - H4;

  for (let step = T - 1; step >= 0; step--) {
    const t = timeAt(reverse, T, step);
    const tp = prevTime(reverse, T, t);
    const Gt = gates + f4(t * N * GH);
    const Xt = bDXP + f4(t * N * GH), Qt = bDHP + f4(t * N * GH);
    if (dy != 0) {
      for (let n = 0; n < N; n++) {
        if (!isActive(lengths, t, n)) continue;
        const d = bDh + f4(n * P), s = dy + f4((t * N + n) * P);
        let j = 0;
        for (; j + 4 <= P; j += 4) v128.store(d + f4(j), f32x4.add(v128.load(d + f4(j)), v128.load(s + f4(j))));
        for (; j < P; j++) store<f32>(d + f4(j), load<f32>(d + f4(j)) + load<f32>(s + f4(j)));
      }
    }
    if (proj) {
      gemmPacked(N, H, P, bDh, P, 1, bPWhr, bDhraw, H, false, bGemm);
      for (let n = 0; n < N; n++) {
        if (isActive(lengths, t, n)) memory.copy(bDHall + f4((t * N + n) * P), bDh + f4(n * P), f4(P));
      }
    }
    for (let n = 0; n < N; n++) {
      const xr = Xt + f4(n * GH), qr = Qt + f4(n * GH);
      if (!isActive(lengths, t, n)) {
        // The state was frozen: its gradient passes through untouched, and this step contributes nothing.
        memory.fill(xr, 0, f4(GH));
        if (gru) memory.fill(qr, 0, f4(GH));
        continue;
      }
      const g = Gt + f4(n * GH);
      const dh = bDh + f4(n * P);
      const dir = bDirect + f4(n * P);
      if (kind == LSTM) {
        const c = cseq + f4((t * N + n) * H);
        const cp = tp < 0 ? (c0 != 0 ? c0 + f4(n * H) : bZero) : cseq + f4((tp * N + n) * H);
        const dhr = proj ? bDhraw + f4(n * H) : dh;
        const dc = bDc + f4(n * H);
        for (let j = 0; j < H4; j += 4) {
          lstmCellBack(g + f4(j), g + f4(H + j), g + f4(2 * H + j), g + f4(3 * H + j), c + f4(j), cp + f4(j),
            dhr + f4(j), dc + f4(j), xr + f4(j), xr + f4(H + j), xr + f4(2 * H + j), xr + f4(3 * H + j));
        }
        if (rem) {
          const j = H4;
          lstmCellBack(stageIn(0, g + f4(j), rem), stageIn(1, g + f4(H + j), rem), stageIn(2, g + f4(2 * H + j), rem),
            stageIn(3, g + f4(3 * H + j), rem), stageIn(4, c + f4(j), rem), stageIn(5, cp + f4(j), rem),
            stageIn(6, dhr + f4(j), rem), stageIn(7, dc + f4(j), rem), STAGE + 128, STAGE + 144, STAGE + 160, STAGE + 176);
          stageOut(7, dc + f4(j), rem); stageOut(8, xr + f4(j), rem); stageOut(9, xr + f4(H + j), rem);
          stageOut(10, xr + f4(2 * H + j), rem); stageOut(11, xr + f4(3 * H + j), rem);
        }
      } else if (kind == GRU) {
        const hv = tp < 0 ? h0 + f4(n * P) : hseq + f4((tp * N + n) * P);
        const a = aux + f4((t * N + n) * H);
        for (let j = 0; j < H4; j += 4) {
          gruCellBack(g + f4(j), g + f4(H + j), g + f4(2 * H + j), a + f4(j), dh + f4(j), hv + f4(j),
            xr + f4(j), xr + f4(H + j), xr + f4(2 * H + j), qr + f4(j), qr + f4(H + j), qr + f4(2 * H + j), dir + f4(j));
        }
        if (rem) {
          const j = H4;
          gruCellBack(stageIn(0, g + f4(j), rem), stageIn(1, g + f4(H + j), rem), stageIn(2, g + f4(2 * H + j), rem),
            stageIn(3, a + f4(j), rem), stageIn(4, dh + f4(j), rem), stageIn(5, hv + f4(j), rem),
            STAGE + 96, STAGE + 112, STAGE + 128, STAGE + 144, STAGE + 160, STAGE + 176, STAGE);
          stageOut(6, xr + f4(j), rem); stageOut(7, xr + f4(H + j), rem); stageOut(8, xr + f4(2 * H + j), rem);
          stageOut(9, qr + f4(j), rem); stageOut(10, qr + f4(H + j), rem); stageOut(11, qr + f4(2 * H + j), rem);
          stageOut(0, dir + f4(j), rem);
        }
      } else if (kind == GRU_RB) {
        const hv = tp < 0 ? h0 + f4(n * P) : hseq + f4((tp * N + n) * P);
        for (let j = 0; j < H4; j += 4) {
          gruRbBack1(g + f4(H + j), g + f4(2 * H + j), dh + f4(j), hv + f4(j),
            xr + f4(H + j), xr + f4(2 * H + j), qr + f4(H + j), qr + f4(2 * H + j), dir + f4(j));
        }
        if (rem) {
          const j = H4;
          gruRbBack1(stageIn(0, g + f4(H + j), rem), stageIn(1, g + f4(2 * H + j), rem), stageIn(2, dh + f4(j), rem),
            stageIn(3, hv + f4(j), rem), STAGE + 64, STAGE + 80, STAGE + 96, STAGE + 112, STAGE + 128);
          stageOut(4, xr + f4(H + j), rem); stageOut(5, xr + f4(2 * H + j), rem); stageOut(6, qr + f4(H + j), rem);
          stageOut(7, qr + f4(2 * H + j), rem); stageOut(8, dir + f4(j), rem);
        }
      } else {
        const relu = kind == RNN_RELU;
        for (let j = 0; j < H4; j += 4) rnnCellBack(relu, g + f4(j), dh + f4(j), xr + f4(j));
        if (rem) {
          const j = H4;
          rnnCellBack(relu, stageIn(0, g + f4(j), rem), stageIn(1, dh + f4(j), rem), STAGE + 32);
          stageOut(2, xr + f4(j), rem);
        }
      }
    }
    if (kind == GRU_RB) {
      // d(r ⊙ h) = dn_pre · W_hn, then r's gradient and r ⊙ d(r ⊙ h) into the direct term.
      gemmPacked(N, H, H, Qt + f4(2 * H), GH, 1, bPWhn, bDrh, H, false, bGemm);
      for (let n = 0; n < N; n++) {
        if (!isActive(lengths, t, n)) continue;
        const g = Gt + f4(n * GH), xr = Xt + f4(n * GH), qr = Qt + f4(n * GH);
        const hv = tp < 0 ? h0 + f4(n * P) : hseq + f4((tp * N + n) * P);
        const drh = bDrh + f4(n * H), dir = bDirect + f4(n * P);
        for (let j = 0; j < H4; j += 4) gruRbBack2(g + f4(j), drh + f4(j), hv + f4(j), xr + f4(j), qr + f4(j), dir + f4(j));
        if (rem) {
          const j = H4;
          gruRbBack2(stageIn(0, g + f4(j), rem), stageIn(1, drh + f4(j), rem), stageIn(2, hv + f4(j), rem),
            STAGE + 48, STAGE + 64, stageIn(5, dir + f4(j), rem));
          stageOut(3, xr + f4(j), rem); stageOut(4, qr + f4(j), rem); stageOut(5, dir + f4(j), rem);
        }
      }
    }
    // dh_{t−1} = (direct term) + dHP · W_hh for active rows; frozen rows keep dh.
    gemmPacked(N, P, rows, Qt, GH, 1, bPWhh, bDhh, P, false, bGemm);
    for (let n = 0; n < N; n++) {
      if (!isActive(lengths, t, n)) continue;
      const dh = bDh + f4(n * P), hh = bDhh + f4(n * P), dir = bDirect + f4(n * P);
      if (gru) {
        let j = 0;
        for (; j + 4 <= P; j += 4) v128.store(dh + f4(j), f32x4.add(v128.load(dir + f4(j)), v128.load(hh + f4(j))));
        for (; j < P; j++) store<f32>(dh + f4(j), load<f32>(dir + f4(j)) + load<f32>(hh + f4(j)));
      } else {
        memory.copy(dh, hh, f4(P));
      }
    }
  }

  // Whole-sequence gradients.
  gemm(TN, I, GH, bDXP, GH, 1, wih, I, 1, dx, I, false, bGemm);
  gemm(GH, I, TN, bDXP, 1, GH, x, I, 1, dwih, I, true, bGemm);
  // dW_hh += Σ_t dHP[t]ᵀ · h_{t−1}: h_{t−1} is the saved h one step earlier (h0 at the first step).
  if (T > 0) {
    const first = reverse ? T - 1 : 0;
    const dFirst = bDHP + f4(first * N * GH);
    gemm(rows, P, N, dFirst, 1, GH, h0, P, 1, dwhh, P, true, bGemm);
    if (T > 1) {
      const dRest = reverse ? bDHP : bDHP + f4(N * GH);
      const hRest = reverse ? hseq + f4(N * P) : hseq;
      gemm(rows, P, (T - 1) * N, dRest, 1, GH, hRest, P, 1, dwhh, P, true, bGemm);
    }
  }
  if (kind == GRU_RB) gemm(H, H, TN, bDHP + f4(2 * H), 1, GH, aux, H, 1, dwhh + f4(2 * H * P), P, true, bGemm);
  if (dbih != 0) addColumnSums(bDXP, TN, GH, dbih);
  if (dbhh != 0) addColumnSums(bDHP, TN, GH, dbhh);
  if (proj && dwhr != 0) gemm(P, H, TN, bDHall, 1, P, aux, H, 1, dwhr, H, true, bGemm);
  memory.copy(dh0, bDh, f4(N * P));
  if (kind == LSTM && dc0 != 0) memory.copy(dc0, bDc, f4(N * H));
}
