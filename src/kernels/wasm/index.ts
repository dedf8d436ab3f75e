/**
 * The WebAssembly SIMD backend. A fast method brings its float32 arrays into wasm memory (an array
 * that already lives there — a resident parameter or optimiser state — is used in place; any other
 * is copied into the scratch arena), runs one exported kernel, and copies the non-resident outputs back
 * (README.md says why, and what it costs). Every method without a fast version — and every call on
 * float64 arrays — is the reference kernel: the backend object is `{ ...refKernels, ...fast }`, so
 * methods added to the `Kernels` interface later work here at once.
 */
import { refKernels } from '../ref/index.js';
import {
  GATES, recurrentSavedSizes, ssdChunks, wkvSavedSizes, type FloatArray, type Kernels, type RecurrentKind, type RecurrentShape, type RecurrentWeights, type UnaryOp,
} from '../types.js';
import { Arena } from './arena.js';
import { WasmHeap, WasmHeapFullError } from './heap.js';
import { binaryLoops, reduceSumLoops, unaryBackwardLoops, unaryLoops } from './loops.js';
import type { WasmModule } from './module.js';
import { ThreadPool, defaultThreads } from './threads.js';

export { loadWasmModule, loadWasmModuleSync, type WasmModule, type WasmVariant } from './module.js';
export { ThreadPool, defaultThreads, threadsUnavailable } from './threads.js';

export interface WasmKernelOptions {
  /**
   * A GEMM whose op(B) has fewer than this many elements (k·n) stays in JavaScript, where copying into
   * wasm memory would cost more than it saves. The test ignores m on purpose: a row of C must not depend
   * on how many other rows were computed with it (batch-1 streaming steps equal the same rows of a
   * whole-sequence pass, bit for bit). Tests set 0 so every size runs the wasm code.
   */
  minGemmWork?: number;
  /** Elementwise and row-wise calls on fewer values than this stay in JavaScript (the call would cost more). */
  minElements?: number;
  /**
   * Threads in all (this one included) for large GEMMs, on shared memory in Node: default the number of
   * cores (SEQLAB_THREADS overrides); 1 = single-threaded. Elsewhere the backend is single-threaded.
   */
  threads?: number;
  /** Multiply-adds per thread below which a GEMM is not split (tests set it low to split everything). */
  minMacsPerThread?: number;
}

export const wasmKernelDefaults = { minGemmWork: 1024, minElements: 256, minMacsPerThread: 65536 } satisfies Omit<Required<WasmKernelOptions>, 'threads'>;

/** Unary ops with a vectorised wasm kernel (wasm/assembly/pointwise.ts); the others are cheap JS loops. */
const WASM_UNARY: Partial<Record<UnaryOp, number>> = { exp: 0, tanh: 1, sigmoid: 2, silu: 3 };

const KIND: { readonly [K in RecurrentKind]: number } = {
  rnn_tanh: 0, rnn_relu: 1, lstm: 2, gru: 3, gru_reset_before: 4,
};

function f32(...xs: (FloatArray | null)[]): boolean {
  for (const x of xs) if (x !== null && !(x instanceof Float32Array)) return false;
  return true;
}

/** The wasm backend's kernels plus its memory management (for `allocResident`, tests and benchmarks). */
export interface WasmKernels extends Kernels {
  readonly variant: WasmModule['variant'];
  readonly heap: WasmHeap;
  /** A zeroed float32 array in wasm memory (used in place by every kernel), or null where not possible. */
  resident(n: number): Float32Array | null;
  /** The worker pool, or null when single-threaded by necessity (no shared memory, not Node). */
  readonly pool: ThreadPool | null;
  /** Use up to n threads (this one included); returns the number now in use. */
  setThreads(n: number): number;
}

