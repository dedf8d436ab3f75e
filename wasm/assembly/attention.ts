/**
 * Causal multi-head attention forward and backward: the equations, layouts and `lse` of
 * src/kernels/ref/attention.ts (the specification; read it first), in float32.
 *
 * Symbols: B batch, H heads, Tq queries (the last Tq of the Tk positions), Tk keys, D head width,
 * C = H·D the row stride; query i sees keys 0 … Tk − Tq + i (n = Tk − Tq + i + 1 of them).
 * q, y, dy, dq are [B, Tq, C]; k, v, dk, dv are [B, Tk, C]; lse is [B, H, Tq]. Every pointer is a byte address.
 *
 * Scores are computed four keys at a time (four independent FMA chains instead of one), the softmax with
 * `vexp` over a row padded to a multiple of 4 with −∞ (so the pad lanes are exactly 0), and every
 * weighted sum of rows (y, dq, dk, dv) with a 16-wide block of the result held in registers across the
 * rows it sums. A query's forward row depends only on that query and the keys it sees, so a decode step
 * (Tq = 1) gives the bits of the same row of a whole-sequence call.
 */
import { dot, fma, hmax, hsum, splat } from './vec';
import { vexp } from './math';

/** Query rows per backward tile: dk and dv rows are read and written once per tile, not once per query. */
const QB: i32 = 32;

// @ts-ignore: decorator
@inline function f4(i: i32): usize { return <usize>i << 2; }
// @ts-ignore: decorator
@inline function ldf(p: usize, i: i32): f32 { return load<f32>(p + f4(i)); }
// @ts-ignore: decorator
@inline function stf(p: usize, i: i32, v: f32): void { store<f32>(p + f4(i), v); }
// @ts-ignore: decorator
@inline function pad4(n: i32): i32 { return (n + 3) & ~3; }

/** Bytes of scratch: forward one padded score row; backward a tile of probabilities and one of ds. */
export function attentionScratch(Tk: i32, backward: i32): usize {
  const row = f4(pad4(Tk));
  return (backward != 0 ? 2 * <usize>QB * row : row) + 64;
}

/**
 * a·b_u for the four rows b, b + bs, b + 2bs, b + 3bs, one per lane. Each lane has the bits of
 * dot(a, b_u, D): the lane sums fold as hsum folds them, then the tail is added in order.
 */
function dot4(a: usize, b: usize, bs: usize, D: i32): v128 {
  const b1 = b + bs, b2 = b1 + bs, b3 = b2 + bs;
  let s0 = splat(0), s1 = splat(0), s2 = splat(0), s3 = splat(0);
  let d = 0;
  for (; d + 4 <= D; d += 4) {
    const o = f4(d), av = v128.load(a + o);
    s0 = fma(av, v128.load(b + o), s0);
    s1 = fma(av, v128.load(b1 + o), s1);
    s2 = fma(av, v128.load(b2 + o), s2);
    s3 = fma(av, v128.load(b3 + o), s3);
  }
  const p01 = f32x4.add(v128.shuffle<f32>(s0, s1, 0, 1, 4, 5), v128.shuffle<f32>(s0, s1, 2, 3, 6, 7));
  const p23 = f32x4.add(v128.shuffle<f32>(s2, s3, 0, 1, 4, 5), v128.shuffle<f32>(s2, s3, 2, 3, 6, 7));
  let r = f32x4.add(v128.shuffle<f32>(p01, p23, 0, 2, 4, 6), v128.shuffle<f32>(p01, p23, 1, 3, 5, 7));
  if (d < D) {
    let t0 = f32x4.extract_lane(r, 0), t1 = f32x4.extract_lane(r, 1), t2 = f32x4.extract_lane(r, 2), t3 = f32x4.extract_lane(r, 3);
    for (; d < D; d++) {
      const ad = ldf(a, d);
      t0 += ad * ldf(b, d); t1 += ad * ldf(b1, d); t2 += ad * ldf(b2, d); t3 += ad * ldf(b3, d);
    }
    r = f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(r, 0, t0), 1, t1), 2, t2), 3, t3);
  }
  return r;
}

