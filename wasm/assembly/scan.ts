/**
 * State-space kernels of Mamba-1: the causal depthwise conv1d and the selective scan, forward and backward,
 * computing what src/kernels/ref/scan.ts computes (the specification; read it first), in float32.
 *
 * Glossary: b batch, t time, c channels, k conv width, di inner width, n state size; A, B, C, D and Δ
 * (`delta`) as in the Mamba papers. Layouts (batch-first) as ScanKernels in src/kernels/types.ts. The conv
 * is vectorised over channels (its weight and window are transposed into scratch so channels are
 * contiguous), the scan over the state size n; both with scalar tails. Backward **accumulates** into every
 * gradient, as ref does. Every pointer is a byte address; optional ones (bias, D, hs, dy, …) may be 0.
 */
import { vexp } from './math';
import { dot, fma, hsum, splat } from './vec';

// @ts-ignore: decorator
@inline function f4(i: i32): usize { return <usize>i << 2; }
// @ts-ignore: decorator
@inline function ldf(p: usize, i: i32): f32 { return load<f32>(p + f4(i)); }
// @ts-ignore: decorator
@inline function stf(p: usize, i: i32, v: f32): void { store<f32>(p + f4(i), v); }
/** Scalar exp by the vector algorithm, so tails round like the body. */
// @ts-ignore: decorator
@inline function sexp(x: f32): f32 { return f32x4.extract_lane(vexp(f32x4.splat(x)), 0); }

/** dst += a ⊙ b over n values. */
// @ts-ignore: decorator
@inline function addMul(dst: usize, a: usize, b: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + f4(i), fma(v128.load(a + f4(i)), v128.load(b + f4(i)), v128.load(dst + f4(i))));
  for (; i < n; i++) stf(dst, i, ldf(dst, i) + ldf(a, i) * ldf(b, i));
}

/** dst[j, i] = src[i, j] for src [rows, cols]. */
function transpose(src: usize, dst: usize, rows: i32, cols: i32): void {
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) stf(dst, j * rows + i, ldf(src, i * cols + j));
}

// ---------------------------------------------------------------- causal depthwise conv1d

/** Bytes of scratch `causalConv1dForward` / `causalConv1dBackward` need: four [k, c] matrices. */
export function causalConv1dScratch(c: i32, k: i32): usize {
  return 4 * ((f4(c * k) + 63) & ~63) + 64;
}

/** Row m (length c) of the extended input e = [window, x] of batch row bi: window's column m, or x's row m − k. */
// @ts-ignore: decorator
@inline function extRow(win: usize, x: usize, bi: i32, t: i32, c: i32, k: i32, m: i32): usize {
  return m < k ? win + f4(m * c) : x + f4((bi * t + m - k) * c);
}

export function causalConv1dForward(b: i32, t: i32, c: i32, k: i32, x: usize, w: usize, bias: usize, window: usize,
  y: usize, windowOut: usize, ws: usize): void {
  const kc = (f4(c * k) + 63) & ~63;
  const wt = (ws + 63) & ~63, win = wt + kc; // w and the window as [k, c]
  transpose(w, wt, c, k);
  for (let bi = 0; bi < b; bi++) {
    transpose(window + f4(bi * c * k), win, c, k);
    for (let ti = 0; ti < t; ti++) {
      // y_t = bias + Σ_j w_j · e_{t+1+j}: one pass over the row per tap, in ref's order.
      const yr = y + f4((bi * t + ti) * c);
      if (bias != 0) memory.copy(yr, bias, f4(c));
      else memory.fill(yr, 0, f4(c));
      for (let j = 0; j < k; j++) addMul(yr, wt + f4(j * c), extRow(win, x, bi, t, c, k, ti + 1 + j), c);
    }
    // The new window: e[t .. t+k−1], back to [c, k].
    for (let j = 0; j < k; j++) {
      const er = extRow(win, x, bi, t, c, k, t + j);
      for (let ci = 0; ci < c; ci++) stf(windowOut, (bi * c + ci) * k + j, ldf(er, ci));
    }
  }
}

