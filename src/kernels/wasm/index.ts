/**
 * The WebAssembly SIMD backend. Each fast method copies its float32 inputs into the scratch arena in
 * wasm linear memory, runs one exported kernel, and copies the outputs back (see README.md for why
 * copy-in/copy-out, and what it costs). Every method without a fast version — and every call on float64
 * arrays — is the reference kernel: the backend object is `{ ...refKernels, ...fast }`, so methods added
 * to the `Kernels` interface later work here at once.
 */
import { refKernels } from '../ref/index.js';
import { GATES, recurrentSavedSizes, type FloatArray, type Kernels, type RecurrentKind } from '../types.js';
import { Arena, ArenaFullError } from './arena.js';
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

/** The wasm backend's kernels plus a view of its arena (for tests and benchmarks). */
export interface WasmKernels extends Kernels {
  readonly variant: WasmModule['variant'];
  readonly arena: Arena;
}

export function createWasmKernels(mod: WasmModule, options: WasmKernelOptions = {}): WasmKernels {
  const opts = { ...wasmKernelDefaults, ...options };
  const ex = mod.exports;
  const arena = new Arena(ex.memory, ex.heapBase());

  /** Run `fast`; when the arena cannot hold the call, run `slow` (the reference) instead. */
  const orRef = <T>(fast: () => T, slow: () => T): T => {
    try {
      arena.reset();
      return fast();
    } catch (e) {
      if (e instanceof ArenaFullError) return slow();
      throw e;
    }
  };

  const fast: Partial<Kernels> = {
    gemm(transA, transB, m, n, k, a, aOff, b, bOff, c, cOff, accumulate) {
      if (!f32(a, b, c) || n * k < opts.minGemmWork || m === 0 || n === 0) {
        refKernels.gemm(transA, transB, m, n, k, a, aOff, b, bOff, c, cOff, accumulate);
        return;
      }
      orRef(() => {
        const pa = arena.put(a as Float32Array, m * k, aOff);
        const pb = arena.put(b as Float32Array, k * n, bOff);
        const pc = accumulate ? arena.put(c as Float32Array, m * n, cOff) : arena.allocF32(m * n);
        if (transB && !transA) {
          // A · Bᵀ with B stored [n, k]: dot products along k, no packing (wasm/assembly/gemm-nt.ts).
          ex.gemmNT(m, n, k, pa, k, pb, k, pc, n, accumulate ? 1 : 0);
        } else {
          const ws = arena.alloc(ex.gemmScratch(k, n));
          ex.gemm(m, n, k, pa, transA ? 1 : k, transA ? m : 1, pb, transB ? 1 : n, transB ? k : 1, pc, n, accumulate ? 1 : 0, ws);
        }
        arena.get(pc, c as Float32Array, m * n, cOff);
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
      orRef(() => {
        const F = (a: FloatArray) => a as Float32Array;
        const px = arena.put(F(x), T * N * I);
        const pwih = arena.put(F(w.wih), GH * I), pwhh = arena.put(F(w.whh), GH * P);
        const pbih = w.bih ? arena.put(F(w.bih), GH) : 0, pbhh = w.bhh ? arena.put(F(w.bhh), GH) : 0;
        const pwhr = proj ? arena.put(F(w.whr!), P * H) : 0;
        const ph0 = arena.put(F(h0), N * P), pc0 = c0 ? arena.put(F(c0), N * H) : 0;
        const plen = s.lengths ? arena.putI32(s.lengths) : 0;
        const py = arena.allocF32(T * N * P), phn = arena.allocF32(N * P), pcn = cn ? arena.allocF32(N * H) : 0;
        const pg = arena.allocF32(sizes.gates), phs = arena.allocF32(sizes.h);
        const pcs = arena.allocF32(sizes.c), pa = arena.allocF32(sizes.aux);
        const ws = arena.alloc(ex.recurrentForwardScratch(KIND[kind], N, I, H, P, proj ? 1 : 0));
        ex.recurrentForward(KIND[kind], T, N, I, H, P, s.reverse ? 1 : 0, plen, px, pwih, pwhh, pbih, pbhh, pwhr, ph0, pc0,
          py, phn, pcn, pg, phs, pcs, pa, ws);
        arena.get(py, F(y), T * N * P);
        arena.get(phn, F(hn), N * P);
        if (cn) arena.get(pcn, F(cn), N * H);
        arena.get(pg, F(saved.gates), sizes.gates);
        arena.get(phs, F(saved.h), sizes.h);
        arena.get(pcs, F(saved.c), sizes.c);
        arena.get(pa, F(saved.aux), sizes.aux);
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
      orRef(() => {
        const F = (a: FloatArray) => a as Float32Array;
        const px = arena.put(F(x), T * N * I);
        const pwih = arena.put(F(w.wih), GH * I), pwhh = arena.put(F(w.whh), GH * P);
        const pwhr = proj ? arena.put(F(w.whr!), P * H) : 0;
        const ph0 = arena.put(F(h0), N * P), pc0 = c0 ? arena.put(F(c0), N * H) : 0;
        const plen = s.lengths ? arena.putI32(s.lengths) : 0;
        const pg = arena.put(F(saved.gates), sizes.gates), phs = arena.put(F(saved.h), sizes.h);
        const pcs = arena.put(F(saved.c), sizes.c), pa = arena.put(F(saved.aux), sizes.aux);
        const pdy = dy ? arena.put(F(dy), T * N * P) : 0;
        const pdhn = dhn ? arena.put(F(dhn), N * P) : 0, pdcn = dcn ? arena.put(F(dcn), N * H) : 0;
        const pdx = arena.allocF32(T * N * I), pdh0 = arena.allocF32(N * P), pdc0 = g.dc0 ? arena.allocF32(N * H) : 0;
        // Weight gradients accumulate: bring their current values in.
        const pdwih = arena.put(F(g.dwih), GH * I), pdwhh = arena.put(F(g.dwhh), GH * P);
        const pdbih = g.dbih ? arena.put(F(g.dbih), GH) : 0, pdbhh = g.dbhh ? arena.put(F(g.dbhh), GH) : 0;
        const pdwhr = proj && g.dwhr ? arena.put(F(g.dwhr), P * H) : 0;
        const ws = arena.alloc(ex.recurrentBackwardScratch(KIND[kind], T, N, I, H, P, proj ? 1 : 0));
        ex.recurrentBackward(KIND[kind], T, N, I, H, P, s.reverse ? 1 : 0, plen, px, pwih, pwhh, pwhr, ph0, pc0,
          pg, phs, pcs, pa, pdy, pdhn, pdcn, pdx, pdh0, pdc0, pdwih, pdwhh, pdbih, pdbhh, pdwhr, ws);
        arena.get(pdx, F(g.dx), T * N * I);
        arena.get(pdh0, F(g.dh0), N * P);
        if (g.dc0) arena.get(pdc0, F(g.dc0), N * H);
        arena.get(pdwih, F(g.dwih), GH * I);
        arena.get(pdwhh, F(g.dwhh), GH * P);
        if (g.dbih) arena.get(pdbih, F(g.dbih), GH);
        if (g.dbhh) arena.get(pdbhh, F(g.dbhh), GH);
        if (pdwhr) arena.get(pdwhr, F(g.dwhr!), P * H);
      }, () => refKernels.recurrentBackward(s, x, w, h0, c0, saved, dy, dhn, dcn, g));
    },
  };

  return { ...refKernels, ...fast, name: 'wasm', variant: mod.variant, arena };
}