/**
 * out[j] = scale · a·b_j for j < n (rows b_j = b + j·bs), then `fill` up to the next multiple of 4
 * (−∞ pads vanish under exp). Returns the maximum over j < n.
 */
function rowDots(a: usize, b: usize, bs: usize, D: i32, n: i32, scale: f32, out: usize, fill: f32): f32 {
  const sv = splat(scale);
  let mv = splat(-Infinity);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const s = f32x4.mul(dot4(a, b + <usize>j * bs, bs, D), sv);
    v128.store(out + f4(j), s);
    mv = f32x4.max(mv, s);
  }
  let m = hmax(mv);
  for (; j < n; j++) {
    const s = dot(a, b + <usize>j * bs, D) * scale;
    stf(out, j, s);
    m = max(m, s);
  }
  const end = pad4(n);
  for (; j < end; j++) stf(out, j, fill);
  return m;
}

/**
 * dst[0 … D) (+)= Σ_{r < R} c[r·cs] · src_r with src_r = src + r·ss (strides in bytes); adds to dst when
 * `acc`, writes it otherwise. A 16-wide block of dst stays in registers across all R rows.
 */
function sumRows(dst: usize, acc: bool, c: usize, cs: usize, src: usize, ss: usize, R: i32, D: i32): void {
  let d = 0;
  for (; d + 16 <= D; d += 16) {
    const o = f4(d);
    let y0 = splat(0), y1 = splat(0), y2 = splat(0), y3 = splat(0);
    if (acc) { y0 = v128.load(dst + o); y1 = v128.load(dst + o, 16); y2 = v128.load(dst + o, 32); y3 = v128.load(dst + o, 48); }
    let pc = c, ps = src + o;
    for (let r = 0; r < R; r++) {
      const w = v128.load32_splat(pc);
      y0 = fma(w, v128.load(ps), y0);
      y1 = fma(w, v128.load(ps, 16), y1);
      y2 = fma(w, v128.load(ps, 32), y2);
      y3 = fma(w, v128.load(ps, 48), y3);
      pc += cs; ps += ss;
    }
    v128.store(dst + o, y0); v128.store(dst + o, y1, 16); v128.store(dst + o, y2, 32); v128.store(dst + o, y3, 48);
  }
  for (; d + 4 <= D; d += 4) {
    const o = f4(d);
    let y0 = acc ? v128.load(dst + o) : splat(0);
    let pc = c, ps = src + o;
    for (let r = 0; r < R; r++) {
      y0 = fma(v128.load32_splat(pc), v128.load(ps), y0);
      pc += cs; ps += ss;
    }
    v128.store(dst + o, y0);
  }
  for (; d < D; d++) {
    let y: f32 = acc ? ldf(dst, d) : 0;
    let pc = c, ps = src + f4(d);
    for (let r = 0; r < R; r++) {
      y += load<f32>(pc) * load<f32>(ps);
      pc += cs; ps += ss;
    }
    stf(dst, d, y);
  }
}

export function attentionForward(B: i32, H: i32, Tq: i32, Tk: i32, D: i32, scale: f32,
  q: usize, k: usize, v: usize, y: usize, lse: usize, ws: usize): void {
  attentionForwardBlocks(0, B * H, H, Tq, Tk, D, scale, q, k, v, y, lse, ws);
}

/** (batch, head) blocks bh0 … bh1−1: each writes only its own rows of y and lse. */
export function attentionForwardBlocks(bh0: i32, bh1: i32, H: i32, Tq: i32, Tk: i32, D: i32, scale: f32,
  q: usize, k: usize, v: usize, y: usize, lse: usize, ws: usize): void {
  const C = H * D, past = Tk - Tq, rs = f4(C);
  for (let bh = bh0; bh < bh1; bh++) {
    const b = bh / H, h = bh % H;
    {
      const kh = k + f4(b * Tk * C + h * D), vh = v + f4(b * Tk * C + h * D);
      for (let i = 0; i < Tq; i++) {
        const n = past + i + 1, qi = f4((b * Tq + i) * C + h * D);
        const m = rowDots(q + qi, kh, rs, D, n, scale, ws, -Infinity);
        const mv = splat(m);
        let sv = splat(0);
        for (let j = 0; j < n; j += 4) {
          const e = vexp(f32x4.sub(v128.load(ws + f4(j)), mv));
          v128.store(ws + f4(j), e);
          sv = f32x4.add(sv, e);
        }
        const sum = hsum(sv);
        stf(lse, (b * H + h) * Tq + i, <f32>(<f64>m + Math.log(<f64>sum)));
        const yi = y + qi;
        sumRows(yi, false, ws, 4, vh, rs, n, D);
        const inv = splat(1 / sum);
        let d = 0;
        for (; d + 4 <= D; d += 4) v128.store(yi + f4(d), f32x4.mul(v128.load(yi + f4(d)), inv));
        for (; d < D; d++) stf(yi, d, ldf(yi, d) / sum);
      }
    }
  }
}