export function causalConv1dBackward(b: i32, t: i32, c: i32, k: i32, x: usize, w: usize, window: usize, dy: usize,
  dwindowOut: usize, dx: usize, dw: usize, db: usize, dwindow: usize, ws: usize): void {
  const kc = (f4(c * k) + 63) & ~63;
  const wt = (ws + 63) & ~63, win = wt + kc, dwt = win + kc, dwin = dwt + kc; // all [k, c]
  transpose(w, wt, c, k);
  memory.fill(dwt, 0, f4(c * k));
  for (let bi = 0; bi < b; bi++) {
    transpose(window + f4(bi * c * k), win, c, k);
    memory.fill(dwin, 0, f4(c * k));
    if (dy != 0) {
      for (let ti = 0; ti < t; ti++) {
        const gy = dy + f4((bi * t + ti) * c);
        if (db != 0) {
          let i = 0;
          for (; i + 4 <= c; i += 4) v128.store(db + f4(i), f32x4.add(v128.load(db + f4(i)), v128.load(gy + f4(i))));
          for (; i < c; i++) stf(db, i, ldf(db, i) + ldf(gy, i));
        }
        for (let j = 0; j < k; j++) {
          const m = ti + 1 + j;
          addMul(dwt + f4(j * c), gy, extRow(win, x, bi, t, c, k, m), c); // dw_j += dy_t ⊙ e_{t+1+j}
          addMul(extRow(dwin, dx, bi, t, c, k, m), gy, wt + f4(j * c), c); // de_{t+1+j} += dy_t ⊙ w_j
        }
      }
    }
    if (dwindowOut != 0) {
      for (let j = 0; j < k; j++) { // windowOut = e[t .. t+k−1]
        const dr = extRow(dwin, dx, bi, t, c, k, t + j);
        for (let ci = 0; ci < c; ci++) stf(dr, ci, ldf(dr, ci) + ldf(dwindowOut, (bi * c + ci) * k + j));
      }
    }
    for (let ci = 0; ci < c; ci++) {
      for (let j = 0; j < k; j++) {
        const o = (bi * c + ci) * k + j;
        stf(dwindow, o, ldf(dwindow, o) + ldf(dwin, j * c + ci));
      }
    }
  }
  for (let ci = 0; ci < c; ci++) for (let j = 0; j < k; j++) stf(dw, ci * k + j, ldf(dw, ci * k + j) + ldf(dwt, j * c + ci));
}

// ---------------------------------------------------------------- Mamba-1 selective scan

/**
 * Steps between two states saved for backward (SCAN_CHECKPOINT_EVERY in src/kernels/types.ts): `hs` is
 * [b, ⌈t/16⌉, di, n], the state after steps 15, 31, … and the last of each row; backward recomputes the
 * states of each stretch from the one before it, with forward's operations, so they have its bits.
 */
const SCAN_EVERY: i32 = 16;

/** On the calling thread (the streaming step's; training goes through parallel.ts's, which splits the blocks). */
export function selectiveScanForward(b: i32, t: i32, di: i32, n: i32, x: usize, delta: usize, A: usize, B: usize,
  C: usize, D: usize, h0: usize, y: usize, hT: usize, hs: usize): void {
  memory.copy(hT, h0, f4(b * di * n)); // hT is the running state h
  selectiveScanForwardBlocks(0, b * di, t, di, n, x, delta, A, B, C, D, y, hT, hs);
}

/**
 * Channels d and d + 1 of one token (see selectiveScanForwardBlocks): Δ at dp[0], dp[1]; A rows, states and
 * results n values apart; D at Dp (0: none). The same operations per channel as the one-channel loop.
 */
// @ts-ignore: decorator
@inline function scanPair(n: i32, dp: usize, xv: f32, xw: f32, A0: usize, h0: usize, Bt: usize, Ct: usize, Dp: usize, yp: usize): void {
  const dl = load<f32>(dp), dm = load<f32>(dp, 4), dlx = dl * xv, dmx = dm * xw;
  const A1 = A0 + f4(n), h1 = h0 + f4(n);
  const dlv = splat(dl), dlxv = splat(dlx), dmv = splat(dm), dmxv = splat(dmx);
  let acc = splat(0), acd = splat(0);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const q = f4(j), Bv = v128.load(Bt + q), Cv = v128.load(Ct + q);
    const hv = fma(vexp(f32x4.mul(dlv, v128.load(A0 + q))), v128.load(h0 + q), f32x4.mul(dlxv, Bv));
    const hw = fma(vexp(f32x4.mul(dmv, v128.load(A1 + q))), v128.load(h1 + q), f32x4.mul(dmxv, Bv));
    v128.store(h0 + q, hv);
    v128.store(h1 + q, hw);
    acc = fma(hv, Cv, acc);
    acd = fma(hw, Cv, acd);
  }
  let yv = hsum(acc), yw = hsum(acd);
  for (; j < n; j++) {
    const hv = sexp(dl * ldf(A0, j)) * ldf(h0, j) + dlx * ldf(Bt, j);
    const hw = sexp(dm * ldf(A1, j)) * ldf(h1, j) + dmx * ldf(Bt, j);
    stf(h0, j, hv); stf(h1, j, hw);
    yv += hv * ldf(Ct, j); yw += hw * ldf(Ct, j);
  }
  store<f32>(yp, Dp != 0 ? yv + load<f32>(Dp) * xv : yv);
  store<f32>(yp, Dp != 0 ? yw + load<f32>(Dp, 4) * xw : yw, 4);
}

