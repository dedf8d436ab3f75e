/**
 * Fused streaming steps (src/kernels/step.ts): one call per block and token for b streams. The cost of a
 * streaming step is reading the weights once, so each block is its matrix-vector products (gemmNT, split
 * across the worker pool when large enough, parallel.ts) with the elementwise work between them done in
 * registers, instead of one kernel call and one JavaScript tensor per operation. Scratch: `ws`, sized by
 * the `*StepScratch` functions.
 */
import { attentionDecode, attentionDecodeScratch, convStep, gateSilu, gemmNT, mambaDt, matmulStrided, mamba2StepHeads, rwkv6StepHeads, rwkv7StepHeads, selectiveScanForward } from './parallel';
import { vsoftplus } from './step-state';
import { tokenMixF32 } from './elementwise';
import { layerNormForwardRows, rmsNormForwardRows } from './rows';
import { vexp, vsigmoid, vtanh, sexp, ssigmoid } from './math';
import { splat } from './vec';
import { vgelu } from './pointwise'; // the same GELU as the forward's, so a step matches it

// @ts-ignore: decorator
@inline function f4(i: i32): usize { return <usize>i << 2; }
// @ts-ignore: decorator
@inline function ldf(p: usize, i: i32): f32 { return load<f32>(p + f4(i)); }
// @ts-ignore: decorator
@inline function stf(p: usize, i: i32, v: f32): void { store<f32>(p + f4(i), v); }

/** A bump allocator over the scratch block, 16-byte aligned. */
let wsTop: usize = 0;
function take(n: i32): usize {
  const p = wsTop;
  wsTop += (f4(n) + 15) & ~15;
  return p;
}

/** y[b, out] = x[b, in] · Wᵀ (+ bias), W [out, in] (a Linear). */
function linear(b: i32, inF: i32, outF: i32, x: usize, W: usize, bias: usize, y: usize): void {
  gemmNT(b, outF, inF, x, inF, W, inF, y, outF, false);
  if (bias == 0) return;
  for (let i = 0; i < b; i++) {
    const yr = y + f4(i * outF);
    let j = 0;
    for (; j + 4 <= outF; j += 4) v128.store(yr + f4(j), f32x4.add(v128.load(yr + f4(j)), v128.load(bias + f4(j))));
    for (; j < outF; j++) stf(yr, j, ldf(yr, j) + ldf(bias, j));
  }
}

/** y[b, out] = x[b, in] · W, W stored [in, out] (RWKV's LoRA factors; step-state.ts's matmulCols, split by columns over the pool). */
function matmul(b: i32, inF: i32, outF: i32, x: usize, W: usize, y: usize): void {
  matmulStrided(b, inF, outF, x, inF, W, y);
}


// Elementwise maps in place over n values: the vector body and a scalar tail with the same algorithm.
const OP_TANH = 0, OP_SIGMOID = 1, OP_SILU = 2, OP_SOFTPLUS = 3;


// @ts-ignore: decorator
@inline function vmap(op: i32, v: v128): v128 {
  if (op == OP_TANH) return vtanh(v);
  if (op == OP_SIGMOID) return vsigmoid(v);
  if (op == OP_SILU) return f32x4.mul(v, vsigmoid(v));
  return vsoftplus(v);
}

function mapInPlace(op: i32, p: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(p + f4(i), vmap(op, v128.load(p + f4(i))));
  for (; i < n; i++) stf(p, i, f32x4.extract_lane(vmap(op, splat(ldf(p, i))), 0));
}

// ---------------------------------------------------------------- Mamba-1

export function mambaStepScratch(b: i32, d: i32, di: i32, n: i32, r: i32): usize {
  return f4(b * (2 * d + 5 * di + r + 4 * n + 2)) + 16 * 14;
}

/** Refresh A = −exp(A_log) where A_log's bits differ from the ones last seen. */
function refreshNegExp(src: usize, seen: usize, A: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const s = v128.load(src + f4(i));
    if (!i32x4.all_true(i32x4.eq(s, v128.load(seen + f4(i))))) {
      v128.store(seen + f4(i), s);
      v128.store(A + f4(i), f32x4.neg(vexp(s)));
    }
  }
  for (; i < n; i++) {
    const s = load<i32>(src + f4(i));
    if (s != load<i32>(seen + f4(i))) {
      store<i32>(seen + f4(i), s);
      stf(A, i, -sexp(ldf(src, i)));
    }
  }
}

