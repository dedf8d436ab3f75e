/**
 * Broadcast binary ops and sums over an axis, the arithmetic the autograd runs hundreds of times per
 * training step (token shifts, LoRA mixes, bias gradients). Both compute exactly what the reference
 * (src/kernels/ref/index.ts) does: a float32 add/sub/mul/div rounds once, as the reference's double
 * result rounded to float32 does (the double result of two float32 operands rounds to the same float32);
 * maximum/minimum select with the reference's comparisons; sums accumulate in float64 in the reference's
 * order. Every element is computed the same way wherever a range starts, so parallel.ts may split any range.
 *
 * Binary layout: the output is contiguous, of shape [n0, n1, n2, n3] (the caller merges dims and pads
 * to four); a and b are read with element strides as0…as3 and bs0…bs3 (0 where broadcast).
 */
export const BIN_ADD = 0, BIN_SUB = 1, BIN_MUL = 2, BIN_DIV = 3, BIN_MAX = 4, BIN_MIN = 5;

// @ts-ignore: decorator
@inline function vop(op: i32, x: v128, y: v128): v128 {
  if (op == BIN_ADD) return f32x4.add(x, y);
  if (op == BIN_SUB) return f32x4.sub(x, y);
  if (op == BIN_MUL) return f32x4.mul(x, y);
  if (op == BIN_DIV) return f32x4.div(x, y);
  if (op == BIN_MAX) return v128.bitselect(x, y, f32x4.ge(x, y)); // x ≥ y ? x : y (NaN → y, as the reference)
  return v128.bitselect(x, y, f32x4.le(x, y)); // x ≤ y ? x : y
}

// @ts-ignore: decorator
@inline function sop(op: i32, x: f32, y: f32): f32 {
  if (op == BIN_ADD) return x + y;
  if (op == BIN_SUB) return x - y;
  if (op == BIN_MUL) return x * y;
  if (op == BIN_DIV) return x / y;
  if (op == BIN_MAX) return x >= y ? x : y;
  return x <= y ? x : y;
}

/** out[i] = a[i·sa] ∘ b[i·sb] for i < n: vector loops for the strides 0 and 1, a scalar loop for any other. */
// @ts-ignore: decorator
@inline function span(op: i32, a: usize, sa: i32, b: usize, sb: i32, out: usize, n: i32): void {
  const n4 = n & ~3;
  let i = 0;
  if (sa == 1 && sb == 1) {
    for (; i < n4; i += 4) { const q = <usize>i << 2; v128.store(out + q, vop(op, v128.load(a + q), v128.load(b + q))); }
  } else if (sa == 1 && sb == 0) {
    const y = f32x4.splat(load<f32>(b));
    for (; i < n4; i += 4) { const q = <usize>i << 2; v128.store(out + q, vop(op, v128.load(a + q), y)); }
  } else if (sa == 0 && sb == 1) {
    const x = f32x4.splat(load<f32>(a));
    for (; i < n4; i += 4) { const q = <usize>i << 2; v128.store(out + q, vop(op, x, v128.load(b + q))); }
  }
  for (; i < n; i++) {
    store<f32>(out + (<usize>i << 2), sop(op, load<f32>(a + (<usize>(i * sa) << 2)), load<f32>(b + (<usize>(i * sb) << 2))));
  }
}

function spanOp(op: i32, a: usize, sa: i32, b: usize, sb: i32, out: usize, n: i32): void {
  // One loop nest per op, so each inner loop is branch-free.
  if (op == BIN_ADD) span(BIN_ADD, a, sa, b, sb, out, n);
  else if (op == BIN_SUB) span(BIN_SUB, a, sa, b, sb, out, n);
  else if (op == BIN_MUL) span(BIN_MUL, a, sa, b, sb, out, n);
  else if (op == BIN_DIV) span(BIN_DIV, a, sa, b, sb, out, n);
  else if (op == BIN_MAX) span(BIN_MAX, a, sa, b, sb, out, n);
  else span(BIN_MIN, a, sa, b, sb, out, n);
}

