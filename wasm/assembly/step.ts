/**
 * Fused streaming steps (src/kernels/step.ts): one call per block and token for b streams. The cost of a
 * streaming step is reading the weights once, so each block is its matrix-vector products (gemmNT, split
 * across the worker pool when large enough, parallel.ts) with the elementwise work between them done in
 * registers, instead of one kernel call and one JavaScript tensor per operation. Scratch: `ws`, sized by
 * the `*StepScratch` functions.
 */
import { attentionForward, attentionScratch } from './attention';
import { gemmNT, selectiveScanForward } from './parallel';
import { layerNormForwardRows, rmsNormForwardRows } from './rows';
import { vexp, vsigmoid, vtanh, sexp, ssigmoid } from './math';
import { fma, hsum, splat } from './vec';
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

/** y[b, out] = x[b, in] · W, W stored [in, out] (RWKV's LoRA factors): rows of W scaled and summed. */
function matmul(b: i32, inF: i32, outF: i32, x: usize, W: usize, y: usize): void {
  matmulStrided(b, inF, outF, x, inF, W, y);
}

/**
 * `matmul` with rows of x `ldx` values apart. Sixteen output columns are summed in registers over the whole
 * of x's row (not read and written back per input), for two rows of x at once so that each load of W
 * serves both; the same operations in the same order as one column of one row at a time, so a value does
 * not depend on the block or batch it is computed in.
 */
function matmulStrided(b: i32, inF: i32, outF: i32, x: usize, ldx: i32, W: usize, y: usize): void {
  const o4 = outF & ~3;
  let bi = 0;
  for (; bi + 2 <= b; bi += 2) {
    const y0 = y + f4(bi * outF), y1 = y0 + f4(outF), x0 = x + f4(bi * ldx), x1 = x0 + f4(ldx);
    let j = 0;
    for (; j + 16 <= o4; j += 16) {
      let s0 = splat(0), s1 = splat(0), s2 = splat(0), s3 = splat(0);
      let t0 = splat(0), t1 = splat(0), t2 = splat(0), t3 = splat(0);
      for (let i = 0; i < inF; i++) {
        const u = splat(ldf(x0, i)), v = splat(ldf(x1, i)), Wr = W + f4(i * outF + j);
        let w = v128.load(Wr); s0 = fma(u, w, s0); t0 = fma(v, w, t0);
        w = v128.load(Wr, 16); s1 = fma(u, w, s1); t1 = fma(v, w, t1);
        w = v128.load(Wr, 32); s2 = fma(u, w, s2); t2 = fma(v, w, t2);
        w = v128.load(Wr, 48); s3 = fma(u, w, s3); t3 = fma(v, w, t3);
      }
      const c = y0 + f4(j), e = y1 + f4(j);
      v128.store(c, s0); v128.store(c, s1, 16); v128.store(c, s2, 32); v128.store(c, s3, 48);
      v128.store(e, t0); v128.store(e, t1, 16); v128.store(e, t2, 32); v128.store(e, t3, 48);
    }
    for (; j < o4; j += 4) {
      let s0 = splat(0), t0 = splat(0);
      for (let i = 0; i < inF; i++) {
        const w = v128.load(W + f4(i * outF + j));
        s0 = fma(splat(ldf(x0, i)), w, s0); t0 = fma(splat(ldf(x1, i)), w, t0);
      }
      v128.store(y0 + f4(j), s0); v128.store(y1 + f4(j), t0);
    }
    for (; j < outF; j++) {
      let s: f32 = 0, t: f32 = 0;
      for (let i = 0; i < inF; i++) { const w = ldf(W, i * outF + j); s = s + ldf(x0, i) * w; t = t + ldf(x1, i) * w; }
      stf(y0, j, s); stf(y1, j, t);
    }
  }
  for (; bi < b; bi++) {
    const yr = y + f4(bi * outF), xr = x + f4(bi * ldx);
    let j = 0;
    for (; j + 16 <= o4; j += 16) {
      let s0 = splat(0), s1 = splat(0), s2 = splat(0), s3 = splat(0);
      for (let i = 0; i < inF; i++) {
        const xv = splat(ldf(xr, i)), Wr = W + f4(i * outF + j);
        s0 = fma(xv, v128.load(Wr), s0); s1 = fma(xv, v128.load(Wr, 16), s1);
        s2 = fma(xv, v128.load(Wr, 32), s2); s3 = fma(xv, v128.load(Wr, 48), s3);
      }
      const c = yr + f4(j);
      v128.store(c, s0); v128.store(c, s1, 16); v128.store(c, s2, 32); v128.store(c, s3, 48);
    }
    for (; j < o4; j += 4) {
      let s0 = splat(0);
      for (let i = 0; i < inF; i++) s0 = fma(splat(ldf(xr, i)), v128.load(W + f4(i * outF + j)), s0);
      v128.store(yr + f4(j), s0);
    }
    for (; j < outF; j++) {
      let s: f32 = 0;
      for (let i = 0; i < inF; i++) s = s + ldf(xr, i) * ldf(W, i * outF + j);
      stf(yr, j, s);
    }
  }
}