export function mambaStep(b: i32, d: i32, di: i32, n: i32, r: i32, k: i32, eps: f32, x: usize,
  norm: usize, inProj: usize, inProjB: usize, convW: usize, convB: usize, xProj: usize, dtProj: usize, dtB: usize,
  ALog: usize, Aseen: usize, A: usize, D: usize, outProj: usize, outProjB: usize, conv: usize, ssm: usize, ws: usize): void {
  refreshNegExp(ALog, Aseen, A, di * n);
  wsTop = (ws + 15) & ~15;
  const u = take(b * d), xz = take(b * 2 * di), xs = take(b * di), xdbl = take(b * (r + 2 * n)), dt = take(b * di);
  const y = take(b * di), out = take(b * d), rstd = take(b), Bs = take(b * n), Cs = take(b * n);
  const e = r + 2 * n;

  rmsNormForwardRows(x, norm, u, rstd, b, d, eps);           // u = RMSNorm(x) ⊙ w
  linear(b, d, 2 * di, u, inProj, inProjB, xz);               // [x, z] = in_proj u
  convStep(b, di, k, conv, convW, convB, xz, 2 * di, xs);      // x = SiLU(conv1d(x)), the window moved by one (step-state.ts)
  linear(b, di, e, xs, xProj, 0, xdbl);                       // [δ, B, C] = x_proj x
  mambaDt(b, di, r, xdbl, e, dtProj, dtB, dt);                // Δ = softplus(dt_proj δ + bias) (step-state.ts)

  // h ← exp(Δ A) h + (Δ x) B;  y = C·h + D x  (scan.ts on one token, h in place, split over (stream, channel)
  // blocks across the pool when large enough);  y ⊙ SiLU(z). B and C of every stream gathered into [b, n] rows.
  for (let bi = 0; bi < b; bi++) {
    memory.copy(Bs + f4(bi * n), xdbl + f4(bi * e + r), f4(n));
    memory.copy(Cs + f4(bi * n), xdbl + f4(bi * e + r + n), f4(n));
  }
  selectiveScanForward(b, 1, di, n, xs, dt, A, Bs, Cs, D, ssm, y, ssm, 0);
  gateSilu(b, di, y, xz + f4(di), 2 * di);                   // y ⊙ SiLU(z) (step-state.ts)
  linear(b, di, d, y, outProj, outProjB, out);                // x ← x + out_proj y
  addInto(x, out, b * d);
}

function addInto(x: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(x + f4(i), f32x4.add(v128.load(x + f4(i)), v128.load(y + f4(i))));
  for (; i < n; i++) stf(x, i, ldf(x, i) + ldf(y, i));
}

// ---------------------------------------------------------------- RWKV-7

export function rwkv7StepScratch(b: i32, d: i32, f: i32, lora: i32): usize {
  return f4(b * (20 * d + f + lora + 4)) + 16 * 32;
}


/** o = σ(bias + o) with bias broadcast over the b rows. */
function sigmoidBias(b: i32, d: i32, bias: usize, o: usize): void {
  for (let bi = 0; bi < b; bi++) {
    const row = o + f4(bi * d);
    let j = 0;
    for (; j + 4 <= d; j += 4) v128.store(row + f4(j), vsigmoid(f32x4.add(v128.load(bias + f4(j)), v128.load(row + f4(j)))));
    for (; j < d; j++) stf(row, j, ssigmoid(ldf(bias, j) + ldf(row, j)));
  }
}