/** Output elements [i0, i1) of the broadcast op (layout in the file comment). */
export function binaryRange(op: i32, i0: i32, i1: i32, n1: i32, n2: i32, n3: i32,
  a: usize, as0: i32, as1: i32, as2: i32, as3: i32, b: usize, bs0: i32, bs1: i32, bs2: i32, bs3: i32, out: usize): void {
  if (i0 >= i1 || n3 <= 0) return;
  let row = i0 / n3, col = i0 - row * n3;
  let j2 = row % n2, j1 = (row / n2) % n1, j0 = row / (n1 * n2);
  let i = i0;
  while (i < i1) {
    const len = min(n3 - col, i1 - i);
    const ao = j0 * as0 + j1 * as1 + j2 * as2 + col * as3, bo = j0 * bs0 + j1 * bs1 + j2 * bs2 + col * bs3;
    spanOp(op, a + (<usize>ao << 2), as3, b + (<usize>bo << 2), bs3, out + (<usize>i << 2), len);
    i += len;
    col = 0;
    if (++j2 == n2) { j2 = 0; if (++j1 == n1) { j1 = 0; j0++; } }
  }
}

/** Columns per reduceSum unit: 16 float64 running sums in registers. */
export const SUM_COLS = 16;

/** Work units of reduceSum over x [outer, dim, inner]: a row when inner is 1, else 16 columns of one outer index. */
export function reduceSumUnits(outer: i32, inner: i32): i32 {
  return inner == 1 ? outer : outer * ((inner + SUM_COLS - 1) / SUM_COLS);
}

/** Lanes 0–1 (lo) and 2–3 (hi) of a float32 vector as float64 (exact). */
// @ts-ignore: decorator
@inline function lo(v: v128): v128 { return f64x2.promote_low_f32x4(v); }
// @ts-ignore: decorator
@inline function hi(v: v128): v128 { return f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)); }
/** Four float64 sums rounded to float32 and stored at out. */
// @ts-ignore: decorator
@inline function put(out: usize, s0: v128, s1: v128): void {
  store<f32>(out, <f32>f64x2.extract_lane(s0, 0));
  store<f32>(out, <f32>f64x2.extract_lane(s0, 1), 4);
  store<f32>(out, <f32>f64x2.extract_lane(s1, 0), 8);
  store<f32>(out, <f32>f64x2.extract_lane(s1, 1), 12);
}

/**
 * out[o, i] = Σ_d x[o, d, i] for the units [u0, u1) (reduceSumUnits), each sum in float64 over d = 0, 1, …
 * (the reference's order), then rounded to float32.
 */
export function reduceSumRange(u0: i32, u1: i32, x: usize, out: usize, dim: i32, inner: i32): void {
  if (inner == 1) {
    for (let o = u0; o < u1; o++) {
      const p = x + (<usize>(o * dim) << 2);
      let s: f64 = 0;
      for (let d = 0; d < dim; d++) s += <f64>load<f32>(p + (<usize>d << 2));
      store<f32>(out + (<usize>o << 2), <f32>s);
    }
    return;
  }
  const blocks = (inner + SUM_COLS - 1) / SUM_COLS;
  const rowBytes = <usize>inner << 2;
  for (let u = u0; u < u1; u++) {
    const o = u / blocks, c0 = (u - o * blocks) * SUM_COLS, c1 = min(inner, c0 + SUM_COLS);
    const base = x + (<usize>(o * dim * inner + c0) << 2), dst = out + (<usize>(o * inner + c0) << 2);
    if (c1 - c0 == SUM_COLS) {
      let s0 = f64x2.splat(0), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
      let p = base;
      for (let d = 0; d < dim; d++) {
        const v0 = v128.load(p), v1 = v128.load(p, 16), v2 = v128.load(p, 32), v3 = v128.load(p, 48);
        s0 = f64x2.add(s0, lo(v0)); s1 = f64x2.add(s1, hi(v0));
        s2 = f64x2.add(s2, lo(v1)); s3 = f64x2.add(s3, hi(v1));
        s4 = f64x2.add(s4, lo(v2)); s5 = f64x2.add(s5, hi(v2));
        s6 = f64x2.add(s6, lo(v3)); s7 = f64x2.add(s7, hi(v3));
        p += rowBytes;
      }
      put(dst, s0, s1); put(dst + 16, s2, s3); put(dst + 32, s4, s5); put(dst + 48, s6, s7);
    } else {
      for (let c = 0; c < c1 - c0; c++) {
        let s: f64 = 0, p = base + (<usize>c << 2);
        for (let d = 0; d < dim; d++) { s += <f64>load<f32>(p); p += rowBytes; }
        store<f32>(dst + (<usize>c << 2), <f32>s);
      }
    }
  }
}