// Elementwise maps in place over n values: the vector body and a scalar tail with the same algorithm.
const OP_TANH = 0, OP_SIGMOID = 1, OP_SILU = 2, OP_SOFTPLUS = 3;

/** log(1 + e^x) for x ≤ 20 (x above, as PyTorch): max(x, 0) + log1p(e^−|x|), log by atanh's series. */
// @ts-ignore: decorator
@inline function vsoftplus(x: v128): v128 {
  const e = vexp(f32x4.neg(f32x4.abs(x)));          // (0, 1]
  const s = f32x4.div(e, f32x4.add(e, splat(2)));  // (y − 1)/(y + 1) for y = 1 + e, in (0, 1/3]
  const s2 = f32x4.mul(s, s);
  let p = splat(<f32>(2.0 / 13.0));
  p = fma(p, s2, splat(<f32>(2.0 / 11.0)));
  p = fma(p, s2, splat(<f32>(2.0 / 9.0)));
  p = fma(p, s2, splat(<f32>(2.0 / 7.0)));
  p = fma(p, s2, splat(<f32>(2.0 / 5.0)));
  p = fma(p, s2, splat(<f32>(2.0 / 3.0)));
  p = fma(p, s2, splat(2));
  const y = f32x4.add(f32x4.max(x, splat(0)), f32x4.mul(p, s));
  return v128.bitselect(x, y, f32x4.gt(x, splat(20)));
}

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
  convStepSilu(b, di, k, conv, convW, convB, xz, 2 * di, xs);  // x = SiLU(conv1d(x)), the window moved by one
  linear(b, di, e, xs, xProj, 0, xdbl);                       // [δ, B, C] = x_proj x
  gemmNT(b, di, r, xdbl, e, dtProj, r, dt, di, false);        // Δ = softplus(dt_proj δ + bias)
  for (let bi = 0; bi < b; bi++) {
    const row = dt + f4(bi * di);
    let j = 0;
    for (; j + 4 <= di; j += 4) v128.store(row + f4(j), f32x4.add(v128.load(row + f4(j)), v128.load(dtB + f4(j))));
    for (; j < di; j++) stf(row, j, ldf(row, j) + ldf(dtB, j));
  }
  mapInPlace(OP_SOFTPLUS, dt, b * di);

  // h ← exp(Δ A) h + (Δ x) B;  y = C·h + D x  (scan.ts on one token, h in place, split over (stream, channel)
  // blocks across the pool when large enough);  y ⊙ SiLU(z). B and C of every stream gathered into [b, n] rows.
  for (let bi = 0; bi < b; bi++) {
    memory.copy(Bs + f4(bi * n), xdbl + f4(bi * e + r), f4(n));
    memory.copy(Cs + f4(bi * n), xdbl + f4(bi * e + r + n), f4(n));
  }
  selectiveScanForward(b, 1, di, n, xs, dt, A, Bs, Cs, D, ssm, y, ssm, 0);
  gateSilu(y, di, xz + f4(di), 2 * di, b);
  linear(b, di, d, y, outProj, outProjB, out);                // x ← x + out_proj y
  addInto(x, out, b * d);
}

