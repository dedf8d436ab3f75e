/**
 * The WebAssembly SIMD backend. A fast method brings its float32 arrays into wasm memory (an array
 * that already lives there — a resident parameter or optimiser state — is used in place; any other
 * is copied into the scratch arena), runs one exported kernel, and copies the non-resident outputs back
 * (README.md says why, and what it costs). Every method without a fast version — and every call on
 * float64 arrays — is the reference kernel: the backend object is `{ ...refKernels, ...fast }`, so
 * methods added to the `Kernels` interface later work here at once.
 */
import { refKernels } from '../ref/index.js';
import { GATES, recurrentSavedSizes, type FloatArray, type Kernels, type RecurrentKind } from '../types.js';
import { Arena } from './arena.js';
import { WasmHeap, WasmHeapFullError } from './heap.js';
import type { WasmModule } from './module.js';

export { loadWasmModule, loadWasmModuleSync, type WasmModule, type WasmVariant } from './module.js';

export interface WasmKernelOptions {
  /**
   * A GEMM whose op(B) has fewer than this many elements (k·n) stays in JavaScript, where copying into
   * wasm memory would cost more than it saves. The test ignores m on purpose: a row of C must not depend
   * on how many other rows were computed with it (batch-1 streaming steps equal the same rows of a
   * whole-sequence pass, bit for bit). Tests set 0 so every size runs the wasm code.
   */
  minGemmWork?: number;
}

export const wasmKernelDefaults = { minGemmWork: 1024 } satisfies Required<WasmKernelOptions>;

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
}

export function createWasmKernels(mod: WasmModule, options: WasmKernelOptions = {}): WasmKernels {
  const opts = { ...wasmKernelDefaults, ...options };
  const ex = mod.exports;
  const heap = new WasmHeap(mod.memory, ex.heapBase(), mod.shared);
  const arena = new Arena(heap);
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

  const fast: Partial<Kernels> = {
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
      const { kind, T, N, I, H, P } = s;
      const GH = GATES[kind] * H;
      const proj = kind === 'lstm' && w.whr !== null;
      const sizes = recurrentSavedSizes(s);
      call(() => {
        const px = arena.input(F(x), T * N * I);
        const pwih = arena.input(F(w.wih), GH * I), pwhh = arena.input(F(w.whh), GH * P);
        const pbih = w.bih ? arena.input(F(w.bih), GH) : 0, pbhh = w.bhh ? arena.input(F(w.bhh), GH) : 0;
        const pwhr = proj ? arena.input(F(w.whr), P * H) : 0;
        const ph0 = arena.input(F(h0), N * P), pc0 = c0 ? arena.input(F(c0), N * H) : 0;
        const plen = s.lengths ? arena.inputI32(s.lengths) : 0;
        const py = arena.output(F(y), T * N * P), phn = arena.output(F(hn), N * P), pcn = cn ? arena.output(F(cn), N * H) : 0;
        const pg = arena.output(F(saved.gates), sizes.gates), phs = arena.output(F(saved.h), sizes.h);
        const pcs = arena.output(F(saved.c), sizes.c), pa = arena.output(F(saved.aux), sizes.aux);
        const ws = arena.alloc(ex.recurrentForwardScratch(KIND[kind], N, I, H, P, proj ? 1 : 0));
        ex.recurrentForward(KIND[kind], T, N, I, H, P, s.reverse ? 1 : 0, plen, px, pwih, pwhh, pbih, pbhh, pwhr, ph0, pc0,
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
      const proj = kind === 'lstm' && w.whr !== null;
      const sizes = recurrentSavedSizes(s);
      call(() => {
        const px = arena.input(F(x), T * N * I);
        const pwih = arena.input(F(w.wih), GH * I), pwhh = arena.input(F(w.whh), GH * P);
        const pwhr = proj ? arena.input(F(w.whr), P * H) : 0;
        const ph0 = arena.input(F(h0), N * P), pc0 = c0 ? arena.input(F(c0), N * H) : 0;
        const plen = s.lengths ? arena.inputI32(s.lengths) : 0;
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
  };

  return {
    ...refKernels, ...fast, name: 'wasm', variant: mod.variant, heap,
    resident: (n) => heap.residentF32(n),
  };
}
