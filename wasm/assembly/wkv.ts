/**
 * The WKV recurrences of RWKV-6 and RWKV-7 over whole sequences: the same equations, state layouts and
 * checkpoints as src/kernels/ref/wkv.ts (the specification; read it first). Per (sequence, head) one step
 * at a time, vectorised along a row of the N×N state (4 lanes, scalar tail for N mod 4), in float32.
 *
 * Symbols (per head): N head size; S the state; i indexes values, j keys. RWKV-6 keeps S[j, i], RWKV-7
 * S[i, j]. Inputs are [B, T, H, N], states [B, H, N, N], `states` (saved) [B, H, ⌈T/L⌉, N, N] with
 * L = 16 steps between checkpoints. Every pointer is a byte address; `dy` and `dsT` may be 0 for zeros.
 */
import { dot, fma, hsum, splat } from './vec';

/** Steps between two saved states (WKV_CHECKPOINT_EVERY in src/kernels/types.ts). */
const L: i32 = 16;

// @ts-ignore: decorator
@inline function f4(i: i32): usize { return <usize>i << 2; }
/** x[i] broadcast to 4 lanes (one load32_splat). */
// @ts-ignore: decorator
@inline function bc(p: usize, i: i32): v128 { return v128.load32_splat(p + f4(i)); }
// @ts-ignore: decorator
@inline function ldf(p: usize, i: i32): f32 { return load<f32>(p + f4(i)); }
// @ts-ignore: decorator
@inline function stf(p: usize, i: i32, v: f32): void { store<f32>(p + f4(i), v); }

/** Σ_j a_j b_j c_j over n values. */
function dot3(a: usize, b: usize, c: usize, n: i32): f32 {
  let acc = splat(0);
  let j = 0;
  for (; j + 4 <= n; j += 4) acc = fma(f32x4.mul(v128.load(a + f4(j)), v128.load(b + f4(j))), v128.load(c + f4(j)), acc);
  let s = hsum(acc);
  for (; j < n; j++) s += ldf(a, j) * ldf(b, j) * ldf(c, j);
  return s;
}

/** Bytes of scratch one thread of `wkv6Backward` / `wkv7Backward` needs: the L + 1 states of a stretch and a row of zeros. */
export function wkvThreadScratch(N: i32): usize {
  return f4((L + 1) * N * N + N) + 64;
}

// ---------------------------------------------------------------- RWKV-6

/**
 * y = rᵀ(S + diag(u) k vᵀ) (when y ≠ 0), then S' = diag(w) S + k vᵀ, from S[j, i] at `src` to `dst`
 * (the same address for in place). Columns in blocks of 16 with y's block kept in registers across rows.
 */