/**
 * The depthwise causal conv for one token: per channel the window [k] (oldest first) moves by one, takes
 * the new input, and the output is Σ_j w_j window_j (+ bias), then SiLU. in/out: rows of c values.
 */
function convStepSilu(b: i32, c: i32, k: i32, conv: usize, convW: usize, convB: usize, xin: usize, ldin: i32, out: usize): void {
  if (k == 4) {
    // A channel's window is one vector: shifted by a shuffle, multiplied at once, then summed in the order below.
    for (let bi = 0; bi < b; bi++) {
      const win = conv + f4(bi * c * 4), xr = xin + f4(bi * ldin), xo = out + f4(bi * c);
      for (let ch = 0; ch < c; ch++) {
        const wc = win + f4(ch * 4);
        const nw = v128.shuffle<f32>(v128.load(wc), splat(ldf(xr, ch)), 1, 2, 3, 4);
        v128.store(wc, nw);
        const pr = f32x4.mul(nw, v128.load(convW + f4(ch * 4)));
        const acc: f32 = convB != 0 ? ldf(convB, ch) : 0;
        stf(xo, ch, acc + f32x4.extract_lane(pr, 0) + f32x4.extract_lane(pr, 1) + f32x4.extract_lane(pr, 2) + f32x4.extract_lane(pr, 3));
      }
    }
    mapInPlace(OP_SILU, out, b * c);
    return;
  }
  for (let bi = 0; bi < b; bi++) {
    const win = conv + f4(bi * c * k), xr = xin + f4(bi * ldin), xo = out + f4(bi * c);
    for (let ch = 0; ch < c; ch++) {
      const wc = win + f4(ch * k), cw = convW + f4(ch * k);
      let acc: f32 = convB != 0 ? ldf(convB, ch) : 0;
      for (let j = 0; j < k - 1; j++) {
        const v = ldf(wc, j + 1);
        stf(wc, j, v);
        acc += ldf(cw, j) * v;
      }
      const xv = ldf(xr, ch);
      stf(wc, k - 1, xv);
      stf(xo, ch, acc + ldf(cw, k - 1) * xv);
    }
  }
  mapInPlace(OP_SILU, out, b * c);
}

