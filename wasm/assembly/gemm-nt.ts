/**
 * C[m, n] (+)= A[m, k] · B[n, k]ᵀ with both operands row-major (contiguous in k): the product every
 * Linear layer and every recurrent W·x / W·h computes (weights stored [out, in], as PyTorch). Each
 * C element is a dot product along k, vectorised over k, so nothing needs packing: a batch-1 step reads
 * the weights once and starts at once.
 *
 * Register block: 2 rows of A × 4 rows of B = 8 vector accumulators; one step of 4 k values is 6 loads
 * and 8 FMAs (the same ratio as the packed 4×8 kernel in gemm.ts). Lane sums are folded by one fixed
 * shuffle tree, and k's leftovers go through the same vector code with zero-padded lanes, so every C
 * element is the same sequence of operations whatever m is — a row's result does not depend on the
 * batch it is computed in.
 */
import { fma, loadTail, splat } from './vec';

/** Rows of B per cache block (B block kept in L2 while all rows of A stream past it). */
const NB: i32 = 64;

// @ts-ignore: decorator
@inline function f4(i: i32): usize { return <usize>i << 2; }

/** The 4 lane-sums of 4 accumulators as one vector: [Σ a, Σ b, Σ c, Σ d], each Σ = (l0 + l2) + (l1 + l3). */
// @ts-ignore: decorator
@inline function sum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const x = f32x4.add(v128.shuffle<f32>(a, b, 0, 1, 4, 5), v128.shuffle<f32>(a, b, 2, 3, 6, 7));
  const y = f32x4.add(v128.shuffle<f32>(c, d, 0, 1, 4, 5), v128.shuffle<f32>(c, d, 2, 3, 6, 7));
  return f32x4.add(v128.shuffle<f32>(x, y, 0, 2, 4, 6), v128.shuffle<f32>(x, y, 1, 3, 5, 7));
}

/** Store (or add) the first nr lanes of v at c. */
// @ts-ignore: decorator
@inline function storeLanes(c: usize, v: v128, nr: i32, acc: bool): void {
  if (nr == 4) {
    v128.store(c, acc ? f32x4.add(v128.load(c), v) : v);
    return;
  }
  const x0 = f32x4.extract_lane(v, 0), x1 = f32x4.extract_lane(v, 1), x2 = f32x4.extract_lane(v, 2);
  store<f32>(c, acc ? load<f32>(c) + x0 : x0);
  if (nr > 1) store<f32>(c, acc ? load<f32>(c, 4) + x1 : x1, 4);
  if (nr > 2) store<f32>(c, acc ? load<f32>(c, 8) + x2 : x2, 8);
}

/** Two rows of A against four rows of B. */
// @ts-ignore: decorator
@inline function dot2x4(k: i32, a0: usize, a1: usize, b0: usize, b1: usize, b2: usize, b3: usize,
  c0: usize, c1: usize, nr: i32, acc: bool): void {
  let s00 = splat(0), s01 = splat(0), s02 = splat(0), s03 = splat(0);
  let s10 = splat(0), s11 = splat(0), s12 = splat(0), s13 = splat(0);
  // Walking pointers with fixed distances to the other rows (see dot1x8 for why).
  const da = a1 - a0, d1 = b1 - b0, d2 = b2 - b0, d3 = b3 - b0;
  let pa = a0, pb = b0;
  const end = a0 + f4(k & ~3);
  while (pa < end) {
    const x0 = v128.load(pa), x1 = v128.load(pa + da);
    let w = v128.load(pb); s00 = fma(x0, w, s00); s10 = fma(x1, w, s10);
    w = v128.load(pb + d1); s01 = fma(x0, w, s01); s11 = fma(x1, w, s11);
    w = v128.load(pb + d2); s02 = fma(x0, w, s02); s12 = fma(x1, w, s12);
    w = v128.load(pb + d3); s03 = fma(x0, w, s03); s13 = fma(x1, w, s13);
    pa += 16; pb += 16;
  }
  const r = k & 3;
  if (r) {
    const x0 = loadTail(pa, r), x1 = loadTail(pa + da, r);
    let w = loadTail(pb, r); s00 = fma(x0, w, s00); s10 = fma(x1, w, s10);
    w = loadTail(pb + d1, r); s01 = fma(x0, w, s01); s11 = fma(x1, w, s11);
    w = loadTail(pb + d2, r); s02 = fma(x0, w, s02); s12 = fma(x1, w, s12);
    w = loadTail(pb + d3, r); s03 = fma(x0, w, s03); s13 = fma(x1, w, s13);
  }
  storeLanes(c0, sum4(s00, s01, s02, s03), nr, acc);
  storeLanes(c1, sum4(s10, s11, s12, s13), nr, acc);
}