/**
 * attentionBackward (exported from parallel.ts, which splits the blocks across threads) writes dq, dk and
 * dv (dk and dv are zeroed first, then summed over queries). Per (batch, head), queries
 * in tiles of QB rows: each row's p and ds = scale·p·(dp − Δ) go into the tile's scratch and give dq;
 * then each key the tile sees sums its dk and dv over the tile's rows that see it.
 */
/**
 * (batch, head) blocks bh0 … bh1−1, with dk and dv already zeroed: a block writes only its own rows of dq
 * and sums only into its own columns of dk and dv, so blocks on different threads never meet.
 */
export function attentionBackwardBlocks(bh0: i32, bh1: i32, H: i32, Tq: i32, Tk: i32, D: i32, scale: f32,
  q: usize, k: usize, v: usize, lse: usize, dy: usize, dq: usize, dk: usize, dv: usize, ws: usize): void {
  const C = H * D, past = Tk - Tq, rs = f4(C);
  const tile = f4(pad4(Tk)); // bytes per scratch row
  const P = ws, DS = ws + <usize>QB * tile;
  for (let bh = bh0; bh < bh1; bh++) {
    const b = bh / H, h = bh % H;
    {
      const hk = f4(b * Tk * C + h * D);
      const kh = k + hk, vh = v + hk, dkh = dk + hk, dvh = dv + hk;
      for (let i0 = 0; i0 < Tq; i0 += QB) {
        const R = min(QB, Tq - i0), nT = past + i0 + R; // keys seen by the tile's last row
        for (let r = 0; r < R; r++) {
          const i = i0 + r, n = past + i + 1, qi = f4((b * Tq + i) * C + h * D);
          const p = P + <usize>r * tile, ds = DS + <usize>r * tile;
          rowDots(q + qi, kh, rs, D, n, scale, p, -Infinity);
          rowDots(dy + qi, vh, rs, D, n, 1, ds, 0);
          const lv = splat(ldf(lse, (b * H + h) * Tq + i));
          let delta = splat(0);
          for (let j = 0; j < n; j += 4) {
            const pj = vexp(f32x4.sub(v128.load(p + f4(j)), lv));
            v128.store(p + f4(j), pj);
            delta = fma(pj, v128.load(ds + f4(j)), delta);
          }
          const dl = splat(hsum(delta)), sv = splat(scale);
          for (let j = 0; j < n; j += 4) {
            const pj = v128.load(p + f4(j));
            v128.store(ds + f4(j), f32x4.mul(f32x4.mul(pj, sv), f32x4.sub(v128.load(ds + f4(j)), dl)));
          }
          sumRows(dq + qi, false, ds, 4, kh, rs, n, D);
        }
        const q0 = q + f4((b * Tq + i0) * C + h * D), dy0 = dy + f4((b * Tq + i0) * C + h * D);
        for (let j = 0; j < nT; j++) {
          const r0 = max(0, j - past - i0); // the tile's first row that sees key j
          const o = <usize>j * rs, c = f4(j) + <usize>r0 * tile, src = <usize>r0 * rs;
          sumRows(dkh + o, true, DS + c, tile, q0 + src, rs, R - r0, D);
          sumRows(dvh + o, true, P + c, tile, dy0 + src, rs, R - r0, D);
        }
      }
    }
  }
}