/** y ⊙ SiLU(z) in place over b rows of c values (y rows contiguous, z rows ldz apart). */
function gateSilu(y: usize, c: i32, z: usize, ldz: i32, b: i32): void {
  for (let bi = 0; bi < b; bi++) {
    const yr = y + f4(bi * c), zr = z + f4(bi * ldz);
    let j = 0;
    for (; j + 4 <= c; j += 4) {
      const zv = v128.load(zr + f4(j));
      v128.store(yr + f4(j), f32x4.mul(v128.load(yr + f4(j)), f32x4.mul(zv, vsigmoid(zv))));
    }
    for (; j < c; j++) { const zv = ldf(zr, j); stf(yr, j, ldf(yr, j) * zv * ssigmoid(zv)); }
  }
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

/** o = xa + xx ⊙ m (m broadcast over the b rows). */
function mixRows(b: i32, d: i32, xa: usize, xx: usize, m: usize, o: usize): void {
  for (let bi = 0; bi < b; bi++) {
    const off = f4(bi * d);
    let j = 0;
    for (; j + 4 <= d; j += 4) v128.store(o + off + f4(j), fma(v128.load(xx + off + f4(j)), v128.load(m + f4(j)), v128.load(xa + off + f4(j))));
    for (; j < d; j++) stf(o + off, j, ldf(xa + off, j) + ldf(xx + off, j) * ldf(m, j));
  }
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
  for (let i = 0; i < b * d; i++) {
    const a = ldf(xa, i);
    stf(xx, i, ldf(prev, i) - a);
    stf(prev, i, a);
  }
}

/** relu(x)² in place (RWKV's channel-mix key). */
function reluSquared(p: usize, n: i32): void {
  for (let i = 0; i < n; i++) { const t = max<f32>(ldf(p, i), 0); stf(p, i, t * t); }
}

const NEG_EXP_MINUS_HALF: f32 = -0.6065306597126334;

/** One row i of RWKV-7's WKV step (see rwkv7Step): sa = S_i·a, S_i ← S_i ⊙ w + sa b + v_i k, y_i = S_i·r. */
// @ts-ignore: decorator
@inline function wkv7Row(row: usize, hs: i32, a: usize, w: usize, bb: usize, k: usize, r: usize, vi: f32, yi: usize): void {
  let sa = splat(0);
  let j = 0;
  for (; j + 4 <= hs; j += 4) sa = fma(v128.load(row + f4(j)), v128.load(a + f4(j)), sa);
  let sai = hsum(sa);
  for (; j < hs; j++) sai += ldf(row, j) * ldf(a, j);
  const sav = splat(sai), vv = splat(vi);
  let acc = splat(0);
  j = 0;
  for (; j + 4 <= hs; j += 4) {
    const q = f4(j);
    let s = f32x4.mul(v128.load(row + q), v128.load(w + q));
    s = fma(sav, v128.load(bb + q), s);
    s = fma(vv, v128.load(k + q), s);
    v128.store(row + q, s);
    acc = fma(s, v128.load(r + q), acc);
  }
  let y = hsum(acc);
  for (; j < hs; j++) {
    const s = ldf(row, j) * ldf(w, j) + sai * ldf(bb, j) + vi * ldf(k, j);
    stf(row, j, s);
    y += s * ldf(r, j);
  }
  store<f32>(yi, y);
}

/** wkv7Row for rows i and i + 1 (row1 = row0 + hs values), the shared vectors loaded once for both. */
function wkv7Rows2(row0: usize, hs: i32, a: usize, w: usize, bb: usize, k: usize, r: usize, v0: f32, v1: f32, yi: usize): void {
  const row1 = row0 + f4(hs);
  let sa0 = splat(0), sa1 = splat(0);
  let j = 0;
  for (; j + 4 <= hs; j += 4) {
    const av = v128.load(a + f4(j));
    sa0 = fma(v128.load(row0 + f4(j)), av, sa0);
    sa1 = fma(v128.load(row1 + f4(j)), av, sa1);
  }
  let s0 = hsum(sa0), s1 = hsum(sa1);
  for (; j < hs; j++) { s0 += ldf(row0, j) * ldf(a, j); s1 += ldf(row1, j) * ldf(a, j); }
  const sv0 = splat(s0), sv1 = splat(s1), vv0 = splat(v0), vv1 = splat(v1);
  let acc0 = splat(0), acc1 = splat(0);
  j = 0;
  for (; j + 4 <= hs; j += 4) {
    const q = f4(j), wv = v128.load(w + q), bv = v128.load(bb + q), kv = v128.load(k + q), rv = v128.load(r + q);
    let t = f32x4.mul(v128.load(row0 + q), wv);
    t = fma(sv0, bv, t);
    t = fma(vv0, kv, t);
    v128.store(row0 + q, t);
    acc0 = fma(t, rv, acc0);
    let u = f32x4.mul(v128.load(row1 + q), wv);
    u = fma(sv1, bv, u);
    u = fma(vv1, kv, u);
    v128.store(row1 + q, u);
    acc1 = fma(u, rv, acc1);
  }
  let y0 = hsum(acc0), y1 = hsum(acc1);
  for (; j < hs; j++) {
    const wj = ldf(w, j), bj = ldf(bb, j), kj = ldf(k, j), rj = ldf(r, j);
    const t = ldf(row0, j) * wj + s0 * bj + v0 * kj, u = ldf(row1, j) * wj + s1 * bj + v1 * kj;
    stf(row0, j, t); stf(row1, j, u);
    y0 += t * rj; y1 += u * rj;
  }
  store<f32>(yi, y0);
  store<f32>(yi, y1, 4);
}

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
  mixRows(b, d, xa, xx, xr_, mr); mixRows(b, d, xa, xx, xw_, mw); mixRows(b, d, xa, xx, xk_, mk);
  mixRows(b, d, xa, xx, xv_, mv); mixRows(b, d, xa, xx, xa_, ma); mixRows(b, d, xa, xx, xg_, mg);

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
    for (let i = 0; i < n; i++) { const vi = ldf(v, i); stf(v, i, vi + (ldf(vFirst, i) - vi) * ldf(tmp, i)); }
  }
  matmul(b, d, da, ma, a1, hid); matmul(b, da, d, hid, a2, aa); sigmoidBias(b, d, a0, aa);     // a
  matmul(b, d, dg, mg, g1, hid); mapInPlace(OP_SIGMOID, hid, b * dg); matmul(b, dg, d, hid, g2, g); // g

  // k̂ = normalize(k ⊙ k_k) per head (a = −k̂ and b = k̂ ⊙ a in the WKV);  k ← k ⊙ (1 + (a − 1) ⊙ k_a)
  for (let bh = 0; bh < b * nh; bh++) {
    const o = bh * hs, ho = (bh % nh) * hs;
    let ss: f32 = 0;
    for (let j = 0; j < hs; j++) { const t = ldf(kv, o + j) * ldf(kK, ho + j); ss += t * t; }
    const inv: f32 = 1 / max(<f32>Math.sqrt(<f64>ss), <f32>1e-12);
    for (let j = 0; j < hs; j++) {
      const kk = ldf(kv, o + j) * ldf(kK, ho + j) * inv, ai = ldf(aa, o + j);
      stf(nk, o + j, -kk);
      stf(bk, o + j, kk * ai);
      stf(kv, o + j, ldf(kv, o + j) * ((ai - 1) * ldf(kA, ho + j) + 1));
    }
  }
  // WKV per (stream, head), S[value i, key j]: sa_i = Σ_j S_ij a_j;  S_ij ← S_ij w_j + sa_i b_j + v_i k_j;  y_i = Σ_j S_ij r_j
  // (two rows i at a time, sharing the loads of a, w, b, k and r; each row's operations as for one).
  const hsz = hs * hs;
  for (let bh = 0; bh < b * nh; bh++) {
    const o = f4(bh * hs), S = wkv + f4(bh * hsz);
    let i = 0;
    for (; i + 2 <= hs; i += 2) wkv7Rows2(S + f4(i * hs), hs, nk + o, dec + o, bk + o, kv + o, r + o, ldf(v + o, i), ldf(v + o, i + 1), y + o + f4(i));
    if (i < hs) wkv7Row(S + f4(i * hs), hs, nk + o, dec + o, bk + o, kv + o, r + o, ldf(v + o, i), y + o + f4(i));
  }
  // ln_x per head, plus the bonus (Σ_head r ⊙ k ⊙ r_k) v, gated by g
  for (let bh = 0; bh < b * nh; bh++) {
    const o = bh * hs, ho = (bh % nh) * hs;
    layerNormForwardRows(y + f4(o), lnxw + f4(ho), lnxb + f4(ho), tmp + f4(o), mean + f4(bh), rstd + f4(bh), 1, hs, 64e-5);
    let bonus: f32 = 0;
    for (let j = 0; j < hs; j++) bonus += ldf(r, o + j) * ldf(kv, o + j) * ldf(rK, ho + j);
    for (let j = 0; j < hs; j++) stf(tmp, o + j, (ldf(tmp, o + j) + bonus * ldf(v, o + j)) * ldf(g, o + j));
  }
  linear(b, d, d, tmp, Wo, 0, y);
  addInto(x, y, n);

  // channel mix: x ← x + W_v relu(W_k (xf + (x_{t−1} − xf) ⊙ x_k))²
  shiftNorm(b, d, x, ln2w, ln2b, ffnPrev, xa, xx, mean, rstd);
  mixRows(b, d, xa, xx, fXk, mk);
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
  convStepSilu(b, cd, k, conv, convW, convB, zx + f4(di), rows, xBC);
  for (let bi = 0; bi < b; bi++) {
    const xr = xBC + f4(bi * cd), zr = zx + f4(bi * rows);
    for (let h = 0; h < nh; h++) {
      // Δ = softplus(dt + dt_bias);  h ← exp(ΔA) h + Δ x ⊗ B;  y = C·h + D x   (head h reads group ⌊h·g/nh⌋)
      const dl = f32x4.extract_lane(vsoftplus(splat(ldf(zr, di + cd + h) + ldf(dtBias, h))), 0);
      const decay = splat(sexp(dl * ldf(A, h)));
      const grp = h * g / nh, Bg = xr + f4(di + grp * n), Cg = xr + f4(di + g * n + grp * n);
      let p = 0;
      for (; p + 2 <= hs; p += 2) {
        // two channels p, p + 1 of the head: each state row updated as alone, B and C loaded once for both
        const xv = ldf(xr, h * hs + p), xw = ldf(xr, h * hs + p + 1), coef = splat(dl * xv), cof = splat(dl * xw);
        const hp = ssm + f4(((bi * nh + h) * hs + p) * n), hq = hp + f4(n);
        let acc = splat(0), acd = splat(0);
        let m = 0;
        for (; m + 4 <= n; m += 4) {
          const q = f4(m), Bv = v128.load(Bg + q), Cv = v128.load(Cg + q);
          const hv = fma(decay, v128.load(hp + q), f32x4.mul(coef, Bv));
          const hw = fma(decay, v128.load(hq + q), f32x4.mul(cof, Bv));
          v128.store(hp + q, hv);
          v128.store(hq + q, hw);
          acc = fma(hv, Cv, acc);
          acd = fma(hw, Cv, acd);
        }
        let yv = hsum(acc), yw = hsum(acd);
        for (; m < n; m++) {
          const hv = f32x4.extract_lane(decay, 0) * ldf(hp, m) + dl * xv * ldf(Bg, m);
          const hw = f32x4.extract_lane(decay, 0) * ldf(hq, m) + dl * xw * ldf(Bg, m);
          stf(hp, m, hv); stf(hq, m, hw);
          yv += hv * ldf(Cg, m); yw += hw * ldf(Cg, m);
        }
        stf(y, bi * di + h * hs + p, yv + ldf(D, dPerChannel ? h * hs + p : h) * xv);
        stf(y, bi * di + h * hs + p + 1, yw + ldf(D, dPerChannel ? h * hs + p + 1 : h) * xw);
      }
      for (; p < hs; p++) {
        const xv = ldf(xr, h * hs + p), coef = splat(dl * xv), hp = ssm + f4(((bi * nh + h) * hs + p) * n);
        let acc = splat(0);
        let m = 0;
        for (; m + 4 <= n; m += 4) {
          const q = f4(m);
          const hv = fma(decay, v128.load(hp + q), f32x4.mul(coef, v128.load(Bg + q)));
          v128.store(hp + q, hv);
          acc = fma(hv, v128.load(Cg + q), acc);
        }
        let yv = hsum(acc);
        for (; m < n; m++) {
          const hv = f32x4.extract_lane(decay, 0) * ldf(hp, m) + dl * xv * ldf(Bg, m);
          stf(hp, m, hv);
          yv += hv * ldf(Cg, m);
        }
        stf(y, bi * di + h * hs + p, yv + ldf(D, dPerChannel ? h * hs + p : h) * xv);
      }
    }
    // RMSNorm(y ⊙ SiLU(z)) ⊙ w per group of di/g channels
    const yr = y + f4(bi * di);
    gateSilu(yr, di, zr, rows, 1);
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
  mixRows(b, d, xa, xx, maaX, xxx);
  matmul(b, d, 5 * dm, xxx, maaW1, m5);
  mapInPlace(OP_TANH, m5, b * 5 * dm);
  // (no arrays here: the stub runtime would allocate them over the heap JavaScript manages)
  for (let q = 0; q < 5; q++) {
    matmulStrided(b, dm, d, m5 + f4(q * dm), 5 * dm, maaW2 + f4(q * dm * d), off);
    const maa = q == 0 ? maaW : q == 1 ? maaK : q == 2 ? maaV : q == 3 ? maaR : maaG;
    const o = q == 0 ? mw : q == 1 ? mk : q == 2 ? mv : q == 3 ? mr : mg;
    for (let bi = 0; bi < b; bi++) {
      const ro = f4(bi * d);
      for (let j = 0; j < d; j++) stf(o + ro, j, ldf(xa + ro, j) + ldf(xx + ro, j) * (ldf(maa, j) + ldf(off + ro, j)));
    }
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
  // WKV per (stream, head), S[key j, value i]: y = Σ_j r_j (S_j + u_j k_j v);  S_j ← w_j S_j + k_j v.
  // Sixteen values i at a time, their y and v held in registers over all keys j: S is read and written once.
  const hsz = hs * hs;
  for (let bh = 0; bh < b * nh; bh++) {
    const o = f4(bh * hs), S = wkv + f4(bh * hsz), uh = u + f4((bh % nh) * hs), yo = y + o, vo = v + o;
    const ro = r + o, ko = kv + o, wo = dec + o;
    let ruk: f32 = 0;
    for (let j = 0; j < hs; j++) ruk += ldf(ro, j) * ldf(uh, j) * ldf(ko, j);
    const rukv = splat(ruk);
    let i = 0;
    for (; i + 16 <= hs; i += 16) {
      const q = f4(i);
      const v0 = v128.load(vo + q), v1 = v128.load(vo + q, 16), v2 = v128.load(vo + q, 32), v3 = v128.load(vo + q, 48);
      let y0 = f32x4.mul(rukv, v0), y1 = f32x4.mul(rukv, v1), y2 = f32x4.mul(rukv, v2), y3 = f32x4.mul(rukv, v3);
      for (let j = 0; j < hs; j++) {
        const rv = splat(ldf(ro, j)), wv = splat(ldf(wo, j)), kvv = splat(ldf(ko, j)), row = S + f4(j * hs) + q;
        let sv = v128.load(row); y0 = fma(rv, sv, y0); v128.store(row, fma(sv, wv, f32x4.mul(kvv, v0)));
        sv = v128.load(row, 16); y1 = fma(rv, sv, y1); v128.store(row, fma(sv, wv, f32x4.mul(kvv, v1)), 16);
        sv = v128.load(row, 32); y2 = fma(rv, sv, y2); v128.store(row, fma(sv, wv, f32x4.mul(kvv, v2)), 32);
        sv = v128.load(row, 48); y3 = fma(rv, sv, y3); v128.store(row, fma(sv, wv, f32x4.mul(kvv, v3)), 48);
      }
      v128.store(yo + q, y0); v128.store(yo + q, y1, 16); v128.store(yo + q, y2, 32); v128.store(yo + q, y3, 48);
    }
    for (; i + 4 <= hs; i += 4) {
      const q = f4(i), v0 = v128.load(vo + q);
      let y0 = f32x4.mul(rukv, v0);
      for (let j = 0; j < hs; j++) {
        const row = S + f4(j * hs) + q, sv = v128.load(row);
        y0 = fma(splat(ldf(ro, j)), sv, y0);
        v128.store(row, fma(sv, splat(ldf(wo, j)), f32x4.mul(splat(ldf(ko, j)), v0)));
      }
      v128.store(yo + q, y0);
    }
    for (; i < hs; i++) {
      const vi = ldf(vo, i);
      let yi = ruk * vi;
      for (let j = 0; j < hs; j++) {
        const row = S + f4(j * hs), sv = ldf(row, i);
        yi = yi + ldf(ro, j) * sv;
        stf(row, i, sv * ldf(wo, j) + ldf(ko, j) * vi);
      }
      stf(yo, i, yi);
    }
  }
  // ln_x per head, gated by g
  for (let bh = 0; bh < b * nh; bh++) {
    const o = bh * hs, ho = (bh % nh) * hs;
    layerNormForwardRows(y + f4(o), lnxw + f4(ho), lnxb + f4(ho), tmp + f4(o), mean + f4(bh), rstd + f4(bh), 1, hs, 64e-5);
  }
  for (let i = 0; i < n; i++) stf(tmp, i, ldf(tmp, i) * ldf(g, i));
  linear(b, d, d, tmp, Wo, 0, y);
  addInto(x, y, n);

  // channel mix: x ← x + σ(W_r x_r) ⊙ W_v relu(W_k x_k)²
  shiftNorm(b, d, x, ln2w, ln2b, ffnPrev, xa, xx, mean, rstd);
  mixRows(b, d, xa, xx, fMaaK, mk);
  mixRows(b, d, xa, xx, fMaaR, mr);
  linear(b, d, f, mk, fKey, 0, hk);
  reluSquared(hk, b * f);
  linear(b, f, d, hk, fValue, 0, y);
  linear(b, d, d, mr, fRec, 0, tmp);
  mapInPlace(OP_SIGMOID, tmp, n);
  for (let i = 0; i < n; i++) stf(x, i, ldf(x, i) + ldf(tmp, i) * ldf(y, i));
}

// ---------------------------------------------------------------- GPT

export function gptStepScratch(b: i32, C: i32, H: i32, T: i32): usize {
  return f4(b * (10 * C + H)) + attentionScratch(T, 0) + 16 * 8;
}

/** cap: rows per stream in k and v (stream i's rows start at row i·cap), ≥ p + 1; the cache is used where it lies. */
export function gptStep(b: i32, C: i32, H: i32, p: i32, cap: i32, eps: f32, x: usize,
  ln1w: usize, ln1b: usize, cAttn: usize, cAttnB: usize, projW: usize, projB: usize,
  ln2w: usize, ln2b: usize, fcW: usize, fcB: usize, mProjW: usize, mProjB: usize, k: usize, v: usize, ws: usize): void {
  const T = p + 1, D = C / H;
  wsTop = (ws + 15) & ~15;
  const h = take(b * C), qkv = take(b * 3 * C), q = take(b * C), y = take(b * C), f = take(b * 4 * C), lse = take(b * H);
  const att = take(<i32>(attentionScratch(T, 0) >> 2));
  const mean = f, rstd = f + f4(b);

  layerNormForwardRows(x, ln1w, ln1b, h, mean, rstd, b, C, eps);
  linear(b, C, 3 * C, h, cAttn, cAttnB, qkv);                  // [q | k | v] = c_attn(ln_1(x))
  for (let i = 0; i < b; i++) {
    const row = qkv + f4(i * 3 * C), ks = k + f4(i * cap * C), vs = v + f4(i * cap * C);
    memory.copy(q + f4(i * C), row, f4(C));
    memory.copy(ks + f4(p * C), row + f4(C), f4(C));           // append k and v at position p
    memory.copy(vs + f4(p * C), row + f4(2 * C), f4(C));
    attentionForward(1, H, 1, T, D, <f32>(1 / Math.sqrt(<f64>D)), q + f4(i * C), ks, vs, y + f4(i * C), lse + f4(i * H), att);
  }
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
