/**
 * The streaming step of an RNN, LSTM or GRU layer (one timestep, no projection, H a multiple of 4) as
 * blocks of hidden units: block u covers units 4u … 4u+3, and whoever computes it computes those units'
 * rows of every gate (bias, x · W_ihᵀ, h · W_hhᵀ) and their cell update. The blocks are independent, so
 * parallel.ts splits a step across the pool with one job (one round trip) per layer.
 *
 * Same operations per element as recurrentForward with T = 1 (recurrent.ts): the folded bias (b_ih + b_hh
 * where the two only add; b_ih alone for the GRU's n rows), then the x product accumulated, then the h
 * product (accumulated; for the GRU into its own buffer), then the same vector cell — so the results are
 * bit-identical to `forward` over the same token whatever the split.
 */
import { gemmNT as ntKernel } from './gemm-nt';
import { vsigmoid, vtanh } from './math';
import { fma, splat } from './vec';
import { GRU, GRU_GATES, LSTM, LSTM_GATES, RNN_GATES, RNN_RELU } from '../../src/kernels/recurrent-kinds';

// @ts-ignore: decorator
@inline function f4(i: i32): usize { return <usize>i << 2; }
// @ts-ignore: decorator
@inline function gatesOf(kind: i32): i32 { return kind == LSTM ? LSTM_GATES : kind == GRU ? GRU_GATES : RNN_GATES; }

/**
 * Units [4·u0, 4·u1) of one step for N rows of kind LSTM, GRU (reset-after) or RNN (tanh, relu): x [N, I],
 * the state h [N, H] (read only: other blocks read all of it) and c [N, H] (LSTM, updated in place: each
 * element is read before it is written, by the same thread) → y [N, H], the new h. `gates` is scratch:
 * [N, G·H] pre-activations, then for the GRU [N, 3H] hidden products.
 */
export function recurrentStepBlocks(kind: i32, u0: i32, u1: i32, N: i32, I: i32, H: i32, x: usize, wih: usize, whh: usize,
  bih: usize, bhh: usize, h: usize, c: usize, y: usize, gates: usize): void {
  const G = gatesOf(kind), GH = G * H, j0 = u0 << 2, len = (u1 - u0) << 2;
  if (len <= 0) return;
  const gru = kind == GRU, q = gates + f4(N * GH);
  for (let g = 0; g < G; g++) {
    const r0 = g * H + j0;
    // The folded bias, as recurrentForward builds it: 0, then + b_ih (a copy), then + b_hh where it only adds.
    const fold = bhh != 0 && !(gru && g == 2);
    for (let n = 0; n < N; n++) {
      const d = gates + f4(n * GH + r0);
      for (let j = 0; j < len; j += 4) {
        let b = bih != 0 ? v128.load(bih + f4(r0 + j)) : splat(0);
        if (fold) b = f32x4.add(b, v128.load(bhh + f4(r0 + j)));
        v128.store(d + f4(j), b);
      }
    }
    ntKernel(N, len, I, x, I, wih + f4(r0 * I), I, gates + f4(r0), GH, true);
    if (gru) ntKernel(N, len, H, h, H, whh + f4(r0 * H), H, q + f4(r0), GH, false);
    else ntKernel(N, len, H, h, H, whh + f4(r0 * H), H, gates + f4(r0), GH, true);
  }
  for (let n = 0; n < N; n++) {
    const gr = gates + f4(n * GH), qr = q + f4(n * GH), row = f4(n * H);
    for (let j = j0; j < j0 + len; j += 4) {
      if (kind == LSTM) {
        const i = vsigmoid(v128.load(gr + f4(j))), f = vsigmoid(v128.load(gr + f4(H + j)));
        const gg = vtanh(v128.load(gr + f4(2 * H + j))), o = vsigmoid(v128.load(gr + f4(3 * H + j)));
        const cc = fma(f, v128.load(c + row + f4(j)), f32x4.mul(i, gg));
        v128.store(c + row + f4(j), cc);
        v128.store(y + row + f4(j), f32x4.mul(o, vtanh(cc)));
      } else if (gru) {
        // r, z = σ(·); n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)); h' = n + z ⊙ (h − n).
        const r = vsigmoid(f32x4.add(v128.load(gr + f4(j)), v128.load(qr + f4(j))));
        const z = vsigmoid(f32x4.add(v128.load(gr + f4(H + j)), v128.load(qr + f4(H + j))));
        const bn = bhh != 0 ? v128.load(bhh + f4(2 * H + j)) : splat(0);
        const nn = vtanh(fma(r, f32x4.add(v128.load(qr + f4(2 * H + j)), bn), v128.load(gr + f4(2 * H + j))));
        v128.store(y + row + f4(j), fma(z, f32x4.sub(v128.load(h + row + f4(j)), nn), nn));
      } else {
        const v = v128.load(gr + f4(j));
        v128.store(y + row + f4(j), kind == RNN_RELU ? f32x4.max(v, splat(0)) : vtanh(v));
      }
    }
  }
}

/** Bytes of scratch `recurrentStep` needs (the pre-activations of N rows, and the GRU's hidden products). */
export function recurrentStepScratch(kind: i32, N: i32, H: i32): usize {
  return f4(N * gatesOf(kind) * H * (kind == GRU ? 2 : 1)) + 64;
}