// ---------------------------------------------------------------- decode: one query per stream over a KV cache

/** Bytes of scratch one thread's share of `attentionDecodeBlocks` needs: a padded score row and a sum per head. */
export function attentionDecodeScratch(H: i32, T: i32): usize {
  return f4(pad4(H)) + <usize>H * f4(pad4(T)) + 64;
}

/** Cache rows per block of the weighted sum: a block's rows are read once, across every head, while they are in L1. */
const DR: i32 = 8;

/**
 * One query per stream (a streaming step) over its cache: stream i's query at q + i·ldq floats, its T keys
 * and values at row i·cap of k and v (rows C = H·D floats apart), its output at y + i·C. Units u0 … u1−1
 * are (stream, head) pairs u = i·H + h; a unit writes only its head's D values of y.
 *
 * The same numbers as attentionForward's row for that query (every score is `dot4`'s or `dot`'s, the
 * softmax and each output element the same sequence of operations), in another order: the cache is read
 * row block by row block across the unit's heads instead of head by head, so each row of K and of V comes
 * into cache once and is read front to back.
 */
export function attentionDecodeBlocks(u0: i32, u1: i32, H: i32, T: i32, D: i32, scale: f32,
  q: usize, ldq: i32, k: usize, v: usize, cap: i32, y: usize, ws: usize): void {
  const C = H * D, rs = f4(C), row = f4(pad4(T)), T4 = T & ~3;
  const sv = splat(scale), sums = ws;
  ws += f4(pad4(H));
  let u = u0;
  while (u < u1) {
    const i = u / H, h0 = u % H, h1 = min(H, h0 + u1 - u); // this stream's heads in the range
    u += h1 - h0;
    const qi = q + f4(i * ldq), ki = k + f4(i * cap * C), vi = v + f4(i * cap * C), yi = y + f4(i * C);
    // Scores, four keys at a time across the heads; then each head's tail keys and −∞ pads.
    for (let j = 0; j < T4; j += 4) {
      const o = <usize>j * rs;
      for (let h = h0; h < h1; h++) {
        v128.store(ws + <usize>(h - h0) * row + f4(j), f32x4.mul(dot4(qi + f4(h * D), ki + o + f4(h * D), rs, D), sv));
      }
    }
    for (let h = h0; h < h1; h++) {
      const s = ws + <usize>(h - h0) * row, qh = qi + f4(h * D);
      let j = T4;
      for (; j < T; j++) stf(s, j, dot(qh, ki + <usize>j * rs + f4(h * D), D) * scale);
      for (; j < pad4(T); j++) stf(s, j, -Infinity);
      // Softmax numerators in place; the sum divides the output at the end.
      let mv = splat(-Infinity);
      for (j = 0; j < T4; j += 4) mv = f32x4.max(mv, v128.load(s + f4(j)));
      let m = hmax(mv);
      for (j = T4; j < T; j++) m = max(m, ldf(s, j));
      const mm = splat(m);
      let sum = splat(0);
      for (j = 0; j < T; j += 4) {
        const e = vexp(f32x4.sub(v128.load(s + f4(j)), mm));
        v128.store(s + f4(j), e);
        sum = f32x4.add(sum, e);
      }
      stf(sums, h - h0, hsum(sum));
      memory.fill(yi + f4(h * D), 0, f4(D));
    }
    // Weighted sum of value rows, DR rows at a time across the heads.
    for (let j = 0; j < T; j += DR) {
      const R = min(DR, T - j), o = <usize>j * rs;
      for (let h = h0; h < h1; h++) sumRows(yi + f4(h * D), true, ws + <usize>(h - h0) * row + f4(j), 4, vi + o + f4(h * D), rs, R, D);
    }
    for (let h = h0; h < h1; h++) {
      const yh = yi + f4(h * D), sum = ldf(sums, h - h0);
      const inv = splat(1 / sum);
      let d = 0;
      for (; d + 4 <= D; d += 4) v128.store(yh + f4(d), f32x4.mul(v128.load(yh + f4(d)), inv));
      for (; d < D; d++) stf(yh, d, ldf(yh, d) / sum);
    }
  }
}