/**
 * (batch row, channel) blocks u0 … u1−1 (u = bi·di + d), with hT already holding h0: every channel of every
 * row is its own recurrence, so blocks on different threads never meet (parallel.ts splits them).
 */
export function selectiveScanForwardBlocks(u0: i32, u1: i32, t: i32, di: i32, n: i32, x: usize, delta: usize, A: usize, B: usize,
  C: usize, D: usize, y: usize, hT: usize, hs: usize): void {
  const S = (t + SCAN_EVERY - 1) / SCAN_EVERY;
  for (let bi = u0 / di; bi * di < u1; bi++) {
    const d0 = max(0, u0 - bi * di), d1 = min(di, u1 - bi * di);
    for (let ti = 0; ti < t; ti++) {
      const xo = (bi * t + ti) * di, Bt = B + f4((bi * t + ti) * n), Ct = C + f4((bi * t + ti) * n);
      // The slot of hs this step's states go to, or 0 (not the last step of a stretch)
      const slot = hs != 0 && ((ti + 1) % SCAN_EVERY == 0 || ti == t - 1) ? hs + f4((bi * S + ti / SCAN_EVERY) * di * n) : 0;
      let d = d0;
      // Without saving, two channels at a time: their exps are independent work the core can overlap
      // (a channel's own chain is latency-bound); each channel's operations are the ones below, in that order.
      if (slot == 0) for (; d + 2 <= d1; d += 2) scanPair(n, delta + f4(xo + d), ldf(x, xo + d), ldf(x, xo + d + 1), A + f4(d * n),
        hT + f4((bi * di + d) * n), Bt, Ct, D != 0 ? D + f4(d) : 0, y + f4(xo + d));
      for (; d < d1; d++) {
        const dl = ldf(delta, xo + d), xv = ldf(x, xo + d), dlx = dl * xv;
        const h = hT + f4((bi * di + d) * n), Ad = A + f4(d * n);
        const sv = slot != 0 ? slot + f4(d * n) : 0;
        const dlv = splat(dl), dlxv = splat(dlx);
        let acc = splat(0);
        let j = 0;
        for (; j + 4 <= n; j += 4) {
          const q = f4(j);
          // h ← exp(Δ A) h + (Δ x) B;  y = C·h + D x
          const hv = fma(vexp(f32x4.mul(dlv, v128.load(Ad + q))), v128.load(h + q), f32x4.mul(dlxv, v128.load(Bt + q)));
          v128.store(h + q, hv);
          if (sv != 0) v128.store(sv + q, hv);
          acc = fma(hv, v128.load(Ct + q), acc);
        }
        let yv = hsum(acc);
        for (; j < n; j++) {
          const hv = sexp(dl * ldf(Ad, j)) * ldf(h, j) + dlx * ldf(Bt, j);
          stf(h, j, hv);
          if (sv != 0) stf(sv, j, hv);
          yv += hv * ldf(Ct, j);
        }
        stf(y, xo + d, D != 0 ? yv + ldf(D, d) * xv : yv);
      }
    }
  }
}

/**
 * Bytes of one thread's scratch for `selectiveScanBackwardRows`: ∂L/∂h of one batch row, [di, n], then the
 * recomputed states of one stretch, [SCAN_EVERY, di, n].
 */
export function selectiveScanThreadScratch(di: i32, n: i32): usize {
  return ((f4(di * n) + 63) & ~63) + 2 * f4(SCAN_EVERY * di * n) + 64;
}

/**
 * States h_t0 … h_t1−1 of batch row bi into hl ([t1 − t0, di, n]) from the state before t0 (`hIn`, [di, n]),
 * with the operations of selectiveScanForwardBlocks' update, so they equal forward's states bit for bit;
 * the decays exp(Δ A) it computes on the way go to al (same layout), where backward reads them.
 */
