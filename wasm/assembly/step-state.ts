/**
 * The per-stream parts of the fused streaming steps (step.ts) as independent units, so that parallel.ts can
 * split them over the worker pool: RWKV-6's and RWKV-7's WKV state update with ln_x and the gate, per
 * (stream, head); Mamba-2's SSD recurrent update, per (stream, head); and RWKV's LoRA products (x · W with W
 * stored [in, out]) by blocks of output columns; Mamba's depthwise conv window, per (stream, 16 channels); and
 * Mamba-1's Δ, by blocks of 8 channels, and its gate y ⊙ SiLU(z), per (stream, 16 channels). Each unit is computed by the same operations in the same
 * order whichever thread runs it and whatever else is in the batch, so a step's result does not depend on
 * the thread count or on the batch a stream is in.
 */
import { layerNormForwardRows } from './rows';
import { vexp, sexp, ssigmoid, vsigmoid } from './math';
import { fma, hsum, splat } from './vec';
import { gemmNT } from './gemm-nt';

// @ts-ignore: decorator
@inline function f4(i: i32): usize { return <usize>i << 2; }
// @ts-ignore: decorator
@inline function ldf(p: usize, i: i32): f32 { return load<f32>(p + f4(i)); }
// @ts-ignore: decorator
@inline function stf(p: usize, i: i32, v: f32): void { store<f32>(p + f4(i), v); }