/** c + m at column j and byte offset q of the row (c alone when m = 0): four lanes, and one. */
// @ts-ignore: decorator
@inline function mixFactor(c: usize, m: usize, j: i32, q: usize): v128 {
  const t = v128.load(c + (<usize>j << 2));
  return m != 0 ? f32x4.add(t, v128.load(m + q)) : t;
}
// @ts-ignore: decorator
@inline function mixFactor1(c: usize, m: usize, j: i32, q: usize): f32 {
  const t = load<f32>(c + (<usize>j << 2));
  return m != 0 ? t + load<f32>(m + q) : t;
}

/**
 * RWKV's token-shift mix over rows × d values: out = x + xx ⊙ (c + m) (m = 0: out = x + xx ⊙ c), c one value
 * per column. The float32 add and multiplies of the composed ops, in their order: the reference's bits.
 */
export function tokenMixF32(x: usize, xx: usize, c: usize, m: usize, out: usize, rows: i32, d: i32): void {
  const d4 = d & ~3;
  for (let i = 0; i < rows; i++) {
    const row = <usize>i * <usize>d << 2;
    for (let j = 0; j < d4; j += 4) {
      const q = row + (<usize>j << 2), t = mixFactor(c, m, j, q);
      v128.store(out + q, f32x4.add(v128.load(x + q), f32x4.mul(v128.load(xx + q), t)));
    }
    for (let j = d4; j < d; j++) {
      const q = row + (<usize>j << 2), t = mixFactor1(c, m, j, q);
      store<f32>(out + q, load<f32>(x + q) + load<f32>(xx + q) * t);
    }
  }
}

/** tokenMixF32's backward for g = ∂L/∂out: gxx = g ⊙ (c + m), gm = g ⊙ xx. */
export function tokenMixBackwardF32(g: usize, xx: usize, c: usize, m: usize, gxx: usize, gm: usize, rows: i32, d: i32): void {
  const d4 = d & ~3;
  for (let i = 0; i < rows; i++) {
    const row = <usize>i * <usize>d << 2;
    for (let j = 0; j < d4; j += 4) {
      const q = row + (<usize>j << 2), t = mixFactor(c, m, j, q);
      const gv = v128.load(g + q);
      v128.store(gxx + q, f32x4.mul(gv, t));
      v128.store(gm + q, f32x4.mul(gv, v128.load(xx + q)));
    }
    for (let j = d4; j < d; j++) {
      const q = row + (<usize>j << 2), t = mixFactor1(c, m, j, q);
      const gv = load<f32>(g + q);
      store<f32>(gxx + q, gv * t);
      store<f32>(gm + q, gv * load<f32>(xx + q));
    }
  }
}

/** out = relu(x)² over n values (NaN → 0, as relu): relu's value, then one float32 multiply. */
export function reluSquareF32(x: usize, out: usize, n: i32): void {
  const n4 = n & ~3, zero = f32x4.splat(0);
  for (let i = 0; i < n4; i += 4) {
    const q = <usize>i << 2, v = v128.load(x + q), r = v128.bitselect(v, zero, f32x4.gt(v, zero));
    v128.store(out + q, f32x4.mul(r, r));
  }
  for (let i = n4; i < n; i++) {
    const q = <usize>i << 2, v = load<f32>(x + q), r: f32 = v > 0 ? v : 0;
    store<f32>(out + q, r * r);
  }
}

/** reluSquareF32's backward: dx = g·x + g·x (exactly 2·(g·x), as the product rule's two terms sum) where x > 0, else 0. */
export function reluSquareBackwardF32(x: usize, g: usize, dx: usize, n: i32): void {
  const n4 = n & ~3, zero = f32x4.splat(0);
  for (let i = 0; i < n4; i += 4) {
    const q = <usize>i << 2, v = v128.load(x + q), p = f32x4.mul(v128.load(g + q), v);
    v128.store(dx + q, v128.bitselect(f32x4.add(p, p), zero, f32x4.gt(v, zero)));
  }
  for (let i = n4; i < n; i++) {
    const q = <usize>i << 2, v = load<f32>(x + q), p = load<f32>(g + q) * v;
    store<f32>(dx + q, v > 0 ? p + p : 0);
  }
}