function scanRecompute(bi: i32, t0: i32, t1: i32, t: i32, di: i32, n: i32, x: usize, delta: usize, A: usize, B: usize,
  hIn: usize, hl: usize, al: usize): void {
  const dn = di * n;
  for (let ti = t0; ti < t1; ti++) {
    const xo = (bi * t + ti) * di, Bt = B + f4((bi * t + ti) * n);
    const out = hl + f4((ti - t0) * dn), prev = ti > t0 ? out - f4(dn) : hIn, aout = al + f4((ti - t0) * dn);
    for (let d = 0; d < di; d++) {
      const dl = ldf(delta, xo + d), xv = ldf(x, xo + d), dlx = dl * xv;
      const h = out + f4(d * n), hp = prev + f4(d * n), Ad = A + f4(d * n), ad = aout + f4(d * n);
      const dlv = splat(dl), dlxv = splat(dlx);
      let j = 0;
      for (; j + 4 <= n; j += 4) {
        const q = f4(j), a = vexp(f32x4.mul(dlv, v128.load(Ad + q)));
        v128.store(ad + q, a);
        v128.store(h + q, fma(a, v128.load(hp + q), f32x4.mul(dlxv, v128.load(Bt + q))));
      }
      for (; j < n; j++) {
        const a = sexp(dl * ldf(Ad, j));
        stf(ad, j, a);
        stf(h, j, a * ldf(hp, j) + dlx * ldf(Bt, j));
      }
    }
  }
}

/** Bytes of the per-row partial sums of dA [di, n] and dD [di] that `selectiveScanBackwardRows` writes. */
export function selectiveScanPartials(b: i32, di: i32, n: i32): usize {
  return ((f4(b * di * (n + 1)) + 63) & ~63) + 64;
}

/**
 * Batch rows u0 … u1−1 of the backward. Everything a row writes is its own (dx, Δ, dB, dC, dh0 of that
 * row) except dA and dD, which sum over rows: a row adds its share to its own partial sums (`part`,
 * [b, di, n] then [b, di], from zero), and `addPartials` adds them to dA and dD in row order afterwards,
 * so the sums come out the same whichever thread ran which row (parallel.ts splits the rows).
 */
export function selectiveScanBackwardRows(u0: i32, u1: i32, b: i32, t: i32, di: i32, n: i32, x: usize, delta: usize,
  A: usize, B: usize, C: usize, D: usize, h0: usize, hs: usize, dy: usize, dhT: usize,
  dx: usize, ddelta: usize, dB: usize, dC: usize, dh0: usize, part: usize, ws: usize): void {
  const dh = (ws + 63) & ~63; // ∂L/∂h_t of every channel, carried backwards in time
  const dn = di * n;
  const hl = dh + ((f4(dn) + 63) & ~63); // the states of the stretch being walked back
  const al = hl + f4(SCAN_EVERY * dn);   // and their decays exp(Δ A)
  const S = (t + SCAN_EVERY - 1) / SCAN_EVERY;
  const pA0 = (part + 63) & ~63, pD0 = pA0 + f4(b * dn);
  for (let bi = u0; bi < u1; bi++) {
    const dA = pA0 + f4(bi * dn), dD = pD0 + f4(bi * di);
    memory.fill(dA, 0, f4(dn));
    memory.fill(dD, 0, f4(di));
    if (dhT != 0) memory.copy(dh, dhT + f4(bi * dn), f4(dn));
    else memory.fill(dh, 0, f4(dn));
    for (let ti = t - 1; ti >= 0; ti--) {
      const t0 = ti - ti % SCAN_EVERY;
      // The state before t0: the previous stretch's saved last state, or h0.
      const hIn = t0 > 0 ? hs + f4((bi * S + t0 / SCAN_EVERY - 1) * dn) : h0 + f4(bi * dn);
      if (ti == t - 1 || ti % SCAN_EVERY == SCAN_EVERY - 1) scanRecompute(bi, t0, ti + 1, t, di, n, x, delta, A, B, hIn, hl, al);
      const xo = (bi * t + ti) * di, bo = (bi * t + ti) * n;
      const Bt = B + f4(bo), Ct = C + f4(bo), dBt = dB + f4(bo), dCt = dC + f4(bo);
      const hsT = hl + f4((ti - t0) * dn);
      const hsP = ti > t0 ? hsT - f4(dn) : hIn; // h_{t−1}
      const aT = al + f4((ti - t0) * dn);
      for (let d = 0; d < di; d++) {
        const dl = ldf(delta, xo + d), xv = ldf(x, xo + d);
        const gy: f32 = dy != 0 ? ldf(dy, xo + d) : 0;
        let dxv: f32 = 0;
        if (D != 0) { // y ∋ D x
          stf(dD, d, ldf(dD, d) + gy * xv);
          dxv += gy * ldf(D, d);
        }
        const ph = hsT + f4(d * n), pp = hsP + f4(d * n), Ad = A + f4(d * n), dAd = dA + f4(d * n), pdh = dh + f4(d * n);
        const pa = aT + f4(d * n);
        const dlv = splat(dl), gyv = splat(gy), xvv = splat(xv), dlxv = splat(dl * xv);
        let aDl = splat(0), aX = splat(0);
        let j = 0;
        for (; j + 4 <= n; j += 4) {
          const q = f4(j);
          const Aj = v128.load(Ad + q), Bj = v128.load(Bt + q);
          const a = v128.load(pa + q); // exp(Δ A), as recomputed
          v128.store(dCt + q, fma(gyv, v128.load(ph + q), v128.load(dCt + q))); // y ∋ C·h
          const gh = fma(gyv, v128.load(Ct + q), v128.load(pdh + q));          // total ∂L/∂h_t
          // h_t = a h_{t−1} + Δ x B,  a = exp(Δ A)
          const gaa = f32x4.mul(f32x4.mul(gh, v128.load(pp + q)), a);
          aDl = fma(gaa, Aj, fma(gh, f32x4.mul(xvv, Bj), aDl));
          v128.store(dAd + q, fma(gaa, dlv, v128.load(dAd + q)));
          v128.store(dBt + q, fma(gh, dlxv, v128.load(dBt + q)));
          aX = fma(gh, Bj, aX);
          v128.store(pdh + q, f32x4.mul(gh, a));                              // ∂L/∂h_{t−1}
        }
        let ddl = hsum(aDl), sx = hsum(aX);
        for (; j < n; j++) {
          const Aj = ldf(Ad, j), Bj = ldf(Bt, j);
          const a = ldf(pa, j);
          stf(dCt, j, ldf(dCt, j) + gy * ldf(ph, j));
          const gh = ldf(pdh, j) + gy * ldf(Ct, j);
          const gaa = gh * ldf(pp, j) * a;
          ddl += gaa * Aj + gh * xv * Bj;
          stf(dAd, j, ldf(dAd, j) + gaa * dl);
          stf(dBt, j, ldf(dBt, j) + gh * dl * xv);
          sx += gh * Bj;
          stf(pdh, j, gh * a);
        }
        stf(ddelta, xo + d, ldf(ddelta, xo + d) + ddl);
        stf(dx, xo + d, ldf(dx, xo + d) + (dxv + dl * sx));
      }
    }
    const h0g = dh0 + f4(bi * dn);
    let i = 0;
    for (; i + 4 <= dn; i += 4) v128.store(h0g + f4(i), f32x4.add(v128.load(h0g + f4(i)), v128.load(dh + f4(i))));
    for (; i < dn; i++) stf(h0g, i, ldf(h0g, i) + ldf(dh, i));
  }
}