/** RWKV's token shift on a normalised input: xa = LayerNorm(x); xx = x_{t−1} − xa; the carried x_{t−1} ← xa. */
function shiftNorm(b: i32, d: i32, x: usize, lnw: usize, lnb: usize, prev: usize, xa: usize, xx: usize, mean: usize, rstd: usize): void {
  layerNormForwardRows(x, lnw, lnb, xa, mean, rstd, b, d, 1e-5);
  const n = b * d;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const a = v128.load(xa + f4(i));
    v128.store(xx + f4(i), f32x4.sub(v128.load(prev + f4(i)), a));
    v128.store(prev + f4(i), a);
  }
  for (; i < n; i++) {
    const a = ldf(xa, i);
    stf(xx, i, ldf(prev, i) - a);
    stf(prev, i, a);
  }
}

/**
 * relu(x)² in place (RWKV's channel-mix key). pmax(x, 0) is x < 0 ? 0 : x (one instruction; wasm's max is
 * several): it differs from max(x, 0) only at x = −0, whose square is +0 either way, and keeps NaN.
 */
function reluSquared(p: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) { const t = f32x4.pmax(v128.load(p + f4(i)), splat(0)); v128.store(p + f4(i), f32x4.mul(t, t)); }
  for (; i < n; i++) { const t = max<f32>(ldf(p, i), 0); stf(p, i, t * t); }
}

/** x += a ⊙ c over n values (a product, then a sum: as the scalar expression). */
function addProduct(x: usize, a: usize, c: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(x + f4(i), f32x4.add(v128.load(x + f4(i)), f32x4.mul(v128.load(a + f4(i)), v128.load(c + f4(i)))));
  for (; i < n; i++) stf(x, i, ldf(x, i) + ldf(a, i) * ldf(c, i));
}

const NEG_EXP_MINUS_HALF: f32 = -0.6065306597126334;


export function rwkv7Step(b: i32, d: i32, nh: i32, hs: i32, f: i32, dw: i32, da: i32, dv: i32, dg: i32, first: bool,
  x: usize, vFirst: usize, attPrev: usize, wkv: usize, ffnPrev: usize,
  ln0w: usize, ln0b: usize, ln1w: usize, ln1b: usize, ln2w: usize, ln2b: usize,
  xr_: usize, xw_: usize, xk_: usize, xv_: usize, xa_: usize, xg_: usize,
  w0: usize, w1: usize, w2: usize, a0: usize, a1: usize, a2: usize, v0: usize, v1: usize, v2: usize, g1: usize, g2: usize,
  kK: usize, kA: usize, rK: usize, Wr: usize, Wk: usize, Wv: usize, Wo: usize, lnxw: usize, lnxb: usize,
  fXk: usize, fKey: usize, fValue: usize, ws: usize): void {
  wsTop = (ws + 15) & ~15;
  const n = b * d;
  const xa = take(n), xx = take(n), mr = take(n), mw = take(n), mk = take(n), mv = take(n), ma = take(n), mg = take(n);
  const r = take(n), kv = take(n), v = take(n), dec = take(n), aa = take(n), g = take(n), tmp = take(n);
  const nk = take(n), bk = take(n), y = take(n);
  const hk = take(b * f), hid = take(b * max(max(dw, da), max(dv, dg))), mean = take(b * nh), rstd = take(b * nh);

  if (ln0w != 0) layerNormForwardRows(x, ln0w, ln0b, x, mean, rstd, b, d, 1e-5);
  shiftNorm(b, d, x, ln1w, ln1b, attPrev, xa, xx, mean, rstd);  // xx = x_{t−1} − x_t on ln1(x)
  tokenMixF32(xa, xx, xr_, 0, mr, b, d); tokenMixF32(xa, xx, xw_, 0, mw, b, d); tokenMixF32(xa, xx, xk_, 0, mk, b, d);
  tokenMixF32(xa, xx, xv_, 0, mv, b, d); tokenMixF32(xa, xx, xa_, 0, ma, b, d); tokenMixF32(xa, xx, xg_, 0, mg, b, d);

  linear(b, d, d, mr, Wr, 0, r);
  linear(b, d, d, mk, Wk, 0, kv);
  linear(b, d, d, mv, Wv, 0, v);
  // decay = exp(−e^{−0.5} σ(w0 + tanh(xw w1) w2))
  matmul(b, d, dw, mw, w1, hid); mapInPlace(OP_TANH, hid, b * dw); matmul(b, dw, d, hid, w2, dec);
  sigmoidBias(b, d, w0, dec);
  let q = 0;
  for (; q + 4 <= n; q += 4) v128.store(dec + f4(q), vexp(f32x4.mul(v128.load(dec + f4(q)), splat(NEG_EXP_MINUS_HALF))));
  for (; q < n; q++) stf(dec, q, sexp(ldf(dec, q) * NEG_EXP_MINUS_HALF));
  if (first) memory.copy(vFirst, v, f4(n));
  else {
    // v ← v + (v_first − v) ⊙ σ(v0 + (xv v1) v2)
    matmul(b, d, dv, mv, v1, hid); matmul(b, dv, d, hid, v2, tmp); sigmoidBias(b, d, v0, tmp);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const vi = v128.load(v + f4(i));
      v128.store(v + f4(i), f32x4.add(vi, f32x4.mul(f32x4.sub(v128.load(vFirst + f4(i)), vi), v128.load(tmp + f4(i)))));
    }
    for (; i < n; i++) { const vi = ldf(v, i); stf(v, i, vi + (ldf(vFirst, i) - vi) * ldf(tmp, i)); }
  }
  matmul(b, d, da, ma, a1, hid); matmul(b, da, d, hid, a2, aa); sigmoidBias(b, d, a0, aa);     // a
  matmul(b, d, dg, mg, g1, hid); mapInPlace(OP_SIGMOID, hid, b * dg); matmul(b, dg, d, hid, g2, g); // g

  // k̂, the WKV update, ln_x, the bonus and the gate per (stream, head) (step-state.ts), split over the pool when large enough
  rwkv7StepHeads(b, nh, hs, kK, kA, rK, aa, r, kv, v, dec, nk, bk, wkv, y, lnxw, lnxb, g, tmp, mean, rstd);
  linear(b, d, d, tmp, Wo, 0, y);
  addInto(x, y, n);

  // channel mix: x ← x + W_v relu(W_k (xf + (x_{t−1} − xf) ⊙ x_k))²
  shiftNorm(b, d, x, ln2w, ln2b, ffnPrev, xa, xx, mean, rstd);
  tokenMixF32(xa, xx, fXk, 0, mk, b, d);
  linear(b, d, f, mk, fKey, 0, hk);
  reluSquared(hk, b * f);
  linear(b, f, d, hk, fValue, 0, y);
  addInto(x, y, n);
}