function step6(src: usize, dst: usize, N: i32, r: usize, k: usize, v: usize, w: usize, u: usize, y: usize): void {
  const withY = y != 0;
  const ruk = withY ? dot3(r, u, k, N) : 0; // Σ_j r_j u_j k_j: the bonus term's weight on v
  const rukv = splat(ruk);
  const rowBytes = f4(N);
  let i = 0;
  for (; i + 16 <= N; i += 16) {
    const v0 = v128.load(v + f4(i)), v1 = v128.load(v + f4(i + 4)), v2 = v128.load(v + f4(i + 8)), v3 = v128.load(v + f4(i + 12));
    let y0 = f32x4.mul(rukv, v0), y1 = f32x4.mul(rukv, v1), y2 = f32x4.mul(rukv, v2), y3 = f32x4.mul(rukv, v3);
    let ps = src + f4(i), pd = dst + f4(i);
    for (let j = 0; j < N; j++) {
      const rj = bc(r, j), wj = bc(w, j), kj = bc(k, j);
      const s0 = v128.load(ps), s1 = v128.load(ps, 16), s2 = v128.load(ps, 32), s3 = v128.load(ps, 48);
      y0 = fma(rj, s0, y0); y1 = fma(rj, s1, y1); y2 = fma(rj, s2, y2); y3 = fma(rj, s3, y3);
      v128.store(pd, fma(s0, wj, f32x4.mul(kj, v0)));
      v128.store(pd, fma(s1, wj, f32x4.mul(kj, v1)), 16);
      v128.store(pd, fma(s2, wj, f32x4.mul(kj, v2)), 32);
      v128.store(pd, fma(s3, wj, f32x4.mul(kj, v3)), 48);
      ps += rowBytes; pd += rowBytes;
    }
    if (withY) {
      v128.store(y + f4(i), y0); v128.store(y + f4(i + 4), y1); v128.store(y + f4(i + 8), y2); v128.store(y + f4(i + 12), y3);
    }
  }
  for (; i + 4 <= N; i += 4) {
    const v0 = v128.load(v + f4(i));
    let y0 = f32x4.mul(rukv, v0);
    let ps = src + f4(i), pd = dst + f4(i);
    for (let j = 0; j < N; j++) {
      const s0 = v128.load(ps);
      y0 = fma(bc(r, j), s0, y0);
      v128.store(pd, fma(s0, bc(w, j), f32x4.mul(bc(k, j), v0)));
      ps += rowBytes; pd += rowBytes;
    }
    if (withY) v128.store(y + f4(i), y0);
  }
  for (; i < N; i++) {
    const vi = ldf(v, i);
    let yi = ruk * vi;
    for (let j = 0; j < N; j++) {
      const s = ldf(src, j * N + i);
      yi += ldf(r, j) * s;
      stf(dst, j * N + i, s * ldf(w, j) + ldf(k, j) * vi);
    }
    if (withY) stf(y, i, yi);
  }
}

/** Blocks bh0 … bh1−1 of the B·H (sequence, head) blocks; each is independent of the others. */
export function wkv6ForwardBlocks(bh0: i32, bh1: i32, T: i32, H: i32, N: i32, r: usize, k: usize, v: usize, w: usize, u: usize,
  s0: usize, y: usize, sT: usize, states: usize): void {
  const C = H * N, NN = N * N, stretches = (T + L - 1) / L;
  for (let bh = bh0; bh < bh1; bh++) {
    const b = bh / H, h = bh % H;
    {
      const S = sT + f4((b * H + h) * NN); // the running state lives in sT
      memory.copy(S, s0 + f4((b * H + h) * NN), f4(NN));
      const uh = u + f4(h * N);
      for (let t = 0; t < T; t++) {
        if (t % L == 0) memory.copy(states + f4(((b * H + h) * stretches + t / L) * NN), S, f4(NN));
        const o = f4((b * T + t) * C + h * N);
        step6(S, S, N, r + o, k + o, v + o, w + o, uh, y + o);
      }
    }
  }
}

/**
 * One step backwards from the state before it (`prev`, S[j, i]): writes dr, dk, dw, dv at the step, adds to
 * du, and turns dS from ∂L/∂S_t into ∂L/∂S_{t−1} in place. `dy` points at the step's dy (or at zeros).
 */