/** dst += Σ_r part_r over rows r = 0 … rows−1 in that order, `len` values each, `stride` apart. */
export function addPartials(dst: usize, part: usize, rows: i32, len: i32, stride: i32): void {
  if (dst == 0) return;
  for (let r = 0; r < rows; r++) {
    const p = part + f4(r * stride);
    let i = 0;
    for (; i + 4 <= len; i += 4) v128.store(dst + f4(i), f32x4.add(v128.load(dst + f4(i)), v128.load(p + f4(i))));
    for (; i < len; i++) stf(dst, i, ldf(dst, i) + ldf(p, i));
  }
}

/** dA, dD of `selectiveScanBackwardRows` once every row is done: the row partials in row order. */
export function selectiveScanAddPartials(b: i32, di: i32, n: i32, dA: usize, dD: usize, part: usize): void {
  const pA0 = (part + 63) & ~63;
  addPartials(dA, pA0, b, di * n, di * n);
  addPartials(dD, pA0 + f4(b * di * n), b, di, di);
}

// ---------------------------------------------------------------- Mamba-2 SSD, chunked

/**
 * The chunked SSD of ref's ssdForward/ssdBackward (its comment has the four numbered terms), with the
 * matrix parts vectorised along the contiguous axis (n for states, B and C; hs for x and y) and the
 * per-chunk scalars — the cumulative log-decay L, C·B and the decay masks exp(L_i − L_j) — in float64
 * as ref keeps them: L is a running sum over up to q steps, and its differences would lose digits in
 * float32. Shapes: x [b, t, nh, hs], delta [b, t, nh], A [nh], B and C [b, t, g, n], D [nh] or [nh·hs],
 * states [b, nh, hs, n], chunkStates [b, ⌈t/q⌉, nh, hs, n].
 */

/** y += α x over n float32 values. */
function axpy(y: usize, alpha: f32, x: usize, n: i32): void {
  const av = splat(alpha);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(y + f4(i), fma(av, v128.load(x + f4(i)), v128.load(y + f4(i))));
  for (; i < n; i++) stf(y, i, ldf(y, i) + alpha * ldf(x, i));
}

// @ts-ignore: decorator
@inline function f8(i: i32): usize { return <usize>i << 3; }
// @ts-ignore: decorator
@inline function ldd(p: usize, i: i32): f64 { return load<f64>(p + f8(i)); }
// @ts-ignore: decorator
@inline function stdd(p: usize, i: i32, v: f64): void { store<f64>(p + f8(i), v); }
// @ts-ignore: decorator
@inline function ldi(p: usize, i: i32): i32 { return load<i32>(p + f4(i)); }