// ---------------------------------------------------------------- Mamba-2

export function mamba2StepScratch(b: i32, d: i32, nh: i32, hs: i32, g: i32, n: i32): usize {
  const di = nh * hs, cd = di + 2 * g * n;
  return f4(b * (2 * d + di + cd + nh + cd + nh + di + g + 1)) + 16 * 12;
}

export function mamba2Step(b: i32, d: i32, nh: i32, hs: i32, g: i32, n: i32, k: i32, eps: f32, normEps: f32, dPerChannel: bool,
  x: usize, norm: usize, inProj: usize, inProjB: usize, convW: usize, convB: usize, dtBias: usize, ALog: usize, Aseen: usize, A: usize,
  D: usize, gnorm: usize, outProj: usize, outProjB: usize, conv: usize, ssm: usize, ws: usize): void {
  refreshNegExp(ALog, Aseen, A, nh);
  const di = nh * hs, cd = di + 2 * g * n, rows = di + cd + nh, gs = di / g;
  wsTop = (ws + 15) & ~15;
  const u = take(b * d), zx = take(b * rows), xBC = take(b * cd), y = take(b * di), out = take(b * d), rstd = take(b * g + 1);

  rmsNormForwardRows(x, norm, u, rstd, b, d, eps);            // u = RMSNorm(x) ⊙ w
  linear(b, d, rows, u, inProj, inProjB, zx);                 // [z, xBC, dt] = in_proj u
  convStep(b, cd, k, conv, convW, convB, zx + f4(di), rows, xBC);
  // the SSD update per (stream, head) (step-state.ts), split over the pool when large enough
  mamba2StepHeads(b, nh, hs, g, n, rows, dPerChannel, zx, xBC, dtBias, A, D, ssm, y);
  gateSilu(b, di, y, zx, rows);                               // y ⊙ SiLU(z) (step-state.ts)
  for (let bi = 0; bi < b; bi++) {
    // RMSNorm(y ⊙ SiLU(z)) ⊙ w per group of di/g channels
    const yr = y + f4(bi * di);
    for (let gi = 0; gi < g; gi++) rmsNormForwardRows(yr + f4(gi * gs), gnorm + f4(gi * gs), yr + f4(gi * gs), rstd + f4(gi), 1, gs, normEps);
  }
  linear(b, di, d, y, outProj, outProjB, out);                // x ← x + out_proj y
  addInto(x, out, b * d);
}