export function createWasmKernels(mod: WasmModule, options: WasmKernelOptions = {}): WasmKernels {
  const opts = { ...wasmKernelDefaults, ...options };
  const ex = mod.exports;
  const heap = new WasmHeap(mod.memory, ex.heapBase(), mod.shared);
  const arena = new Arena(heap);
  const threads = options.threads ?? defaultThreads();
  const pool = ThreadPool.create(mod, heap, Math.max(threads, defaultThreads()) - 1, opts.minMacsPerThread);
  pool?.setThreads(threads);
  const F = (a: FloatArray | null): Float32Array => a as Float32Array;

  /** Run `fast` in a fresh arena and copy its outputs back; if wasm memory runs out, run `slow` (ref). */
  const call = (fast: () => void, slow: () => void): void => {
    try {
      arena.reset();
      fast();
      arena.finish();
    } catch (e) {
      if (e instanceof WasmHeapFullError) { slow(); return; }
      throw e;
    }
  };

  let acc64 = new Float64Array(0);
  const isF32 = (a: FloatArray): a is Float32Array => a instanceof Float32Array;

  /** Bring in what both recurrent directions read: x, the weights, the initial state and the lengths. */
  const layerInputs = (s: RecurrentShape, x: FloatArray, w: RecurrentWeights, h0: FloatArray, c0: FloatArray | null) => {
    const { kind, T, N, I, H, P } = s;
    const GH = GATES[kind] * H;
    const proj = kind === 'lstm' && w.whr !== null;
    return {
      proj,
      px: arena.input(F(x), T * N * I),
      pwih: arena.input(F(w.wih), GH * I),
      pwhh: arena.input(F(w.whh), GH * P),
      pwhr: proj ? arena.input(F(w.whr), P * H) : 0,
      ph0: arena.input(F(h0), N * P),
      pc0: c0 ? arena.input(F(c0), N * H) : 0,
      plen: s.lengths ? arena.inputI32(s.lengths) : 0,
    };
  };

  const fast: Partial<Kernels> = {
    unary(op, x, out, n, alpha) {
      const code = WASM_UNARY[op];
      if (code === undefined || n < opts.minElements || !isF32(x) || !isF32(out)) {
        if (!unaryLoops(op, x, out, n, alpha)) refKernels.unary(op, x, out, n, alpha);
        return;
      }
      call(() => ex.unaryF32(code, arena.input(x, n), arena.output(out, n), n), () => refKernels.unary(op, x, out, n, alpha));
    },

    unaryBackward(op, x, y, dy, dx, n, alpha) {
      if (!unaryBackwardLoops(op, x, y, dy, dx, n, alpha)) refKernels.unaryBackward(op, x, y, dy, dx, n, alpha);
    },

    binary(op, a, as, b, bs, out, shape) {
      if (!binaryLoops(op, a, as, b, bs, out, shape)) refKernels.binary(op, a, as, b, bs, out, shape);
    },

    reduceSum(x, out, outer, dim, inner) {
      if (acc64.length < inner) acc64 = new Float64Array(inner);
      reduceSumLoops(x, out, outer, dim, inner, acc64);
    },

    softmax(x, out, rows, cols, log) {
      if (rows * cols < opts.minElements || !isF32(x) || !isF32(out)) { refKernels.softmax(x, out, rows, cols, log); return; }
      call(() => ex.softmaxRows(arena.input(x, rows * cols), arena.output(out, rows * cols), rows, cols, log ? 1 : 0),
        () => refKernels.softmax(x, out, rows, cols, log));
    },

    softmaxBackward(y, dy, dx, rows, cols, log) {
      const n = rows * cols;
      if (n < opts.minElements || !f32(y, dy, dx)) { refKernels.softmaxBackward(y, dy, dx, rows, cols, log); return; }
      call(() => ex.softmaxBackwardRows(arena.input(F(y), n), arena.input(F(dy), n), arena.output(F(dx), n), rows, cols, log ? 1 : 0),
        () => refKernels.softmaxBackward(y, dy, dx, rows, cols, log));
    },

    crossEntropyForward(logits, targets, rows, cols, ignoreIndex, loss, logp) {
      const n = rows * cols;
      if (n < opts.minElements || !f32(logits, loss, logp)) { refKernels.crossEntropyForward(logits, targets, rows, cols, ignoreIndex, loss, logp); return; }
      call(() => ex.crossEntropyForwardRows(arena.input(F(logits), n), arena.inputI32(targets), rows, cols, ignoreIndex,
        arena.output(F(loss), rows), arena.output(F(logp), n)),
      () => refKernels.crossEntropyForward(logits, targets, rows, cols, ignoreIndex, loss, logp));
    },

    crossEntropyBackward(logp, targets, rows, cols, ignoreIndex, dloss, dlogits) {
      const n = rows * cols;
      if (n < opts.minElements || !f32(logp, dloss, dlogits)) { refKernels.crossEntropyBackward(logp, targets, rows, cols, ignoreIndex, dloss, dlogits); return; }
      call(() => ex.crossEntropyBackwardRows(arena.input(F(logp), n), arena.inputI32(targets), rows, cols, ignoreIndex,
        arena.input(F(dloss), rows), arena.output(F(dlogits), n)),
      () => refKernels.crossEntropyBackward(logp, targets, rows, cols, ignoreIndex, dloss, dlogits));
    },

    layerNormForward(x, w, b, y, mean, rstd, rows, cols, eps) {
      const n = rows * cols;
      if (n < opts.minElements || !f32(x, w, b, y, mean, rstd)) { refKernels.layerNormForward(x, w, b, y, mean, rstd, rows, cols, eps); return; }
      call(() => ex.layerNormForwardRows(arena.input(F(x), n), w ? arena.input(F(w), cols) : 0, b ? arena.input(F(b), cols) : 0,
        arena.output(F(y), n), arena.output(F(mean), rows), arena.output(F(rstd), rows), rows, cols, eps),
      () => refKernels.layerNormForward(x, w, b, y, mean, rstd, rows, cols, eps));
    },

    layerNormBackward(x, w, mean, rstd, dy, dx, dw, db, rows, cols) {
      const n = rows * cols;
      if (n < opts.minElements || !f32(x, w, mean, rstd, dy, dx, dw, db)) { refKernels.layerNormBackward(x, w, mean, rstd, dy, dx, dw, db, rows, cols); return; }
      call(() => ex.layerNormBackwardRows(arena.input(F(x), n), w ? arena.input(F(w), cols) : 0, arena.input(F(mean), rows),
        arena.input(F(rstd), rows), arena.input(F(dy), n), arena.output(F(dx), n), dw ? arena.inout(F(dw), cols) : 0,
        db ? arena.inout(F(db), cols) : 0, rows, cols),
      () => refKernels.layerNormBackward(x, w, mean, rstd, dy, dx, dw, db, rows, cols));
    },

    rmsNormForward(x, w, y, rstd, rows, cols, eps) {
      const n = rows * cols;
      if (n < opts.minElements || !f32(x, w, y, rstd)) { refKernels.rmsNormForward(x, w, y, rstd, rows, cols, eps); return; }
      call(() => ex.rmsNormForwardRows(arena.input(F(x), n), w ? arena.input(F(w), cols) : 0, arena.output(F(y), n),
        arena.output(F(rstd), rows), rows, cols, eps),
      () => refKernels.rmsNormForward(x, w, y, rstd, rows, cols, eps));
    },

    rmsNormBackward(x, w, rstd, dy, dx, dw, rows, cols) {
      const n = rows * cols;
      if (n < opts.minElements || !f32(x, w, rstd, dy, dx, dw)) { refKernels.rmsNormBackward(x, w, rstd, dy, dx, dw, rows, cols); return; }
      call(() => ex.rmsNormBackwardRows(arena.input(F(x), n), w ? arena.input(F(w), cols) : 0, arena.input(F(rstd), rows),
        arena.input(F(dy), n), arena.output(F(dx), n), dw ? arena.inout(F(dw), cols) : 0, rows, cols),
      () => refKernels.rmsNormBackward(x, w, rstd, dy, dx, dw, rows, cols));
    },

    sgdUpdate(p, g, buf, n, o) {
      if (n < opts.minElements || !f32(p, g, buf)) { refKernels.sgdUpdate(p, g, buf, n, o); return; }
      call(() => ex.sgdUpdate(arena.inout(F(p), n), arena.input(F(g), n), buf ? arena.inout(F(buf), n) : 0, n,
        o.lr, o.momentum, o.dampening, o.weightDecay, o.nesterov ? 1 : 0, o.first ? 1 : 0),
      () => refKernels.sgdUpdate(p, g, buf, n, o));
    },

    adamUpdate(p, g, m, v, vmax, n, o) {
      if (n < opts.minElements || !f32(p, g, m, v, vmax)) { refKernels.adamUpdate(p, g, m, v, vmax, n, o); return; }
      // Step-dependent scalars once, in float64, as the reference computes them.
      const bc1 = 1 - Math.pow(o.beta1, o.step);
      const bc2Sqrt = Math.sqrt(1 - Math.pow(o.beta2, o.step));
      call(() => ex.adamUpdate(arena.inout(F(p), n), arena.input(F(g), n), arena.inout(F(m), n), arena.inout(F(v), n),
        vmax ? arena.inout(F(vmax), n) : 0, n, o.lr / bc1, o.beta1, o.beta2, o.eps, bc2Sqrt, o.weightDecay, o.decoupled ? 1 : 0,
        1 - o.lr * o.weightDecay),
      () => refKernels.adamUpdate(p, g, m, v, vmax, n, o));
    },

    gemm(transA, transB, m, n, k, a, aOff, b, bOff, c, cOff, accumulate) {
      if (!f32(a, b, c) || n * k < opts.minGemmWork || m === 0 || n === 0) {
        refKernels.gemm(transA, transB, m, n, k, a, aOff, b, bOff, c, cOff, accumulate);
        return;
      }
      call(() => {
        const pa = arena.input(F(a), m * k, aOff);
        const pb = arena.input(F(b), k * n, bOff);
        const pc = accumulate ? arena.inout(F(c), m * n, cOff) : arena.output(F(c), m * n, cOff);
        if (transB && !transA) {
          // A · Bᵀ with B stored [n, k]: dot products along k, no packing (wasm/assembly/gemm-nt.ts).
          ex.gemmNT(m, n, k, pa, k, pb, k, pc, n, accumulate ? 1 : 0);
        } else {
          const ws = arena.alloc(ex.gemmScratch(k, n));
          ex.gemm(m, n, k, pa, transA ? 1 : k, transA ? m : 1, pb, transB ? 1 : n, transB ? k : 1, pc, n, accumulate ? 1 : 0, ws);
        }
      }, () => refKernels.gemm(transA, transB, m, n, k, a, aOff, b, bOff, c, cOff, accumulate));
    },

    recurrentForward(s, x, w, h0, c0, y, hn, cn, saved) {
      if (!f32(x, w.wih, w.whh, w.bih, w.bhh, w.whr, h0, c0, y, hn, cn, saved.gates, saved.h, saved.c, saved.aux)) {
        refKernels.recurrentForward(s, x, w, h0, c0, y, hn, cn, saved);
        return;
      }
      const { kind, T, N, H, P } = s;
      const GH = GATES[kind] * H;
      const sizes = recurrentSavedSizes(s);
      call(() => {
        const { px, pwih, pwhh, pwhr, ph0, pc0, plen, proj } = layerInputs(s, x, w, h0, c0);
        const pbih = w.bih ? arena.input(F(w.bih), GH) : 0, pbhh = w.bhh ? arena.input(F(w.bhh), GH) : 0;
        const py = arena.output(F(y), T * N * P), phn = arena.output(F(hn), N * P), pcn = cn ? arena.output(F(cn), N * H) : 0;
        const pg = arena.output(F(saved.gates), sizes.gates), phs = arena.output(F(saved.h), sizes.h);
        const pcs = arena.output(F(saved.c), sizes.c), pa = arena.output(F(saved.aux), sizes.aux);
        const ws = arena.alloc(ex.recurrentForwardScratch(KIND[kind], N, s.I, H, P, proj ? 1 : 0));
        ex.recurrentForward(KIND[kind], T, N, s.I, H, P, s.reverse ? 1 : 0, plen, px, pwih, pwhh, pbih, pbhh, pwhr, ph0, pc0,
          py, phn, pcn, pg, phs, pcs, pa, ws);
      }, () => refKernels.recurrentForward(s, x, w, h0, c0, y, hn, cn, saved));
    },

    recurrentBackward(s, x, w, h0, c0, saved, dy, dhn, dcn, g) {
      if (!f32(x, w.wih, w.whh, w.bih, w.bhh, w.whr, h0, c0, saved.gates, saved.h, saved.c, saved.aux, dy, dhn, dcn,
        g.dx, g.dh0, g.dc0, g.dwih, g.dwhh, g.dbih, g.dbhh, g.dwhr)) {
        refKernels.recurrentBackward(s, x, w, h0, c0, saved, dy, dhn, dcn, g);
        return;
      }
      const { kind, T, N, I, H, P } = s;
      const GH = GATES[kind] * H;
      const sizes = recurrentSavedSizes(s);
      call(() => {
        const { px, pwih, pwhh, pwhr, ph0, pc0, plen, proj } = layerInputs(s, x, w, h0, c0);
        const pg = arena.input(F(saved.gates), sizes.gates), phs = arena.input(F(saved.h), sizes.h);
        const pcs = arena.input(F(saved.c), sizes.c), pa = arena.input(F(saved.aux), sizes.aux);
        const pdy = dy ? arena.input(F(dy), T * N * P) : 0;
        const pdhn = dhn ? arena.input(F(dhn), N * P) : 0, pdcn = dcn ? arena.input(F(dcn), N * H) : 0;
        const pdx = arena.output(F(g.dx), T * N * I), pdh0 = arena.output(F(g.dh0), N * P);
        const pdc0 = g.dc0 ? arena.output(F(g.dc0), N * H) : 0;
        // Weight gradients accumulate.
        const pdwih = arena.inout(F(g.dwih), GH * I), pdwhh = arena.inout(F(g.dwhh), GH * P);
        const pdbih = g.dbih ? arena.inout(F(g.dbih), GH) : 0, pdbhh = g.dbhh ? arena.inout(F(g.dbhh), GH) : 0;
        const pdwhr = proj && g.dwhr ? arena.inout(F(g.dwhr), P * H) : 0;
        const ws = arena.alloc(ex.recurrentBackwardScratch(KIND[kind], T, N, I, H, P, proj ? 1 : 0));
        ex.recurrentBackward(KIND[kind], T, N, I, H, P, s.reverse ? 1 : 0, plen, px, pwih, pwhh, pwhr, ph0, pc0,
          pg, phs, pcs, pa, pdy, pdhn, pdcn, pdx, pdh0, pdc0, pdwih, pdwhh, pdbih, pdbhh, pdwhr, ws);
      }, () => refKernels.recurrentBackward(s, x, w, h0, c0, saved, dy, dhn, dcn, g));
    },

    wkv6Forward(s, x, s0, y, sT, saved) {
      if (!f32(x.r, x.k, x.v, x.w, x.u, s0, y, sT, saved.states)) { refKernels.wkv6Forward(s, x, s0, y, sT, saved); return; }
      const { B, T, H, N } = s, n = B * T * H * N, ns = B * H * N * N;
      call(() => {
        ex.wkv6Forward(B, T, H, N, arena.input(F(x.r), n), arena.input(F(x.k), n), arena.input(F(x.v), n), arena.input(F(x.w), n),
          arena.input(F(x.u), H * N), arena.input(F(s0), ns), arena.output(F(y), n), arena.output(F(sT), ns),
          arena.output(F(saved.states), wkvSavedSizes(s).states));
      }, () => refKernels.wkv6Forward(s, x, s0, y, sT, saved));
    },

    wkv6Backward(s, x, saved, dy, dsT, g) {
      if (!f32(x.r, x.k, x.v, x.w, x.u, saved.states, dy, dsT, g.dr, g.dk, g.dv, g.dw, g.du, g.ds0)) {
        refKernels.wkv6Backward(s, x, saved, dy, dsT, g);
        return;
      }
      const { B, T, H, N } = s, n = B * T * H * N, ns = B * H * N * N;
      call(() => {
        const pr = arena.input(F(x.r), n), pk = arena.input(F(x.k), n), pv = arena.input(F(x.v), n), pw = arena.input(F(x.w), n);
        const pu = arena.input(F(x.u), H * N), pst = arena.input(F(saved.states), wkvSavedSizes(s).states);
        const pdy = dy ? arena.input(F(dy), n) : 0, pdsT = dsT ? arena.input(F(dsT), ns) : 0;
        // du accumulates; the others are written.
        const pdr = arena.output(F(g.dr), n), pdk = arena.output(F(g.dk), n), pdv = arena.output(F(g.dv), n), pdw = arena.output(F(g.dw), n);
        const pdu = arena.inout(F(g.du), H * N), pds0 = arena.output(F(g.ds0), ns);
        const ws = arena.alloc(ex.wkvBackwardScratch(N));
        ex.wkv6Backward(B, T, H, N, pr, pk, pv, pw, pu, pst, pdy, pdsT, pdr, pdk, pdv, pdw, pdu, pds0, ws);
      }, () => refKernels.wkv6Backward(s, x, saved, dy, dsT, g));
    },

    wkv7Forward(s, x, s0, y, sT, saved) {
      if (!f32(x.r, x.w, x.k, x.v, x.a, x.b, s0, y, sT, saved.states)) { refKernels.wkv7Forward(s, x, s0, y, sT, saved); return; }
      const { B, T, H, N } = s, n = B * T * H * N, ns = B * H * N * N;
      call(() => {
        ex.wkv7Forward(B, T, H, N, arena.input(F(x.r), n), arena.input(F(x.w), n), arena.input(F(x.k), n), arena.input(F(x.v), n),
          arena.input(F(x.a), n), arena.input(F(x.b), n), arena.input(F(s0), ns), arena.output(F(y), n), arena.output(F(sT), ns),
          arena.output(F(saved.states), wkvSavedSizes(s).states));
      }, () => refKernels.wkv7Forward(s, x, s0, y, sT, saved));
    },

    wkv7Backward(s, x, saved, dy, dsT, g) {
      if (!f32(x.r, x.w, x.k, x.v, x.a, x.b, saved.states, dy, dsT, g.dr, g.dw, g.dk, g.dv, g.da, g.db, g.ds0)) {
        refKernels.wkv7Backward(s, x, saved, dy, dsT, g);
        return;
      }
      const { B, T, H, N } = s, n = B * T * H * N, ns = B * H * N * N;
      call(() => {
        const pr = arena.input(F(x.r), n), pw = arena.input(F(x.w), n), pk = arena.input(F(x.k), n), pv = arena.input(F(x.v), n);
        const pa = arena.input(F(x.a), n), pb = arena.input(F(x.b), n), pst = arena.input(F(saved.states), wkvSavedSizes(s).states);
        const pdy = dy ? arena.input(F(dy), n) : 0, pdsT = dsT ? arena.input(F(dsT), ns) : 0;
        // Every gradient is written.
        const pdr = arena.output(F(g.dr), n), pdw = arena.output(F(g.dw), n), pdk = arena.output(F(g.dk), n), pdv = arena.output(F(g.dv), n);
        const pda = arena.output(F(g.da), n), pdb = arena.output(F(g.db), n), pds0 = arena.output(F(g.ds0), ns);
        const ws = arena.alloc(ex.wkvBackwardScratch(N));
        ex.wkv7Backward(B, T, H, N, pr, pw, pk, pv, pa, pb, pst, pdy, pdsT, pdr, pdw, pdk, pdv, pda, pdb, pds0, ws);
      }, () => refKernels.wkv7Backward(s, x, saved, dy, dsT, g));
    },

    causalConv1dForward(s, x, w, bias, window, y, windowOut) {
      if (!f32(x, w, bias, window, y, windowOut)) { refKernels.causalConv1dForward(s, x, w, bias, window, y, windowOut); return; }
      const { b, t, c, k } = s;
      call(() => {
        const px = arena.input(F(x), b * t * c), pw = arena.input(F(w), c * k), pbias = bias ? arena.input(F(bias), c) : 0;
        const pwin = arena.input(F(window), b * c * k), py = arena.output(F(y), b * t * c), pwo = arena.output(F(windowOut), b * c * k);
        const ws = arena.alloc(ex.causalConv1dScratch(c, k));
        ex.causalConv1dForward(b, t, c, k, px, pw, pbias, pwin, py, pwo, ws);
      }, () => refKernels.causalConv1dForward(s, x, w, bias, window, y, windowOut));
    },

    causalConv1dBackward(s, x, w, window, dy, dwindowOut, g) {
      if (!f32(x, w, window, dy, dwindowOut, g.dx, g.dw, g.db, g.dwindow)) {
        refKernels.causalConv1dBackward(s, x, w, window, dy, dwindowOut, g);
        return;
      }
      const { b, t, c, k } = s;
      call(() => {
        const px = arena.input(F(x), b * t * c), pw = arena.input(F(w), c * k), pwin = arena.input(F(window), b * c * k);
        const pdy = dy ? arena.input(F(dy), b * t * c) : 0, pdwo = dwindowOut ? arena.input(F(dwindowOut), b * c * k) : 0;
        // Every gradient accumulates.
        const pdx = arena.inout(F(g.dx), b * t * c), pdw = arena.inout(F(g.dw), c * k), pdb = g.db ? arena.inout(F(g.db), c) : 0;
        const pdwin = arena.inout(F(g.dwindow), b * c * k);
        const ws = arena.alloc(ex.causalConv1dScratch(c, k));
        ex.causalConv1dBackward(b, t, c, k, px, pw, pwin, pdy, pdwo, pdx, pdw, pdb, pdwin, ws);
      }, () => refKernels.causalConv1dBackward(s, x, w, window, dy, dwindowOut, g));
    },

    selectiveScanForward(s, p, h0, y, hT, hs) {
      if (!f32(p.x, p.delta, p.A, p.B, p.C, p.D, h0, y, hT, hs)) { refKernels.selectiveScanForward(s, p, h0, y, hT, hs); return; }
      const { b, t, di, n } = s;
      call(() => {
        const px = arena.input(F(p.x), b * t * di), pdl = arena.input(F(p.delta), b * t * di), pA = arena.input(F(p.A), di * n);
        const pB = arena.input(F(p.B), b * t * n), pC = arena.input(F(p.C), b * t * n), pD = p.D ? arena.input(F(p.D), di) : 0;
        const ph0 = arena.input(F(h0), b * di * n), py = arena.output(F(y), b * t * di), phT = arena.output(F(hT), b * di * n);
        const phs = hs ? arena.output(F(hs), b * t * di * n) : 0;
        ex.selectiveScanForward(b, t, di, n, px, pdl, pA, pB, pC, pD, ph0, py, phT, phs);
      }, () => refKernels.selectiveScanForward(s, p, h0, y, hT, hs));
    },

    selectiveScanBackward(s, p, h0, hs, dy, dhT, g) {
      if (!f32(p.x, p.delta, p.A, p.B, p.C, p.D, h0, hs, dy, dhT, g.dx, g.ddelta, g.dA, g.dB, g.dC, g.dD, g.dh0)) {
        refKernels.selectiveScanBackward(s, p, h0, hs, dy, dhT, g);
        return;
      }
      const { b, t, di, n } = s;
      call(() => {
        const px = arena.input(F(p.x), b * t * di), pdl = arena.input(F(p.delta), b * t * di), pA = arena.input(F(p.A), di * n);
        const pB = arena.input(F(p.B), b * t * n), pC = arena.input(F(p.C), b * t * n), pD = p.D ? arena.input(F(p.D), di) : 0;
        const ph0 = arena.input(F(h0), b * di * n), phs = arena.input(F(hs), b * t * di * n);
        const pdy = dy ? arena.input(F(dy), b * t * di) : 0, pdhT = dhT ? arena.input(F(dhT), b * di * n) : 0;
        // Every gradient accumulates.
        const pdx = arena.inout(F(g.dx), b * t * di), pddl = arena.inout(F(g.ddelta), b * t * di), pdA = arena.inout(F(g.dA), di * n);
        const pdB = arena.inout(F(g.dB), b * t * n), pdC = arena.inout(F(g.dC), b * t * n), pdD = g.dD ? arena.inout(F(g.dD), di) : 0;
        const pdh0 = arena.inout(F(g.dh0), b * di * n);
        const ws = arena.alloc(ex.selectiveScanBackwardScratch(di, n));
        ex.selectiveScanBackward(b, t, di, n, px, pdl, pA, pB, pC, pD, ph0, phs, pdy, pdhT, pdx, pddl, pdA, pdB, pdC, pdD, pdh0, ws);
      }, () => refKernels.selectiveScanBackward(s, p, h0, hs, dy, dhT, g));
    },

    ssdForward(s, p, h0, y, hT, chunkStates) {
      if (!f32(p.x, p.delta, p.A, p.B, p.C, p.D, h0, y, hT, chunkStates)) { refKernels.ssdForward(s, p, h0, y, hT, chunkStates); return; }
      const { b, t, nh, hs, g, n, q } = s, hsz = hs * n;
      call(() => {
        const px = arena.input(F(p.x), b * t * nh * hs), pdl = arena.input(F(p.delta), b * t * nh), pA = arena.input(F(p.A), nh);
        const pB = arena.input(F(p.B), b * t * g * n), pC = arena.input(F(p.C), b * t * g * n);
        const pD = p.D ? arena.input(F(p.D), s.dPerChannel ? nh * hs : nh) : 0;
        const ph0 = arena.input(F(h0), b * nh * hsz), py = arena.output(F(y), b * t * nh * hs), phT = arena.output(F(hT), b * nh * hsz);
        const pcs = chunkStates ? arena.output(F(chunkStates), b * ssdChunks(s) * nh * hsz) : 0;
        const ws = arena.alloc(ex.ssdScratch(b, nh, hs, n, q));
        ex.ssdForward(b, t, nh, hs, g, n, q, s.dPerChannel ? 1 : 0, px, pdl, pA, pB, pC, pD, ph0, py, phT, pcs, ws);
      }, () => refKernels.ssdForward(s, p, h0, y, hT, chunkStates));
    },

    ssdBackward(s, p, chunkStates, dy, dhT, g) {
      if (!f32(p.x, p.delta, p.A, p.B, p.C, p.D, chunkStates, dy, dhT, g.dx, g.ddelta, g.dA, g.dB, g.dC, g.dD, g.dh0)) {
        refKernels.ssdBackward(s, p, chunkStates, dy, dhT, g);
        return;
      }
      const { b, t, nh, hs, n, q } = s, hsz = hs * n, nD = s.dPerChannel ? nh * hs : nh;
      call(() => {
        const px = arena.input(F(p.x), b * t * nh * hs), pdl = arena.input(F(p.delta), b * t * nh), pA = arena.input(F(p.A), nh);
        const pB = arena.input(F(p.B), b * t * s.g * n), pC = arena.input(F(p.C), b * t * s.g * n), pD = p.D ? arena.input(F(p.D), nD) : 0;
        const pcs = arena.input(F(chunkStates), b * ssdChunks(s) * nh * hsz);
        const pdy = dy ? arena.input(F(dy), b * t * nh * hs) : 0, pdhT = dhT ? arena.input(F(dhT), b * nh * hsz) : 0;
        // Every gradient accumulates.
        const pdx = arena.inout(F(g.dx), b * t * nh * hs), pddl = arena.inout(F(g.ddelta), b * t * nh), pdA = arena.inout(F(g.dA), nh);
        const pdB = arena.inout(F(g.dB), b * t * s.g * n), pdC = arena.inout(F(g.dC), b * t * s.g * n);
        const pdD = g.dD ? arena.inout(F(g.dD), nD) : 0, pdh0 = arena.inout(F(g.dh0), b * nh * hsz);
        const ws = arena.alloc(ex.ssdScratch(b, nh, hs, n, q));
        ex.ssdBackward(b, t, nh, hs, s.g, n, q, s.dPerChannel ? 1 : 0, px, pdl, pA, pB, pC, pD, pcs, pdy, pdhT,
          pdx, pddl, pdA, pdB, pdC, pdD, pdh0, ws);
      }, () => refKernels.ssdBackward(s, p, chunkStates, dy, dhT, g));
    },

    attentionForward(s, q, k, v, y, lse) {
      if (!f32(q, k, v, y, lse)) { refKernels.attentionForward(s, q, k, v, y, lse); return; }
      const { B, H, Tq, Tk, D } = s, nq = B * Tq * H * D, nk = B * Tk * H * D;
      call(() => {
        const pq = arena.input(F(q), nq), pk = arena.input(F(k), nk), pv = arena.input(F(v), nk);
        const py = arena.output(F(y), nq), plse = arena.output(F(lse), B * H * Tq);
        const ws = arena.alloc(ex.attentionScratch(Tk, 0));
        ex.attentionForward(B, H, Tq, Tk, D, s.scale, pq, pk, pv, py, plse, ws);
      }, () => refKernels.attentionForward(s, q, k, v, y, lse));
    },

    attentionBackward(s, q, k, v, lse, dy, dq, dk, dv) {
      if (!f32(q, k, v, lse, dy, dq, dk, dv)) { refKernels.attentionBackward(s, q, k, v, lse, dy, dq, dk, dv); return; }
      const { B, H, Tq, Tk, D } = s, nq = B * Tq * H * D, nk = B * Tk * H * D;
      call(() => {
        const pq = arena.input(F(q), nq), pk = arena.input(F(k), nk), pv = arena.input(F(v), nk);
        const plse = arena.input(F(lse), B * H * Tq), pdy = arena.input(F(dy), nq);
        // Every gradient is written.
        const pdq = arena.output(F(dq), nq), pdk = arena.output(F(dk), nk), pdv = arena.output(F(dv), nk);
        const ws = arena.alloc(ex.attentionScratch(Tk, 1));
        ex.attentionBackward(B, H, Tq, Tk, D, s.scale, pq, pk, pv, plse, pdy, pdq, pdk, pdv, ws);
      }, () => refKernels.attentionBackward(s, q, k, v, lse, dy, dq, dk, dv));
    },
  };

  return {
    ...refKernels, ...fast, name: 'wasm', variant: mod.variant, heap, pool,
    resident: (n) => heap.residentF32(n),
    setThreads: (n) => pool?.setThreads(n) ?? 1,
  };
}