// Scratch layout, set by ssdLayout: per-chunk views and scalars, then the float32 buffers.
let sL: usize = 0, sDL: usize = 0, sDl: usize = 0, sXo: usize = 0, sBo: usize = 0, sCB: usize = 0, sDCB: usize = 0;
let sYi: usize = 0, sDSin: usize = 0;
let top: usize = 0;
function take(bytes: usize): usize {
  const r = top;
  top += (bytes + 63) & ~63;
  return r;
}
function ssdLayout(base: usize, hs: i32, n: i32, q: i32): usize {
  top = (base + 63) & ~63;
  sL = take(f8(q)); sDL = take(f8(q)); sDl = take(f8(q)); sXo = take(f4(q)); sBo = take(f4(q));
  sCB = take(f8(q * q)); sDCB = take(f8(q * q));
  sYi = take(f4(hs)); sDSin = take(f4(hs * n));
  return top - base;
}

/** Bytes of one thread's scratch for the SSD units (the per-chunk views and scalars above). */
export function ssdThreadScratch(hs: i32, n: i32, q: i32): usize {
  return ssdLayout(0, hs, n, q) + 64;
}

/**
 * Bytes of the scratch the SSD backward's units share: ∂L/∂S per (batch row, head) [b, nh, hs, n], then
 * per unit the partial sums of dA [nh] and dD [nD] (`ssdPartials` has the address).
 */
export function ssdSharedScratch(b: i32, nh: i32, hs: i32, n: i32, g: i32, nD: i32): usize {
  return ((f4(b * nh * hs * n) + 63) & ~63) + f4(b * g * (nh + nD)) + 128;
}

/** Address of the unit partials inside the shared scratch at `shared`. */
export function ssdPartials(shared: usize, b: i32, nh: i32, hs: i32, n: i32): usize {
  return ((shared + 63) & ~63) + ((f4(b * nh * hs * n) + 63) & ~63);
}

/** Rows of the chunk starting at t0 for head h of group gi (element offsets of x and of B/C, Δ per step); returns its length. */
function chunkView(t: i32, nh: i32, hs: i32, g: i32, n: i32, q: i32, delta: usize, bi: i32, t0: i32, h: i32, gi: i32): i32 {
  const l = min(q, t - t0);
  for (let j = 0; j < l; j++) {
    const row = bi * t + t0 + j;
    store<i32>(sXo + f4(j), (row * nh + h) * hs);
    store<i32>(sBo + f4(j), (row * g + gi) * n);
    stdd(sDl, j, <f64>ldf(delta, row * nh + h));
  }
  return l;
}

/** CB[i, j] = C_i · B_j for j ≤ i. */
function chunkCB(l: i32, n: i32, q: i32, B: usize, C: usize): void {
  for (let i = 0; i < l; i++) {
    const ci = C + f4(ldi(sBo, i));
    for (let j = 0; j <= i; j++) stdd(sCB, i * q + j, <f64>dot(ci, B + f4(ldi(sBo, j)), n));
  }
}

/** L_i = Σ_{j≤i} Δ_j A. */
function cumulativeDecay(l: i32, A: f64): void {
  let acc: f64 = 0;
  for (let i = 0; i < l; i++) { acc += ldd(sDl, i) * A; stdd(sL, i, acc); }
}

/**
 * Units u0 … u1−1 of the forward, a unit being (batch row bi, group gi), u = bi·g + gi: its heads' states,
 * outputs and chunk states are its own, and C·B is shared by a group's heads, so units on different
 * threads never meet (parallel.ts splits them). hT holds h0 on entry (the running state S).
 */