// ---------------------------------------------------------------- RWKV-6

export function rwkv6StepScratch(b: i32, d: i32, f: i32, dm: i32, dw: i32): usize {
  return f4(b * (18 * d + f + 5 * dm + dw + 2 * d / 1 + 4)) + 16 * 32;
}

export function rwkv6Step(b: i32, d: i32, nh: i32, hs: i32, f: i32, dm: i32, dw: i32,
  x: usize, attPrev: usize, wkv: usize, ffnPrev: usize,
  ln0w: usize, ln0b: usize, ln1w: usize, ln1b: usize, ln2w: usize, ln2b: usize,
  maaX: usize, maaW: usize, maaK: usize, maaV: usize, maaR: usize, maaG: usize, maaW1: usize, maaW2: usize,
  tDecay: usize, decW1: usize, decW2: usize, u: usize, Wr: usize, Wk: usize, Wv: usize, Wg: usize, Wo: usize, lnxw: usize, lnxb: usize,
  fMaaK: usize, fMaaR: usize, fKey: usize, fRec: usize, fValue: usize, ws: usize): void {
  wsTop = (ws + 15) & ~15;
  const n = b * d;
  const xa = take(n), xx = take(n), xxx = take(n), off = take(n), mw = take(n), mk = take(n), mv = take(n), mr = take(n), mg = take(n);
  const r = take(n), kv = take(n), v = take(n), g = take(n), dec = take(n), y = take(n), tmp = take(n);
  const m5 = take(b * 5 * dm), hid = take(b * dw), hk = take(b * f), mean = take(b * nh + b), rstd = take(b * nh + b);

  if (ln0w != 0) layerNormForwardRows(x, ln0w, ln0b, x, mean, rstd, b, d, 1e-5);
  shiftNorm(b, d, x, ln1w, ln1b, attPrev, xa, xx, mean, rstd);  // xx = x_{t−1} − x_t on ln1(x)
  // ddlerp: m = tanh((xa + xx ⊙ maa_x) W1), five low-rank offsets m_q W2_q, x_q = xa + xx ⊙ (maa_q + offset_q)
  tokenMixF32(xa, xx, maaX, 0, xxx, b, d);
  matmul(b, d, 5 * dm, xxx, maaW1, m5);
  mapInPlace(OP_TANH, m5, b * 5 * dm);
  // (no arrays here: the stub runtime would allocate them over the heap JavaScript manages)
  for (let q = 0; q < 5; q++) {
    matmulStrided(b, dm, d, m5 + f4(q * dm), 5 * dm, maaW2 + f4(q * dm * d), off);
    const maa = q == 0 ? maaW : q == 1 ? maaK : q == 2 ? maaV : q == 3 ? maaR : maaG;
    const o = q == 0 ? mw : q == 1 ? mk : q == 2 ? mv : q == 3 ? mr : mg;
    tokenMixF32(xa, xx, maa, off, o, b, d);
  }
  linear(b, d, d, mr, Wr, 0, r);
  linear(b, d, d, mk, Wk, 0, kv);
  linear(b, d, d, mv, Wv, 0, v);
  linear(b, d, d, mg, Wg, 0, g);
  mapInPlace(OP_SILU, g, n);
  // decay = exp(−exp(time_decay + tanh(xw w1) w2))
  matmul(b, d, dw, mw, decW1, hid); mapInPlace(OP_TANH, hid, b * dw); matmul(b, dw, d, hid, decW2, dec);
  for (let bi = 0; bi < b; bi++) {
    const row = dec + f4(bi * d);
    let j = 0;
    for (; j + 4 <= d; j += 4) v128.store(row + f4(j), vexp(f32x4.neg(vexp(f32x4.add(v128.load(tDecay + f4(j)), v128.load(row + f4(j)))))));
    for (; j < d; j++) stf(row, j, sexp(-sexp(ldf(tDecay, j) + ldf(row, j))));
  }
  // WKV, ln_x and the gate per (stream, head) (step-state.ts), split over the pool when large enough
  rwkv6StepHeads(b, nh, hs, r, kv, v, dec, u, wkv, y, lnxw, lnxb, g, tmp, mean, rstd);
  linear(b, d, d, tmp, Wo, 0, y);
  addInto(x, y, n);

  // channel mix: x ← x + σ(W_r x_r) ⊙ W_v relu(W_k x_k)²
  shiftNorm(b, d, x, ln2w, ln2b, ffnPrev, xa, xx, mean, rstd);
  tokenMixF32(xa, xx, fMaaK, 0, mk, b, d);
  tokenMixF32(xa, xx, fMaaR, 0, mr, b, d);
  linear(b, d, f, mk, fKey, 0, hk);
  reluSquared(hk, b * f);
  linear(b, f, d, hk, fValue, 0, y);
  linear(b, d, d, mr, fRec, 0, tmp);
  mapInPlace(OP_SIGMOID, tmp, n);
  addProduct(x, tmp, y, n);
}