/** log(1 + e^x) for x ≤ 20 (x above, as PyTorch): max(x, 0) + log1p(e^−|x|), log by atanh's series. */
// @ts-ignore: decorator
@inline export function vsoftplus(x: v128): v128 {
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

/**
 * Columns j0 … j1 − 1 of y[b, outF] = x[b, inF] · W, W stored [in, out], rows of x `ldx` values apart. Sixteen
 * output columns are summed in registers over the whole of x's row (not read and written back per input),
 * for two rows of x at once so that each load of W serves both; the same operations in the same order as
 * one column of one row at a time, so a value does not depend on the block, range or batch it is computed
 * in (ranges are cut at multiples of 16 and the last ends at outF, so the scalar tail is always the same columns).
 */
export function matmulCols(b: i32, inF: i32, outF: i32, x: usize, ldx: i32, W: usize, y: usize, j0: i32, j1: i32): void {
  const o4 = min(outF & ~3, j1);
  let bi = 0;
  for (; bi + 2 <= b; bi += 2) {
    const y0 = y + f4(bi * outF), y1 = y0 + f4(outF), x0 = x + f4(bi * ldx), x1 = x0 + f4(ldx);
    let j = j0;
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
    for (; j < j1; j++) {
      let s: f32 = 0, t: f32 = 0;
      for (let i = 0; i < inF; i++) { const w = ldf(W, i * outF + j); s = s + ldf(x0, i) * w; t = t + ldf(x1, i) * w; }
      stf(y0, j, s); stf(y1, j, t);
    }
  }
  for (; bi < b; bi++) {
    const yr = y + f4(bi * outF), xr = x + f4(bi * ldx);
    let j = j0;
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
    for (; j < j1; j++) {
      let s: f32 = 0;
      for (let i = 0; i < inF; i++) s = s + ldf(xr, i) * ldf(W, i * outF + j);
      stf(yr, j, s);
    }
  }
}

// ---------------------------------------------------------------- RWKV-6

/**
 * Units (stream, head) u0 … u1 − 1 of RWKV-6's step (u = stream · nh + head): the WKV update of the state,
 * S[key j, value i]: y = Σ_j r_j (S_j + u_j k_j v);  S_j ← w_j S_j + k_j v, then ln_x of the head gated by g
 * into tmp. Sixteen values i at a time, their y and v held in registers over all keys j: S is read and written once.
 */
export function rwkv6StepHeads(u0: i32, u1: i32, nh: i32, hs: i32, r: usize, kv: usize, v: usize, dec: usize, u: usize,
  wkv: usize, y: usize, lnxw: usize, lnxb: usize, g: usize, tmp: usize, mean: usize, rstd: usize): void {
  const hsz = hs * hs;
  for (let bh = u0; bh < u1; bh++) {
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
    {
      const o = bh * hs, ho = (bh % nh) * hs;
      layerNormForwardRows(y + f4(o), lnxw + f4(ho), lnxb + f4(ho), tmp + f4(o), mean + f4(bh), rstd + f4(bh), 1, hs, 64e-5);
      for (let j = 0; j < hs; j++) stf(tmp, o + j, ldf(tmp, o + j) * ldf(g, o + j));
    }
  }
}

// ---------------------------------------------------------------- RWKV-7

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

/**
 * Units (stream, head) u0 … u1 − 1 of RWKV-7's step: k̂ = normalize(k ⊙ k_k) (a = −k̂ and b = k̂ ⊙ a in the WKV),
 * k ← k ⊙ (1 + (a − 1) ⊙ k_a); the WKV update, S[value i, key j]: sa_i = Σ_j S_ij a_j;
 * S_ij ← S_ij w_j + sa_i b_j + v_i k_j;  y_i = Σ_j S_ij r_j (two rows i at a time, sharing the loads of a, w,
 * b, k and r; each row's operations as for one); then ln_x plus the bonus (Σ_head r ⊙ k ⊙ r_k) v, gated by g, into tmp.
 */
export function rwkv7StepHeads(u0: i32, u1: i32, nh: i32, hs: i32, kK: usize, kA: usize, rK: usize, aa: usize, r: usize,
  kv: usize, v: usize, dec: usize, nk: usize, bk: usize, wkv: usize, y: usize, lnxw: usize, lnxb: usize, g: usize,
  tmp: usize, mean: usize, rstd: usize): void {
  const hsz = hs * hs;
  for (let bh = u0; bh < u1; bh++) {
    {
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
    {
      const o = f4(bh * hs), S = wkv + f4(bh * hsz);
      let i = 0;
      for (; i + 2 <= hs; i += 2) wkv7Rows2(S + f4(i * hs), hs, nk + o, dec + o, bk + o, kv + o, r + o, ldf(v + o, i), ldf(v + o, i + 1), y + o + f4(i));
      if (i < hs) wkv7Row(S + f4(i * hs), hs, nk + o, dec + o, bk + o, kv + o, r + o, ldf(v + o, i), y + o + f4(i));
    }
    {
      const o = bh * hs, ho = (bh % nh) * hs;
      layerNormForwardRows(y + f4(o), lnxw + f4(ho), lnxb + f4(ho), tmp + f4(o), mean + f4(bh), rstd + f4(bh), 1, hs, 64e-5);
      let bonus: f32 = 0;
      for (let j = 0; j < hs; j++) bonus += ldf(r, o + j) * ldf(kv, o + j) * ldf(rK, ho + j);
      for (let j = 0; j < hs; j++) stf(tmp, o + j, (ldf(tmp, o + j) + bonus * ldf(v, o + j)) * ldf(g, o + j));
    }
  }
}

// ---------------------------------------------------------------- Mamba-2

/**
 * Units (stream, head) u0 … u1 − 1 of Mamba-2's step: Δ = softplus(dt + dt_bias);  h ← exp(ΔA) h + Δ x ⊗ B;
 * y = C·h + D x (head h reads group ⌊h·g/nh⌋). zx: in_proj's rows [z, xBC, dt] (`rows` apart), xBC: the
 * conv's output rows (cd apart), y rows di apart. Channels four, then two, then one at a time: each channel's
 * state row and y by the same operations in the same order in all three.
 */
export function mamba2StepHeads(u0: i32, u1: i32, nh: i32, hs: i32, g: i32, n: i32, rows: i32, dPerChannel: bool,
  zx: usize, xBC: usize, dtBias: usize, A: usize, D: usize, ssm: usize, y: usize): void {
  const di = nh * hs, cd = di + 2 * g * n;
  for (let unit = u0; unit < u1; unit++) {
    const bi = unit / nh, h = unit % nh;
    const xr = xBC + f4(bi * cd), zr = zx + f4(bi * rows);
    // Δ = softplus(dt + dt_bias);  h ← exp(ΔA) h + Δ x ⊗ B;  y = C·h + D x   (head h reads group ⌊h·g/nh⌋)
    const dl = f32x4.extract_lane(vsoftplus(splat(ldf(zr, di + cd + h) + ldf(dtBias, h))), 0);
    const decay = splat(sexp(dl * ldf(A, h)));
    const grp = h * g / nh, Bg = xr + f4(di + grp * n), Cg = xr + f4(di + g * n + grp * n);
    const dv = f32x4.extract_lane(decay, 0);
    let p = 0;
    for (; p + 4 <= hs; p += 4) {
      // four channels: four independent y chains (one alone waits on its fma's latency), B and C loaded once
      const hp = ssm + f4(((bi * nh + h) * hs + p) * n), cb = xr + f4(h * hs + p);
      const x0 = ldf(cb, 0), x1 = ldf(cb, 1), x2 = ldf(cb, 2), x3 = ldf(cb, 3);
      const c0 = splat(dl * x0), c1 = splat(dl * x1), c2 = splat(dl * x2), c3 = splat(dl * x3);
      let a0 = splat(0), a1 = splat(0), a2 = splat(0), a3 = splat(0);
      const rn = f4(n);
      let m = 0;
      for (; m + 4 <= n; m += 4) {
        const q = f4(m), Bv = v128.load(Bg + q), Cv = v128.load(Cg + q), r0 = hp + q;
        const h0 = fma(decay, v128.load(r0), f32x4.mul(c0, Bv)); v128.store(r0, h0); a0 = fma(h0, Cv, a0);
        const h1 = fma(decay, v128.load(r0 + rn), f32x4.mul(c1, Bv)); v128.store(r0 + rn, h1); a1 = fma(h1, Cv, a1);
        const h2 = fma(decay, v128.load(r0 + 2 * rn), f32x4.mul(c2, Bv)); v128.store(r0 + 2 * rn, h2); a2 = fma(h2, Cv, a2);
        const h3 = fma(decay, v128.load(r0 + 3 * rn), f32x4.mul(c3, Bv)); v128.store(r0 + 3 * rn, h3); a3 = fma(h3, Cv, a3);
      }
      let y0 = hsum(a0), y1 = hsum(a1), y2 = hsum(a2), y3 = hsum(a3);
      for (; m < n; m++) {
        const Bm = ldf(Bg, m), Cm = ldf(Cg, m), r0 = hp + f4(m);
        const g0 = dv * load<f32>(r0) + dl * x0 * Bm; store<f32>(r0, g0); y0 += g0 * Cm;
        const g1 = dv * load<f32>(r0 + rn) + dl * x1 * Bm; store<f32>(r0 + rn, g1); y1 += g1 * Cm;
        const g2 = dv * load<f32>(r0 + 2 * rn) + dl * x2 * Bm; store<f32>(r0 + 2 * rn, g2); y2 += g2 * Cm;
        const g3 = dv * load<f32>(r0 + 3 * rn) + dl * x3 * Bm; store<f32>(r0 + 3 * rn, g3); y3 += g3 * Cm;
      }
      const yo = y + f4(bi * di + h * hs + p);
      stf(yo, 0, y0 + ldf(D, dPerChannel ? h * hs + p : h) * x0);
      stf(yo, 1, y1 + ldf(D, dPerChannel ? h * hs + p + 1 : h) * x1);
      stf(yo, 2, y2 + ldf(D, dPerChannel ? h * hs + p + 2 : h) * x2);
      stf(yo, 3, y3 + ldf(D, dPerChannel ? h * hs + p + 3 : h) * x3);
    }
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
}

// ---------------------------------------------------------------- Mamba's conv window

/** Channels per unit of convStepUnits. */
export const CONV_BLOCK: i32 = 16;

/** SiLU of 4 values, as step.ts's elementwise maps compute it (lane by lane, so any grouping gives the same bits). */
// @ts-ignore: decorator
@inline function vsilu(v: v128): v128 { return f32x4.mul(v, vsigmoid(v)); }

/**
 * Units u0 … u1 − 1 of the depthwise causal conv for one token, then SiLU (u = stream · ⌈c/16⌉ + block of 16
 * channels): per channel the window [k] (oldest first) moves by one and takes the new input, and the output
 * is SiLU(bias + Σ_j w_j window_j), the sum in the order j = 0 … k − 1. For k = 4 a window is one vector: four
 * channels are shifted and multiplied at once, their products transposed so that tap j of the four is one
 * vector, then added in that order (per channel the same products and sums as one channel at a time).
 * in/out: rows of c values, the input's `ldin` apart.
 */
export function convStepUnits(u0: i32, u1: i32, c: i32, k: i32, conv: usize, convW: usize, convB: usize, xin: usize, ldin: i32, out: usize): void {
  const nb = (c + CONV_BLOCK - 1) / CONV_BLOCK;
  for (let u = u0; u < u1; u++) {
    const bi = u / nb, c0 = (u % nb) * CONV_BLOCK, c1 = min(c, c0 + CONV_BLOCK);
    const win = conv + f4(bi * c * k), xr = xin + f4(bi * ldin), xo = out + f4(bi * c);
    let ch = c0;
    if (k == 4) {
      for (; ch + 4 <= c1; ch += 4) {
        const w = win + f4(ch * 4), cw = convW + f4(ch * 4), xv = v128.load(xr + f4(ch));
        const n0 = v128.shuffle<f32>(v128.load(w), xv, 1, 2, 3, 4), n1 = v128.shuffle<f32>(v128.load(w, 16), xv, 1, 2, 3, 5);
        const n2 = v128.shuffle<f32>(v128.load(w, 32), xv, 1, 2, 3, 6), n3 = v128.shuffle<f32>(v128.load(w, 48), xv, 1, 2, 3, 7);
        v128.store(w, n0); v128.store(w, n1, 16); v128.store(w, n2, 32); v128.store(w, n3, 48);
        const p0 = f32x4.mul(n0, v128.load(cw)), p1 = f32x4.mul(n1, v128.load(cw, 16));
        const p2 = f32x4.mul(n2, v128.load(cw, 32)), p3 = f32x4.mul(n3, v128.load(cw, 48));
        const t0 = v128.shuffle<f32>(p0, p1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(p2, p3, 0, 4, 1, 5);
        const t2 = v128.shuffle<f32>(p0, p1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(p2, p3, 2, 6, 3, 7);
        let acc = convB != 0 ? v128.load(convB + f4(ch)) : splat(0);
        acc = f32x4.add(acc, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
        acc = f32x4.add(acc, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
        acc = f32x4.add(acc, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
        acc = f32x4.add(acc, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
        v128.store(xo + f4(ch), vsilu(acc));
      }
      for (; ch < c1; ch++) {
        const wc = win + f4(ch * 4);
        const nw = v128.shuffle<f32>(v128.load(wc), splat(ldf(xr, ch)), 1, 2, 3, 4);
        v128.store(wc, nw);
        const pr = f32x4.mul(nw, v128.load(convW + f4(ch * 4)));
        const acc: f32 = convB != 0 ? ldf(convB, ch) : 0;
        const s = acc + f32x4.extract_lane(pr, 0) + f32x4.extract_lane(pr, 1) + f32x4.extract_lane(pr, 2) + f32x4.extract_lane(pr, 3);
        stf(xo, ch, f32x4.extract_lane(vsilu(splat(s)), 0));
      }
      continue;
    }
    for (; ch < c1; ch++) {
      const wc = win + f4(ch * k), cw = convW + f4(ch * k);
      let acc: f32 = convB != 0 ? ldf(convB, ch) : 0;
      for (let j = 0; j < k - 1; j++) {
        const v = ldf(wc, j + 1);
        stf(wc, j, v);
        acc += ldf(cw, j) * v;
      }
      const xv = ldf(xr, ch);
      stf(wc, k - 1, xv);
      stf(xo, ch, f32x4.extract_lane(vsilu(splat(acc + ldf(cw, k - 1) * xv)), 0));
    }
  }
}

// ---------------------------------------------------------------- Mamba-1's Δ

/**
 * Units u0 … u1 − 1 (blocks of 8 channels) of Mamba-1's Δ = softplus(dt_proj δ + bias) for b streams: δ is the
 * first r values of each x_proj row (rows e apart), dt_proj [di, r], Δ rows di apart. Each value is the same
 * gemmNT dot product, bias sum and softplus whatever block or batch it is computed in.
 */
export function mambaDtUnits(u0: i32, u1: i32, b: i32, di: i32, r: i32, xdbl: usize, e: i32, dtProj: usize, dtB: usize, dt: usize): void {
  const j0 = u0 << 3, j1 = min(di, u1 << 3);
  gemmNT(b, j1 - j0, r, xdbl, e, dtProj + f4(j0 * r), r, dt + f4(j0), di, false);
  for (let bi = 0; bi < b; bi++) {
    const row = dt + f4(bi * di);
    let j = j0;
    for (; j + 4 <= j1; j += 4) v128.store(row + f4(j), vsoftplus(f32x4.add(v128.load(row + f4(j)), v128.load(dtB + f4(j)))));
    for (; j < j1; j++) stf(row, j, f32x4.extract_lane(vsoftplus(splat(ldf(row, j) + ldf(dtB, j))), 0));
  }
}

/**
 * Units u0 … u1 − 1 (u = stream · ⌈c/16⌉ + block of 16 channels) of Mamba-1's gate y ← y ⊙ SiLU(z) in place
 * (y rows c apart, z rows ldz apart): as step.ts's row loop, vectors of 4 and the row's last c mod 4 values
 * one by one (blocks start at multiples of 16, so the same values go each way).
 */
export function gateSiluUnits(u0: i32, u1: i32, c: i32, y: usize, z: usize, ldz: i32): void {
  const nb = (c + CONV_BLOCK - 1) / CONV_BLOCK;
  for (let u = u0; u < u1; u++) {
    const bi = u / nb, c0 = (u % nb) * CONV_BLOCK, c1 = min(c, c0 + CONV_BLOCK);
    const yr = y + f4(bi * c), zr = z + f4(bi * ldz);
    let j = c0;
    for (; j + 4 <= c1; j += 4) {
      const zv = v128.load(zr + f4(j));
      v128.store(yr + f4(j), f32x4.mul(v128.load(yr + f4(j)), f32x4.mul(zv, vsigmoid(zv))));
    }
    for (; j < c1; j++) { const zv = ldf(zr, j); stf(yr, j, ldf(yr, j) * zv * ssigmoid(zv)); }
  }
}