export function ssdForwardUnits(u0: i32, u1: i32, t: i32, nh: i32, hs: i32, g: i32, n: i32, q: i32, dPerChannel: bool,
  x: usize, delta: usize, A: usize, B: usize, C: usize, D: usize, y: usize, hT: usize, chunkStates: usize, ws: usize): void {
  ssdLayout(ws, hs, n, q);
  const nc = (t + q - 1) / q, hpg = nh / g, hsz = hs * n;
  for (let u = u0; u < u1; u++) {
    const bi = u / g, gi = u % g, hg = gi * hpg;
    for (let c = 0; c < nc; c++) {
      const t0 = c * q;
      if (chunkStates != 0) memory.copy(chunkStates + f4(((bi * nc + c) * nh + hg) * hsz), hT + f4((bi * nh + hg) * hsz), f4(hpg * hsz));
      {
        for (let h = gi * hpg; h < (gi + 1) * hpg; h++) {
          const l = chunkView(t, nh, hs, g, n, q, delta, bi, t0, h, gi);
          if (h == gi * hpg) chunkCB(l, n, q, B, C);
          cumulativeDecay(l, <f64>ldf(A, h));
          const S = hT + f4((bi * nh + h) * hsz);
          for (let i = 0; i < l; i++) {
            const Li = ldd(sL, i), ci = C + f4(ldi(sBo, i));
            const decayIn = <f32>Math.exp(Li);
            for (let e = 0; e < hs; e++) stf(sYi, e, decayIn * dot(S + f4(e * n), ci, n)); // (4) exp(L_i) S_in C_i
            for (let j = 0; j <= i; j++) {                                                    // (1) Σ_j exp(L_i − L_j) CB_ij Δ_j x_j
              const M = Math.exp(Li - ldd(sL, j)) * ldd(sCB, i * q + j) * ldd(sDl, j);
              axpy(sYi, <f32>M, x + f4(ldi(sXo, j)), hs);
            }
            const xi = x + f4(ldi(sXo, i)), yo = y + f4(ldi(sXo, i));
            for (let e = 0; e < hs; e++) {                                                    // + D x_i
              const dSkip: f32 = D != 0 ? ldf(D, dPerChannel ? h * hs + e : h) : 0;
              stf(yo, e, ldf(sYi, e) + dSkip * ldf(xi, e));
            }
          }
          const last = ldd(sL, l - 1);
          const dv = splat(<f32>Math.exp(last));                                               // (3)
          let e = 0;
          for (; e + 4 <= hsz; e += 4) v128.store(S + f4(e), f32x4.mul(dv, v128.load(S + f4(e))));
          for (; e < hsz; e++) stf(S, e, f32x4.extract_lane(dv, 0) * ldf(S, e));
          for (let j = 0; j < l; j++) {                                                       // (2)
            const f = <f32>(Math.exp(last - ldd(sL, j)) * ldd(sDl, j));
            const xj = x + f4(ldi(sXo, j)), bj = B + f4(ldi(sBo, j));
            for (let ee = 0; ee < hs; ee++) axpy(S + f4(ee * n), f * ldf(xj, ee), bj, n);
          }
        }
      }
    }
  }
}

/**
 * Units u0 … u1−1 of the backward, units as in `ssdForwardUnits`. A unit writes only its own rows of dx, Δ,
 * dB, dC and its heads' ∂L/∂S (in the shared scratch, `dS`, filled with dhT beforehand); dA and dD sum over
 * rows, so a unit adds to its own partial sums (`part`: [nh + nD] per unit, from zero) and the caller adds
 * those in unit order afterwards — the same sums whichever thread ran which unit.
 */