function back6(prev: usize, dS: usize, N: i32, r: usize, k: usize, v: usize, w: usize, u: usize, dy: usize,
  dr: usize, dk: usize, dv: usize, dw: usize, du: usize): void {
  const dyv = dot(dy, v, N), ruk = dot3(r, u, k, N);
  // dv_i = dy_i Σ_j r_j u_j k_j + Σ_j dS[j, i] k_j, accumulated in dv row by row
  const rukv = splat(ruk);
  let i = 0;
  for (; i + 4 <= N; i += 4) v128.store(dv + f4(i), f32x4.mul(v128.load(dy + f4(i)), rukv));
  for (; i < N; i++) stf(dv, i, ldf(dy, i) * ruk);
  for (let j = 0; j < N; j++) {
    const rj = ldf(r, j), kj = ldf(k, j), uj = ldf(u, j), wj = ldf(w, j);
    const rjv = splat(rj), kjv = splat(kj), wjv = splat(wj);
    const ps = prev + f4(j * N), pd = dS + f4(j * N);
    let aR = splat(0), aK = splat(0), aW = splat(0);
    i = 0;
    for (; i + 4 <= N; i += 4) {
      const sp = v128.load(ps + f4(i)), ds = v128.load(pd + f4(i)), dyi = v128.load(dy + f4(i));
      aR = fma(dyi, sp, aR);                       // y_i = Σ_j r_j S_{t−1}[j, i] + …
      aK = fma(ds, v128.load(v + f4(i)), aK);      // S_t[j, i] = w_j S_{t−1}[j, i] + k_j v_i
      aW = fma(ds, sp, aW);
      v128.store(dv + f4(i), fma(ds, kjv, v128.load(dv + f4(i))));
      v128.store(pd + f4(i), fma(ds, wjv, f32x4.mul(rjv, dyi))); // ∂L/∂S_{t−1} = w_j ∂L/∂S_t + r_j dy_i
    }
    let sR = hsum(aR), sK = hsum(aK), sW = hsum(aW);
    for (; i < N; i++) {
      const sp = ldf(ps, i), ds = ldf(pd, i), dyi = ldf(dy, i);
      sR += dyi * sp;
      sK += ds * ldf(v, i);
      sW += ds * sp;
      stf(dv, i, ldf(dv, i) + ds * kj);
      stf(pd, i, ds * wj + rj * dyi);
    }
    stf(dr, j, uj * kj * dyv + sR);
    stf(dk, j, rj * uj * dyv + sK);
    stf(dw, j, sW);
    stf(du, j, ldf(du, j) + rj * kj * dyv);
  }
}

/**
 * Heads h0 … h1−1 of every sequence. du[h] sums over the sequences, so a head's blocks stay on one thread,
 * in the order b = 0, 1, … (the same sum whichever thread computes it). `ws`: wkvBackwardScratch(N) bytes.
 */
export function wkv6BackwardHeads(h0: i32, h1: i32, B: i32, T: i32, H: i32, N: i32, r: usize, k: usize, v: usize, w: usize, u: usize,
  states: usize, dy: usize, dsT: usize, dr: usize, dk: usize, dv: usize, dw: usize, du: usize, ds0: usize, ws: usize): void {
  const C = H * N, NN = N * N, stretches = (T + L - 1) / L;
  const buf = (ws + 63) & ~63, zeros = buf + f4((L + 1) * NN);
  memory.fill(zeros, 0, f4(N));
  for (let b = 0; b < B; b++) {
    for (let h = h0; h < h1; h++) {
      const dS = ds0 + f4((b * H + h) * NN); // dS is carried in ds0, which ends as ∂L/∂S_0
      if (dsT == 0) memory.fill(dS, 0, f4(NN));
      else memory.copy(dS, dsT + f4((b * H + h) * NN), f4(NN));
      const uh = u + f4(h * N), duh = du + f4(h * N);
      for (let c = stretches - 1; c >= 0; c--) {
        const t0 = c * L, len = min(L, T - t0);
        // Recompute the states before each step of the stretch from its checkpoint.
        memory.copy(buf, states + f4(((b * H + h) * stretches + c) * NN), f4(NN));
        for (let m = 1; m < len; m++) {
          const o = f4((b * T + t0 + m - 1) * C + h * N);
          step6(buf + f4((m - 1) * NN), buf + f4(m * NN), N, r + o, k + o, v + o, w + o, uh, 0);
        }
        for (let m = len - 1; m >= 0; m--) {
          const o = f4((b * T + t0 + m) * C + h * N);
          back6(buf + f4(m * NN), dS, N, r + o, k + o, v + o, w + o, uh, dy != 0 ? dy + o : zeros,
            dr + o, dk + o, dv + o, dw + o, duh);
        }
      }
    }
  }
}

// ---------------------------------------------------------------- RWKV-7

