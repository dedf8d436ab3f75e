/**
 * Packed, register-blocked single-precision GEMM (the GotoBLAS/BLIS scheme):
 *
 *   C[m, n] (+)= op(A)[m, k] · op(B)[k, n]
 *
 * Operands are described by strides, so every transpose and any leading dimension is one code path:
 * op(A)[i, p] is at A + 4·(i·rsA + p·csA), op(B)[p, j] at B + 4·(p·rsB + j·csB); C has row stride ldc.
 *
 * - B is packed once into NR-wide strips, k-major (strip j holds op(B)[p, 8j..8j+7] for p = 0..k−1,
 *   zero-padded past n). A caller that multiplies by the same B many times (the recurrent loops: W_hh
 *   at every time step) packs it once with `packB` and calls `gemmPacked`.
 * - A is packed per (KC × MC) block into MR-row panels, k-major, zero-padded past m.
 * - The 4×8 micro-kernel keeps 8 vector accumulators in registers; one k step is 2 B loads,
 *   4 broadcasts of A and 8 FMAs. (A 6×8 kernel has more reuse on paper, but V8 keeps xmm15 as a
 *   scratch register and spills 3 of its 12 accumulators; 4×8 measured faster on Node 20.) Edge tiles run the same kernel into a scratch tile and copy the
 *   valid part, so tails cost no extra code paths.
 * - A single row (a matrix-vector product: the batch-1 streaming step) runs a 1×32 kernel instead.
 */
import { fma, splat } from './vec';

export const MR: i32 = 4;
export const NR: i32 = 8;
export const KC: i32 = 256;
export const MC: i32 = 128; // multiple of MR; an A block is MC·KC·4 = 128 KiB (fits L2)

/** Floats needed by packB for op(B) of k × n. */
export function packedBSize(k: i32, n: i32): i32 {
  return ((n + NR - 1) / NR) * NR * k;
}

/** Bytes of scratch `gemmPacked` needs (A block + edge tile). */
export function gemmPackedScratch(): i32 {
  return (MC * KC + MR * NR) << 2;
}

/** Bytes of scratch `gemm` needs for op(B) of k × n. */
export function gemmScratch(k: i32, n: i32): i32 {
  return (packedBSize(k, n) << 2) + gemmPackedScratch();
}

/** Pack op(B) [k × n] into NR-wide k-major strips at dst. */
export function packB(k: i32, n: i32, B: usize, rsB: i32, csB: i32, dst: usize): void {
  const strips = (n + NR - 1) / NR;
  let d = dst;
  for (let jr = 0; jr < strips; jr++) {
    const j0 = jr * NR;
    const nr = min(NR, n - j0);
    if (nr == NR && csB == 1) {
      let s = B + (<usize>j0 << 2);
      const step = <usize>rsB << 2;
      for (let p = 0; p < k; p++) {
        v128.store(d, v128.load(s));
        v128.store(d, v128.load(s, 16), 16);
        s += step;
        d += NR << 2;
      }
    } else if (rsB == 1) {
      // op(B) is a transposed matrix: each of the strip's columns is contiguous in p.
      for (let jj = 0; jj < NR; jj++) {
        const out = d + (<usize>jj << 2);
        if (jj < nr) {
          const col = B + (<usize>((j0 + jj) * csB) << 2);
          for (let p = 0; p < k; p++) store<f32>(out + (<usize>(p * NR) << 2), load<f32>(col + (<usize>p << 2)));
        } else {
          for (let p = 0; p < k; p++) store<f32>(out + (<usize>(p * NR) << 2), 0);
        }
      }
      d += <usize>(k * NR) << 2;
    } else {
      for (let p = 0; p < k; p++) {
        for (let jj = 0; jj < NR; jj++) {
          const v: f32 = jj < nr ? load<f32>(B + (<usize>(p * rsB + (j0 + jj) * csB) << 2)) : 0;
          store<f32>(d + (<usize>jj << 2), v);
        }
        d += NR << 2;
      }
    }
  }
}

