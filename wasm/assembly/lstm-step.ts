/**
 * The LSTM streaming step (one timestep, no projection, H a multiple of 4) as blocks of hidden units:
 * block u covers units 4u … 4u+3, and whoever computes it computes those units' rows of all four gates
 * (bias, x · W_ihᵀ, h · W_hhᵀ) and their cell update. The blocks are independent, so parallel.ts splits
 * a step across the pool with one job (one round trip) instead of one per product, and the pointwise
 * part is split too.
 *
 * Same operations per element as recurrentForward with T = 1 (recurrent.ts): the folded bias b_ih + b_hh,
 * then the x product accumulated, then the h product, then the same vector cell — so the results are
 * bit-identical to `forward` over the same token whatever the split.
 */
import { gemmNT as ntKernel } from './gemm-nt';
import { vsigmoid, vtanh } from './math';
import { fma, splat } from './vec';

// @ts-ignore: decorator
@inline function f4(i: i32): usize { return <usize>i << 2; }

/**
 * Units [4·u0, 4·u1) of an LSTM step for N rows: x [N, I], h0 [N, H], c0 [N, H] → y [N, H] (= h),
 * hn [N, H] (skipped when 0), cn [N, H] (may be c0: each element is read before it is written, by the
 * same thread). `gates` [N, 4H] is scratch. hn must not be h0 (other blocks still read h0).
 */
export function lstmStepBlocks(u0: i32, u1: i32, N: i32, I: i32, H: i32, x: usize, wih: usize, whh: usize,
  bih: usize, bhh: usize, h0: usize, c0: usize, y: usize, hn: usize, cn: usize, gates: usize): void {
  const GH = H << 2, j0 = u0 << 2, len = (u1 - u0) << 2;
  if (len <= 0) return;
  for (let g = 0; g < 4; g++) {
    const r0 = g * H + j0;
    // The folded bias, as recurrentForward builds it: 0, then + b_ih (a copy), then + b_hh.
    for (let n = 0; n < N; n++) {
      const d = gates + f4(n * GH + r0);
      for (let j = 0; j < len; j += 4) {
        let b = bih != 0 ? v128.load(bih + f4(r0 + j)) : splat(0);
        if (bhh != 0) b = f32x4.add(b, v128.load(bhh + f4(r0 + j)));
        v128.store(d + f4(j), b);
      }
    }
    ntKernel(N, len, I, x, I, wih + f4(r0 * I), I, gates + f4(r0), GH, true);
    ntKernel(N, len, H, h0, H, whh + f4(r0 * H), H, gates + f4(r0), GH, true);
  }
  for (let n = 0; n < N; n++) {
    const gr = gates + f4(n * GH), row = f4(n * H);
    for (let j = j0; j < j0 + len; j += 4) {
      const i = vsigmoid(v128.load(gr + f4(j))), f = vsigmoid(v128.load(gr + f4(H + j)));
      const gg = vtanh(v128.load(gr + f4(2 * H + j))), o = vsigmoid(v128.load(gr + f4(3 * H + j)));
      const c = fma(f, v128.load(c0 + row + f4(j)), f32x4.mul(i, gg));
      const h = f32x4.mul(o, vtanh(c));
      v128.store(cn + row + f4(j), c);
      v128.store(y + row + f4(j), h);
      if (hn != 0) v128.store(hn + row + f4(j), h);
    }
  }
}

/** Bytes of scratch `lstmStep` needs (the gates of N rows). */
export function lstmStepScratch(N: i32, H: i32): usize {
  return f4(N * 4 * H) + 64;
}