/**
 * S' = S diag(w) + (S a) bᵀ + v kᵀ, then y = S' r (when y ≠ 0), from S[i, j] at `src` to `dst` (the same
 * address for in place). Row i only meets v_i and its own (S a)_i, so one row at a time.
 */
function step7(src: usize, dst: usize, N: i32, r: usize, w: usize, k: usize, v: usize, a: usize, b: usize, y: usize): void {
  for (let i = 0; i < N; i++) {
    const ps = src + f4(i * N), pd = dst + f4(i * N);
    const sai = dot(ps, a, N), vi = ldf(v, i);
    const sav = splat(sai), viv = splat(vi);
    let acc = splat(0);
    let j = 0;
    for (; j + 4 <= N; j += 4) {
      const q = f4(j);
      const s = fma(v128.load(ps + q), v128.load(w + q), fma(sav, v128.load(b + q), f32x4.mul(viv, v128.load(k + q))));
      v128.store(pd + q, s);
      acc = fma(s, v128.load(r + q), acc); // the stored state, as a later step reads it
    }
    let yi = hsum(acc);
    for (; j < N; j++) {
      const s = ldf(ps, j) * ldf(w, j) + (sai * ldf(b, j) + vi * ldf(k, j));
      stf(pd, j, s);
      yi += s * ldf(r, j);
    }
    if (y != 0) stf(y, i, yi);
  }
}

/** Blocks bh0 … bh1−1 of the B·H (sequence, head) blocks. */
export function wkv7ForwardBlocks(bh0: i32, bh1: i32, T: i32, H: i32, N: i32, r: usize, w: usize, k: usize, v: usize, a: usize, bb: usize,
  s0: usize, y: usize, sT: usize, states: usize): void {
  const C = H * N, NN = N * N, stretches = (T + L - 1) / L;
  for (let bh = bh0; bh < bh1; bh++) {
    const b = bh / H, h = bh % H;
    {
      const S = sT + f4((b * H + h) * NN);
      memory.copy(S, s0 + f4((b * H + h) * NN), f4(NN));
      for (let t = 0; t < T; t++) {
        if (t % L == 0) memory.copy(states + f4(((b * H + h) * stretches + t / L) * NN), S, f4(NN));
        const o = f4((b * T + t) * C + h * N);
        step7(S, S, N, r + o, w + o, k + o, v + o, a + o, bb + o, y + o);
      }
    }
  }
}

/**
 * One step backwards with S_{t−1} at `prev` and S_t at `cur` (both S[i, j]): writes dr, dw, dk, dv, da, db
 * at the step and turns dS from ∂L/∂S_t into ∂L/∂S_{t−1}. `dy` is 0 for zeros.
 */