/** Pack op(A)[i0 .. i0+mc, p0 .. p0+kc] into MR-row panels, k-major, zero-padded. */
function packA(mc: i32, kc: i32, A: usize, rsA: i32, csA: i32, i0: i32, p0: i32, dst: usize): void {
  let d = dst;
  for (let ir = 0; ir < mc; ir += MR) {
    const mr = min(MR, mc - ir);
    const base = A + (<usize>((i0 + ir) * rsA + p0 * csA) << 2);
    if (mr == MR && rsA == 1) {
      // op(A) is transposed: the panel's MR values at each p are contiguous.
      let s = base;
      const step = <usize>csA << 2;
      for (let p = 0; p < kc; p++) {
        v128.store(d, v128.load(s));
        s += step;
        d += MR << 2;
      }
    } else {
      for (let ii = 0; ii < MR; ii++) {
        const out = d + (<usize>ii << 2);
        if (ii < mr) {
          const row = base + (<usize>(ii * rsA) << 2);
          if (csA == 1) {
            for (let p = 0; p < kc; p++) store<f32>(out + (<usize>(p * MR) << 2), load<f32>(row + (<usize>p << 2)));
          } else {
            for (let p = 0; p < kc; p++) store<f32>(out + (<usize>(p * MR) << 2), load<f32>(row + (<usize>(p * csA) << 2)));
          }
        } else {
          for (let p = 0; p < kc; p++) store<f32>(out + (<usize>(p * MR) << 2), 0);
        }
      }
      d += <usize>(kc * MR) << 2;
    }
  }
}

/** C[4 × 8] (+)= Apanel[4 × kc] · Bstrip[kc × 8]. */
// @ts-ignore: decorator
@inline function kernel4x8(kc: i32, a: usize, b: usize, c: usize, ldc: i32, acc: bool): void {
  let c00 = splat(0), c01 = splat(0), c10 = splat(0), c11 = splat(0);
  let c20 = splat(0), c21 = splat(0), c30 = splat(0), c31 = splat(0);
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(b), b1 = v128.load(b, 16);
    let av = v128.load32_splat(a);
    c00 = fma(av, b0, c00); c01 = fma(av, b1, c01);
    av = v128.load32_splat(a, 4);
    c10 = fma(av, b0, c10); c11 = fma(av, b1, c11);
    av = v128.load32_splat(a, 8);
    c20 = fma(av, b0, c20); c21 = fma(av, b1, c21);
    av = v128.load32_splat(a, 12);
    c30 = fma(av, b0, c30); c31 = fma(av, b1, c31);
    a += MR << 2;
    b += NR << 2;
  }
  const row = <usize>ldc << 2;
  if (acc) {
    v128.store(c, f32x4.add(v128.load(c), c00)); v128.store(c, f32x4.add(v128.load(c, 16), c01), 16); c += row;
    v128.store(c, f32x4.add(v128.load(c), c10)); v128.store(c, f32x4.add(v128.load(c, 16), c11), 16); c += row;
    v128.store(c, f32x4.add(v128.load(c), c20)); v128.store(c, f32x4.add(v128.load(c, 16), c21), 16); c += row;
    v128.store(c, f32x4.add(v128.load(c), c30)); v128.store(c, f32x4.add(v128.load(c, 16), c31), 16);
  } else {
    v128.store(c, c00); v128.store(c, c01, 16); c += row;
    v128.store(c, c10); v128.store(c, c11, 16); c += row;
    v128.store(c, c20); v128.store(c, c21, 16); c += row;
    v128.store(c, c30); v128.store(c, c31, 16);
  }
}

/** Copy (or add) the valid mr × nr corner of an MR×NR scratch tile into C. */
function storeTile(tile: usize, mr: i32, nr: i32, c: usize, ldc: i32, acc: bool): void {
  for (let i = 0; i < mr; i++) {
    const src = tile + (<usize>(i * NR) << 2);
    const dst = c + (<usize>(i * ldc) << 2);
    for (let j = 0; j < nr; j++) {
      const q = <usize>j << 2;
      store<f32>(dst + q, acc ? load<f32>(dst + q) + load<f32>(src + q) : load<f32>(src + q));
    }
  }
}

/**
 * One row: c[0, n] (+)= a[0, k] · packedB, 32 columns (8 accumulators) at a time. Like the blocked path
 * it sums each KC-long slice of k in registers and then adds it to C, so every element of C is computed
 * by the same sequence of operations whatever m is: a batch-1 step gives bit-identical results to the
 * same row inside a larger batch.
 */