export function ssdBackwardUnits(u0: i32, u1: i32, t: i32, nh: i32, hs: i32, g: i32, n: i32, q: i32, dPerChannel: bool,
  x: usize, delta: usize, A: usize, B: usize, C: usize, D: usize, chunkStates: usize, dy: usize,
  dx: usize, ddelta: usize, dB: usize, dC: usize, dS: usize, part: usize, nD: i32, ws: usize): void {
  ssdLayout(ws, hs, n, q);
  const nc = (t + q - 1) / q, hpg = nh / g, hsz = hs * n;
  const sDS = (dS + 63) & ~63;
  for (let u = u0; u < u1; u++) {
    const bi = u / g, gi = u % g;
    const dA = part + f4(u * (nh + nD)), dD = dA + f4(nh);
    memory.fill(dA, 0, f4(nh + nD));
    for (let c = nc - 1; c >= 0; c--) {
      const t0 = c * q;
      {
        memory.fill(sDCB, 0, f8(q * q));
        let l = 0;
        for (let h = gi * hpg; h < (gi + 1) * hpg; h++) {
          l = chunkView(t, nh, hs, g, n, q, delta, bi, t0, h, gi);
          if (h == gi * hpg) chunkCB(l, n, q, B, C);
          const Ah = <f64>ldf(A, h);
          cumulativeDecay(l, Ah);
          memory.fill(sDL, 0, f8(q));
          const Sin = chunkStates + f4(((bi * nc + c) * nh + h) * hsz), dSo = sDS + f4((bi * nh + h) * hsz);
          const dd = ddelta + f4((bi * t + t0) * nh + h); // Δ of local step j at dd + j·nh
          // (3) S_out ∋ exp(L_last) S_in
          const last = ldd(sL, l - 1), decayAll = <f32>Math.exp(last);
          const dav = splat(decayAll);
          let e = 0;
          for (; e + 4 <= hsz; e += 4) v128.store(sDSin + f4(e), f32x4.mul(dav, v128.load(dSo + f4(e))));
          for (; e < hsz; e++) stf(sDSin, e, decayAll * ldf(dSo, e));
          let dLast = <f64>(decayAll * dot(dSo, Sin, hsz));
          // (2) S_out ∋ F_j x_j ⊗ B_j with F_j = exp(L_last − L_j) Δ_j
          for (let j = 0; j < l; j++) {
            const ej = Math.exp(last - ldd(sL, j)), F = ej * ldd(sDl, j), Ff = <f32>F;
            const xj = x + f4(ldi(sXo, j)), bj = B + f4(ldi(sBo, j)), dbj = dB + f4(ldi(sBo, j)), dxj = dx + f4(ldi(sXo, j));
            let qj: f64 = 0; // x_jᵀ dS_out B_j
            for (let ee = 0; ee < hs; ee++) {
              const xe = ldf(xj, ee), row = dSo + f4(ee * n);
              const vb = dot(row, bj, n);
              axpy(dbj, Ff * xe, row, n);
              qj += <f64>(xe * vb);
              stf(dxj, ee, ldf(dxj, ee) + Ff * vb);
            }
            stf(dd, j * nh, ldf(dd, j * nh) + <f32>(qj * ej));
            dLast += qj * F;
            stdd(sDL, j, ldd(sDL, j) - qj * F);
          }
          stdd(sDL, l - 1, ldd(sDL, l - 1) + dLast);
          if (dy != 0) {
            for (let i = 0; i < l; i++) {
              const Li = ldd(sL, i), decayIn = <f32>Math.exp(Li);
              const xi = x + f4(ldi(sXo, i)), dyi = dy + f4(ldi(sXo, i)), dxi = dx + f4(ldi(sXo, i));
              const ci = C + f4(ldi(sBo, i)), dci = dC + f4(ldi(sBo, i));
              let dLi = ldd(sDL, i);
              for (let ee = 0; ee < hs; ee++) {
                const gy = ldf(dyi, ee);
                if (gy == 0) continue;
                if (D != 0) { // y ∋ D x
                  const di = dPerChannel ? h * hs + ee : h;
                  stf(dD, di, ldf(dD, di) + gy * ldf(xi, ee));
                  stf(dxi, ee, ldf(dxi, ee) + gy * ldf(D, di));
                }
                // (4) y_i ∋ exp(L_i) S_in C_i
                const ge = decayIn * gy, srow = Sin + f4(ee * n);
                const sc = dot(srow, ci, n);
                axpy(dci, ge, srow, n);
                axpy(sDSin + f4(ee * n), ge, ci, n);
                dLi += <f64>(ge * sc);
              }
              stdd(sDL, i, dLi);
              // (1) y_i ∋ Σ_{j≤i} M_ij x_j with M_ij = exp(L_i − L_j) CB_ij Δ_j
              for (let j = 0; j <= i; j++) {
                const E = Math.exp(Li - ldd(sL, j)), cb = ldd(sCB, i * q + j), dlj = ldd(sDl, j), Mij = E * cb * dlj;
                const xj = x + f4(ldi(sXo, j));
                const dM = <f64>dot(dyi, xj, hs);
                axpy(dx + f4(ldi(sXo, j)), <f32>Mij, dyi, hs);
                stdd(sDCB, i * q + j, ldd(sDCB, i * q + j) + dM * E * dlj);
                stf(dd, j * nh, ldf(dd, j * nh) + <f32>(dM * E * cb));
                stdd(sDL, i, ldd(sDL, i) + dM * Mij);
                stdd(sDL, j, ldd(sDL, j) - dM * Mij);
              }
            }
          }
          // L_i = Σ_{k≤i} Δ_k A: each Δ_k and A receive the suffix sums of ∂L/∂L_i.
          let suffix: f64 = 0, dAh: f64 = 0;
          for (let k = l - 1; k >= 0; k--) {
            suffix += ldd(sDL, k);
            stf(dd, k * nh, ldf(dd, k * nh) + <f32>(suffix * Ah));
            dAh += suffix * ldd(sDl, k);
          }
          stf(dA, h, ldf(dA, h) + <f32>dAh);
          memory.copy(dSo, sDSin, f4(hsz)); // now ∂L/∂(state entering chunk c)
        }
        // CB_ij = C_i · B_j (the view still holds this chunk's rows, shared by the group)
        for (let i = 0; i < l; i++) {
          for (let j = 0; j <= i; j++) {
            const val = <f32>ldd(sDCB, i * q + j);
            if (val == 0) continue;
            axpy(dC + f4(ldi(sBo, i)), val, B + f4(ldi(sBo, j)), n);
            axpy(dB + f4(ldi(sBo, j)), val, C + f4(ldi(sBo, i)), n);
          }
        }
      }
    }
  }
}