// ---------------------------------------------------------------- GPT

export function gptStepScratch(b: i32, C: i32, H: i32, T: i32): usize {
  return f4(b * 9 * C) + attentionDecodeScratch(H, T) + 16 * 8;
}

/** cap: rows per stream in k and v (stream i's rows start at row i·cap), ≥ p + 1; the cache is used where it lies. */
export function gptStep(b: i32, C: i32, H: i32, p: i32, cap: i32, eps: f32, x: usize,
  ln1w: usize, ln1b: usize, cAttn: usize, cAttnB: usize, projW: usize, projB: usize,
  ln2w: usize, ln2b: usize, fcW: usize, fcB: usize, mProjW: usize, mProjB: usize, k: usize, v: usize, ws: usize): void {
  const T = p + 1, D = C / H;
  wsTop = (ws + 15) & ~15;
  const h = take(b * C), qkv = take(b * 3 * C), y = take(b * C), f = take(b * 4 * C);
  const att = take(<i32>(attentionDecodeScratch(H, T) >> 2));
  const mean = f, rstd = f + f4(b);

  layerNormForwardRows(x, ln1w, ln1b, h, mean, rstd, b, C, eps);
  linear(b, C, 3 * C, h, cAttn, cAttnB, qkv);                  // [q | k | v] = c_attn(ln_1(x))
  for (let i = 0; i < b; i++) {                                // append k and v at position p
    const row = qkv + f4(i * 3 * C), at = f4((i * cap + p) * C);
    memory.copy(k + at, row + f4(C), f4(C));
    memory.copy(v + at, row + f4(2 * C), f4(C));
  }
  attentionDecode(b, H, T, D, <f32>(1 / Math.sqrt(<f64>D)), qkv, 3 * C, k, v, cap, y, att);
  linear(b, C, C, y, projW, projB, h);
  addInto(x, h, b * C);                                        // (1) x = x + attn(ln_1(x))
  layerNormForwardRows(x, ln2w, ln2b, h, mean, rstd, b, C, eps);
  linear(b, C, 4 * C, h, fcW, fcB, f);
  let i = 0;
  for (; i + 4 <= b * 4 * C; i += 4) v128.store(f + f4(i), vgelu(v128.load(f + f4(i))));
  for (; i < b * 4 * C; i++) stf(f, i, f32x4.extract_lane(vgelu(splat(ldf(f, i))), 0));
  linear(b, 4 * C, C, f, mProjW, mProjB, h);
  addInto(x, h, b * C);                                        // (2) x = x + mlp(ln_2(x))
}