function gemvPacked(n: i32, k: i32, a: usize, csA: i32, pB: usize, c: usize, accumulate: bool, tile: usize): void {
  const strips = (n + NR - 1) / NR;
  const stripBytes = <usize>(k * NR) << 2;
  const aStep = <usize>csA << 2;
  for (let pc = 0; pc < k; pc += KC) {
    const kc = min(KC, k - pc);
    const acc = accumulate || pc > 0;
    const a0 = a + <usize>pc * aStep;
    const off = <usize>(pc * NR) << 2;
    let jr = 0;
    for (; jr + 4 <= strips; jr += 4) {
      let s0 = pB + <usize>jr * stripBytes + off;
      let s1 = s0 + stripBytes, s2 = s1 + stripBytes, s3 = s2 + stripBytes;
      let x0 = splat(0), x1 = splat(0), x2 = splat(0), x3 = splat(0), x4 = splat(0), x5 = splat(0), x6 = splat(0), x7 = splat(0);
      let ap = a0;
      for (let p = 0; p < kc; p++) {
        const av = v128.load32_splat(ap);
        x0 = fma(av, v128.load(s0), x0); x1 = fma(av, v128.load(s0, 16), x1);
        x2 = fma(av, v128.load(s1), x2); x3 = fma(av, v128.load(s1, 16), x3);
        x4 = fma(av, v128.load(s2), x4); x5 = fma(av, v128.load(s2, 16), x5);
        x6 = fma(av, v128.load(s3), x6); x7 = fma(av, v128.load(s3, 16), x7);
        ap += aStep; s0 += 32; s1 += 32; s2 += 32; s3 += 32;
      }
      v128.store(tile, x0); v128.store(tile, x1, 16); v128.store(tile, x2, 32); v128.store(tile, x3, 48);
      v128.store(tile, x4, 64); v128.store(tile, x5, 80); v128.store(tile, x6, 96); v128.store(tile, x7, 112);
      const j0 = jr * NR;
      storeRow(tile, min(4 * NR, n - j0), c + (<usize>j0 << 2), acc);
    }
    for (; jr < strips; jr++) {
      let s0 = pB + <usize>jr * stripBytes + off;
      let x0 = splat(0), x1 = splat(0);
      let ap = a0;
      for (let p = 0; p < kc; p++) {
        const av = v128.load32_splat(ap);
        x0 = fma(av, v128.load(s0), x0); x1 = fma(av, v128.load(s0, 16), x1);
        ap += aStep; s0 += 32;
      }
      v128.store(tile, x0); v128.store(tile, x1, 16);
      const j0 = jr * NR;
      storeRow(tile, min(NR, n - j0), c + (<usize>j0 << 2), acc);
    }
  }
}

// @ts-ignore: decorator
@inline function storeRow(src: usize, nc: i32, dst: usize, acc: bool): void {
  let j = 0;
  for (; j + 4 <= nc; j += 4) {
    const q = <usize>j << 2;
    v128.store(dst + q, acc ? f32x4.add(v128.load(dst + q), v128.load(src + q)) : v128.load(src + q));
  }
  for (; j < nc; j++) {
    const q = <usize>j << 2;
    store<f32>(dst + q, acc ? load<f32>(dst + q) + load<f32>(src + q) : load<f32>(src + q));
  }
}

/** C (+)= op(A) · B with B already packed by `packB(k, n, …)`. `scratch`: gemmPackedScratch() bytes. */
export function gemmPacked(m: i32, n: i32, k: i32, A: usize, rsA: i32, csA: i32, pB: usize,
  C: usize, ldc: i32, accumulate: bool, scratch: usize): void {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate) for (let i = 0; i < m; i++) memory.fill(C + (<usize>(i * ldc) << 2), 0, <usize>n << 2);
    return;
  }
  const tile = scratch + (<usize>(MC * KC) << 2);
  if (m == 1) {
    gemvPacked(n, k, A, csA, pB, C, accumulate, tile);
    return;
  }
  const pA = scratch;
  const strips = (n + NR - 1) / NR;
  for (let pc = 0; pc < k; pc += KC) {
    const kc = min(KC, k - pc);
    const acc = accumulate || pc > 0;
    for (let ic = 0; ic < m; ic += MC) {
      const mc = min(MC, m - ic);
      packA(mc, kc, A, rsA, csA, ic, pc, pA);
      for (let jr = 0; jr < strips; jr++) {
        const nr = min(NR, n - jr * NR);
        const bseg = pB + (<usize>((jr * k + pc) * NR) << 2);
        for (let ir = 0; ir < mc; ir += MR) {
          const mr = min(MR, mc - ir);
          const ap = pA + (<usize>(ir * kc) << 2);
          const cp = C + (<usize>((ic + ir) * ldc + jr * NR) << 2);
          if (mr == MR && nr == NR) {
            kernel4x8(kc, ap, bseg, cp, ldc, acc);
          } else {
            kernel4x8(kc, ap, bseg, tile, NR, false);
            storeTile(tile, mr, nr, cp, ldc, acc);
          }
        }
      }
    }
  }
}

/** C[m × n] (+)= op(A) · op(B). `scratch`: gemmScratch(k, n) bytes. */
export function gemm(m: i32, n: i32, k: i32, A: usize, rsA: i32, csA: i32, B: usize, rsB: i32, csB: i32,
  C: usize, ldc: i32, accumulate: bool, scratch: usize): void {
  if (m <= 0 || n <= 0) return;
  const pB = scratch;
  if (k > 0) packB(k, n, B, rsB, csB, pB);
  gemmPacked(m, n, k, A, rsA, csA, pB, C, ldc, accumulate, scratch + (<usize>packedBSize(k, n) << 2));
}
