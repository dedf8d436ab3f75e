/**
 * The LSTM streaming step's own binding: `recurrentForward` with T = 1 and nothing saved (a `step` under
 * noGrad) goes straight to the `lstmStep` export (wasm/assembly/lstm-step.ts: both products and the cell
 * in one call, one job on the pool), without the generic binder. The binder describes ~20 arguments as
 * objects per call, ~14 µs of a ~70 µs step on the 2-core EPYC; here the resident weights are used in
 * place, and the arrays that are not resident (x, the state, the outputs; the weights of a small model)
 * go through one block of wasm memory kept for the purpose, copied with plain loops: nothing is allocated
 * per call. Anything else (projection, GRU/RNN, lengths, H not a multiple of 4, float64)
 * returns false and takes the generic path, with the same results.
 */
import type { FloatArray, RecurrentShape, RecurrentWeights } from '../types.js';
import type { WasmHeap } from './heap.js';
import { WasmHeapFullError } from './heap.js';

export interface LstmStepExports {
  lstmStep(N: number, I: number, H: number, x: number, wih: number, whh: number, bih: number, bhh: number,
    h0: number, c0: number, y: number, hn: number, cn: number, ws: number): void;
  lstmStepScratch(N: number, H: number): number;
}

/** Rounded up to whole cache lines (16 floats). */
const line = (n: number): number => (n + 15) & ~15;

function copyIn(f32: Float32Array, p: number, a: Float32Array, n: number): void {
  if (a.length === n) { f32.set(a, p >> 2); return; } // a memcpy, and no view to allocate
  const o = p >> 2;
  for (let i = 0; i < n; i++) f32[o + i] = a[i]!;
}

function copyOut(f32: Float32Array, p: number, a: Float32Array, n: number): void {
  const o = p >> 2;
  for (let i = 0; i < n; i++) a[i] = f32[o + i]!;
}

/** The fast step, or null where the module lacks the export (a stale build). */
export function lstmStepBinding(ex: Partial<LstmStepExports>, heap: WasmHeap) {
  const { lstmStep, lstmStepScratch } = ex;
  if (lstmStep === undefined || lstmStepScratch === undefined) return null;
  let block = 0, blockBytes = 0;

  /** Address of a resident array, else of its slot in the block (copied in when `read`). */
  const place = (a: Float32Array, slot: number, n: number, read: boolean): number => {
    const r = heap.addressOf(a);
    if (r >= 0) return r;
    if (read) copyIn(heap.f32, slot, a, n);
    return slot;
  };
  const f32 = (a: FloatArray | null): a is Float32Array => a instanceof Float32Array;

  /** True when it ran the step; false: take the generic path. */
  return (s: RecurrentShape, x: FloatArray, w: RecurrentWeights, h0: FloatArray, c0: FloatArray | null,
    y: FloatArray, hn: FloatArray, cn: FloatArray | null): boolean => {
    const { N, I, H } = s;
    if (s.kind !== 'lstm' || s.T !== 1 || s.P !== H || (H & 3) !== 0 || s.lengths !== null || s.reverse || w.whr !== null) return false;
    if (!f32(x) || !f32(h0) || !f32(c0) || !f32(y) || !f32(hn) || !f32(cn) || !f32(w.wih) || !f32(w.whh)) return false;
    const GH = 4 * H, nh = N * H;
    // Block layout in bytes: x, h0, c0, y, hn, cn, b_ih, b_hh, the kernel's scratch, then room for the weights
    // where they are not resident (small models, or an ordinary memory in a page without cross-origin isolation).
    const oX = 0, oH0 = oX + 4 * line(N * I), oC0 = oH0 + 4 * line(nh), oY = oC0 + 4 * line(nh), oHn = oY + 4 * line(nh);
    const oCn = oHn + 4 * line(nh), oBih = oCn + 4 * line(nh), oBhh = oBih + 4 * line(GH), oWs = oBhh + 4 * line(GH);
    const oWih = oWs + line(lstmStepScratch(N, H)), oWhh = oWih + 4 * line(GH * I);
    const resident = heap.addressOf(w.wih) >= 0 && heap.addressOf(w.whh) >= 0;
    const need = resident ? oWih : oWhh + 4 * GH * H;
    if (need > blockBytes) {
      try {
        const p = heap.malloc(need);
        if (blockBytes > 0) heap.free(block);
        block = p;
        blockBytes = need;
      } catch (e) {
        if (e instanceof WasmHeapFullError) return false;
        throw e;
      }
    }
    const bih = w.bih, bhh = w.bhh;
    if ((bih !== null && !f32(bih)) || (bhh !== null && !f32(bhh))) return false;
    const wih = place(w.wih, block + oWih, GH * I, true), whh = place(w.whh, block + oWhh, GH * H, true);
    const pX = place(x, block + oX, N * I, true), pH0 = place(h0, block + oH0, nh, true), pC0 = place(c0, block + oC0, nh, true);
    const pBih = bih === null ? 0 : place(bih, block + oBih, GH, true), pBhh = bhh === null ? 0 : place(bhh, block + oBhh, GH, true);
    const pY = place(y, block + oY, nh, false), pCn = place(cn, block + oCn, nh, false);
    // hn as the same array as h0 is a state advanced in place: the kernel then writes h0 after the products.
    const pHn = hn === h0 ? pH0 : place(hn, block + oHn, nh, false);
    lstmStep(N, I, H, pX, wih, whh, pBih, pBhh, pH0, pC0, pY, pHn, pCn, block + oWs);
    const mem = heap.f32;
    if (pY === block + oY) copyOut(mem, pY, y, nh);
    if (pHn === block + oHn || (hn === h0 && pH0 === block + oH0)) copyOut(mem, pHn, hn, nh);
    if (pCn === block + oCn) copyOut(mem, pCn, cn, nh);
    return true;
  };
}