function back7(prev: usize, cur: usize, dS: usize, N: i32, r: usize, w: usize, k: usize, v: usize, a: usize, b: usize,
  dy: usize, dr: usize, dw: usize, dk: usize, dv: usize, da: usize, db: usize): void {
  memory.fill(dr, 0, f4(N)); memory.fill(dw, 0, f4(N)); memory.fill(dk, 0, f4(N));
  memory.fill(da, 0, f4(N)); memory.fill(db, 0, f4(N));
  for (let i = 0; i < N; i++) {
    const pp = prev + f4(i * N), pc = cur + f4(i * N), pd = dS + f4(i * N);
    const dyi: f32 = dy != 0 ? ldf(dy, i) : 0, vi = ldf(v, i);
    const dyv = splat(dyi);
    // (S_{t−1} a)_i recomputed; y_i = Σ_j S_t[i, j] r_j gives dr_j += dy_i S_t[i, j], dS_t[i, j] += dy_i r_j;
    // then dv_i and d(sa)_i from S_t = S_{t−1} diag(w) + sa bᵀ + v kᵀ.
    let aSa = splat(0), aV = splat(0), aDsa = splat(0);
    let j = 0;
    for (; j + 4 <= N; j += 4) {
      const q = f4(j);
      aSa = fma(v128.load(pp + q), v128.load(a + q), aSa);
      v128.store(dr + q, fma(dyv, v128.load(pc + q), v128.load(dr + q)));
      const ds = fma(dyv, v128.load(r + q), v128.load(pd + q));
      v128.store(pd + q, ds);
      aV = fma(ds, v128.load(k + q), aV);
      aDsa = fma(ds, v128.load(b + q), aDsa);
    }
    let sai = hsum(aSa), dvi = hsum(aV), dsai = hsum(aDsa);
    for (; j < N; j++) {
      sai += ldf(pp, j) * ldf(a, j);
      stf(dr, j, ldf(dr, j) + dyi * ldf(pc, j));
      const ds = ldf(pd, j) + dyi * ldf(r, j);
      stf(pd, j, ds);
      dvi += ds * ldf(k, j);
      dsai += ds * ldf(b, j);
    }
    stf(dv, i, dvi);
    const sav = splat(sai), viv = splat(vi), dsav = splat(dsai);
    j = 0;
    for (; j + 4 <= N; j += 4) {
      const q = f4(j);
      const ds = v128.load(pd + q), sp = v128.load(pp + q);
      v128.store(dw + q, fma(ds, sp, v128.load(dw + q)));
      v128.store(db + q, fma(ds, sav, v128.load(db + q)));
      v128.store(dk + q, fma(ds, viv, v128.load(dk + q)));
      v128.store(da + q, fma(dsav, sp, v128.load(da + q)));
      v128.store(pd + q, fma(ds, v128.load(w + q), f32x4.mul(dsav, v128.load(a + q)))); // dS_{t−1} = dS_t diag(w) + dsa aᵀ
    }
    for (; j < N; j++) {
      const ds = ldf(pd, j), sp = ldf(pp, j);
      stf(dw, j, ldf(dw, j) + ds * sp);
      stf(db, j, ldf(db, j) + ds * sai);
      stf(dk, j, ldf(dk, j) + ds * vi);
      stf(da, j, ldf(da, j) + dsai * sp);
      stf(pd, j, ds * ldf(w, j) + dsai * ldf(a, j));
    }
  }
}

/** Blocks bh0 … bh1−1 (no gradient is shared between blocks). `ws`: wkvBackwardScratch(N) bytes. */
export function wkv7BackwardBlocks(bh0: i32, bh1: i32, T: i32, H: i32, N: i32, r: usize, w: usize, k: usize, v: usize, a: usize, bb: usize,
  states: usize, dy: usize, dsT: usize, dr: usize, dw: usize, dk: usize, dv: usize, da: usize, db: usize, ds0: usize, ws: usize): void {
  const C = H * N, NN = N * N, stretches = (T + L - 1) / L;
  const buf = (ws + 63) & ~63;
  for (let bh = bh0; bh < bh1; bh++) {
    const b = bh / H, h = bh % H;
    {
      const dS = ds0 + f4((b * H + h) * NN);
      if (dsT == 0) memory.fill(dS, 0, f4(NN));
      else memory.copy(dS, dsT + f4((b * H + h) * NN), f4(NN));
      for (let c = stretches - 1; c >= 0; c--) {
        const t0 = c * L, len = min(L, T - t0);
        // States before each step of the stretch and after its last (back7 reads S_t too).
        memory.copy(buf, states + f4(((b * H + h) * stretches + c) * NN), f4(NN));
        for (let m = 1; m <= len; m++) {
          const o = f4((b * T + t0 + m - 1) * C + h * N);
          step7(buf + f4((m - 1) * NN), buf + f4(m * NN), N, r + o, w + o, k + o, v + o, a + o, bb + o, 0);
        }
        for (let m = len - 1; m >= 0; m--) {
          const o = f4((b * T + t0 + m) * C + h * N);
          back7(buf + f4(m * NN), buf + f4((m + 1) * NN), dS, N, r + o, w + o, k + o, v + o, a + o, bb + o,
            dy != 0 ? dy + o : 0, dr + o, dw + o, dk + o, dv + o, da + o, db + o);
        }
      }
    }
  }
}
