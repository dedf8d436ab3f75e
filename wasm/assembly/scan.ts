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
import { fma, hsum, splat } from './vec';

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

export function selectiveScanForward(b: i32, t: i32, di: i32, n: i32, x: usize, delta: usize, A: usize, B: usize,
  C: usize, D: usize, h0: usize, y: usize, hT: usize, hs: usize): void {
  memory.copy(hT, h0, f4(b * di * n)); // hT is the running state h
  for (let bi = 0; bi < b; bi++) {
    for (let ti = 0; ti < t; ti++) {
      const xo = (bi * t + ti) * di, Bt = B + f4((bi * t + ti) * n), Ct = C + f4((bi * t + ti) * n);
      for (let d = 0; d < di; d++) {
        const dl = ldf(delta, xo + d), xv = ldf(x, xo + d), dlx = dl * xv;
        const h = hT + f4((bi * di + d) * n), Ad = A + f4(d * n);
        const sv = hs != 0 ? hs + f4(((bi * t + ti) * di + d) * n) : 0;
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

/** Bytes of scratch `selectiveScanBackward` needs: ∂L/∂h of one batch row, [di, n]. */
export function selectiveScanBackwardScratch(di: i32, n: i32): usize {
  return f4(di * n) + 64;
}

export function selectiveScanBackward(b: i32, t: i32, di: i32, n: i32, x: usize, delta: usize, A: usize, B: usize,
  C: usize, D: usize, h0: usize, hs: usize, dy: usize, dhT: usize,
  dx: usize, ddelta: usize, dA: usize, dB: usize, dC: usize, dD: usize, dh0: usize, ws: usize): void {
  const dh = (ws + 63) & ~63; // ∂L/∂h_t of every channel, carried backwards in time
  const dn = di * n;
  for (let bi = 0; bi < b; bi++) {
    if (dhT != 0) memory.copy(dh, dhT + f4(bi * dn), f4(dn));
    else memory.fill(dh, 0, f4(dn));
    for (let ti = t - 1; ti >= 0; ti--) {
      const xo = (bi * t + ti) * di, bo = (bi * t + ti) * n;
      const Bt = B + f4(bo), Ct = C + f4(bo), dBt = dB + f4(bo), dCt = dC + f4(bo);
      const hsT = hs + f4((bi * t + ti) * dn);
      const hsP = ti > 0 ? hsT - f4(dn) : h0 + f4(bi * dn); // h_{t−1}
      for (let d = 0; d < di; d++) {
        const dl = ldf(delta, xo + d), xv = ldf(x, xo + d);
        const gy: f32 = dy != 0 ? ldf(dy, xo + d) : 0;
        let dxv: f32 = 0;
        if (D != 0) { // y ∋ D x
          if (dD != 0) stf(dD, d, ldf(dD, d) + gy * xv);
          dxv += gy * ldf(D, d);
        }
        const ph = hsT + f4(d * n), pp = hsP + f4(d * n), Ad = A + f4(d * n), dAd = dA + f4(d * n), pdh = dh + f4(d * n);
        const dlv = splat(dl), gyv = splat(gy), xvv = splat(xv), dlxv = splat(dl * xv);
        let aDl = splat(0), aX = splat(0);
        let j = 0;
        for (; j + 4 <= n; j += 4) {
          const q = f4(j);
          const Aj = v128.load(Ad + q), Bj = v128.load(Bt + q);
          const a = vexp(f32x4.mul(dlv, Aj));
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
          const a = sexp(dl * Aj);
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