/** One row of A against four rows of B (the same arithmetic per element as dot2x4). */
// @ts-ignore: decorator
@inline function dot1x4(k: i32, a0: usize, b0: usize, b1: usize, b2: usize, b3: usize, c0: usize, nr: i32, acc: bool): void {
  let s00 = splat(0), s01 = splat(0), s02 = splat(0), s03 = splat(0);
  const d1 = b1 - b0, d2 = b2 - b0, d3 = b3 - b0;
  let pa = a0, pb = b0;
  const end = a0 + f4(k & ~3);
  while (pa < end) {
    const x0 = v128.load(pa);
    s00 = fma(x0, v128.load(pb), s00);
    s01 = fma(x0, v128.load(pb + d1), s01);
    s02 = fma(x0, v128.load(pb + d2), s02);
    s03 = fma(x0, v128.load(pb + d3), s03);
    pa += 16; pb += 16;
  }
  const r = k & 3;
  if (r) {
    const x0 = loadTail(pa, r);
    s00 = fma(x0, loadTail(pb, r), s00);
    s01 = fma(x0, loadTail(pb + d1, r), s01);
    s02 = fma(x0, loadTail(pb + d2, r), s02);
    s03 = fma(x0, loadTail(pb + d3, r), s03);
  }
  storeLanes(c0, sum4(s00, s01, s02, s03), nr, acc);
}

/**
 * One row of A against eight rows of B: eight independent accumulator chains for the batch-1 case. The
 * loop walks pointers (rows 0–3 off one, 4–7 off another, at a fixed row distance) instead of adding a
 * k offset to eight row bases: the same loads and FMAs, but V8 turned the `base + 4p` form into ~1.7×
 * slower code (12 against 20 GFLOP/s for a 1024 × 256 GEMV on the 2-core EPYC; dot2x4 and dot1x4 likewise,
 * 16 → 24 GFLOP/s for 8 rows).
 */
// @ts-ignore: decorator
@inline function dot1x8(k: i32, a0: usize, b0: usize, ldb: i32, c0: usize, acc: bool): void {
  const d = f4(ldb), d2 = d + d, d3 = d2 + d;
  let s0 = splat(0), s1 = splat(0), s2 = splat(0), s3 = splat(0), s4 = splat(0), s5 = splat(0), s6 = splat(0), s7 = splat(0);
  const k4 = k & ~3;
  let pa = a0, pb = b0, pc = b0 + (d << 2);
  const end = a0 + f4(k4);
  while (pa < end) {
    const x0 = v128.load(pa);
    s0 = fma(x0, v128.load(pb), s0); s1 = fma(x0, v128.load(pb + d), s1);
    s2 = fma(x0, v128.load(pb + d2), s2); s3 = fma(x0, v128.load(pb + d3), s3);
    s4 = fma(x0, v128.load(pc), s4); s5 = fma(x0, v128.load(pc + d), s5);
    s6 = fma(x0, v128.load(pc + d2), s6); s7 = fma(x0, v128.load(pc + d3), s7);
    pa += 16; pb += 16; pc += 16;
  }
  const r = k - k4;
  if (r) {
    const x0 = loadTail(pa, r);
    s0 = fma(x0, loadTail(pb, r), s0); s1 = fma(x0, loadTail(pb + d, r), s1);
    s2 = fma(x0, loadTail(pb + d2, r), s2); s3 = fma(x0, loadTail(pb + d3, r), s3);
    s4 = fma(x0, loadTail(pc, r), s4); s5 = fma(x0, loadTail(pc + d, r), s5);
    s6 = fma(x0, loadTail(pc + d2, r), s6); s7 = fma(x0, loadTail(pc + d3, r), s7);
  }
  storeLanes(c0, sum4(s0, s1, s2, s3), 4, acc);
  storeLanes(c0 + 16, sum4(s4, s5, s6, s7), 4, acc);
}

/**
 * C (+)= A · Bᵀ: A [m, k] with row stride lda, B [n, k] with row stride ldb, C [m, n] with row stride ldc
 * (all in floats, all rows contiguous in k).
 */
export function gemmNT(m: i32, n: i32, k: i32, A: usize, lda: i32, B: usize, ldb: i32, C: usize, ldc: i32, accumulate: bool): void {
  if (m <= 0 || n <= 0) return;
  for (let jb = 0; jb < n; jb += NB) {
    const je = min(n, jb + NB);
    let i = 0;
    for (; i + 2 <= m; i += 2) {
      const a0 = A + f4(i * lda), a1 = a0 + f4(lda);
      const c0 = C + f4(i * ldc), c1 = c0 + f4(ldc);
      for (let j = jb; j < je; j += 4) {
        const nr = min(4, je - j);
        // Missing B rows of a short group read row j again; their lanes are never stored.
        const b0 = B + f4(j * ldb);
        const b1 = nr > 1 ? b0 + f4(ldb) : b0, b2 = nr > 2 ? b0 + f4(2 * ldb) : b0, b3 = nr > 3 ? b0 + f4(3 * ldb) : b0;
        dot2x4(k, a0, a1, b0, b1, b2, b3, c0 + f4(j), c1 + f4(j), nr, accumulate);
      }
    }
    if (i < m) {
      const a0 = A + f4(i * lda), c0 = C + f4(i * ldc);
      let j = jb;
      for (; j + 8 <= je; j += 8) dot1x8(k, a0, B + f4(j * ldb), ldb, c0 + f4(j), accumulate);
      for (; j < je; j += 4) {
        const nr = min(4, je - j);
        const b0 = B + f4(j * ldb);
        const b1 = nr > 1 ? b0 + f4(ldb) : b0, b2 = nr > 2 ? b0 + f4(2 * ldb) : b0, b3 = nr > 3 ? b0 + f4(3 * ldb) : b0;
        dot1x4(k, a0, b0, b1, b2, b3, c0 + f4(j), nr, accumulate);
      }
    }
  }
}
