/**
 * The KV cache of a streaming step, grown in place for any number of streams. A state's `k` and `v` stay
 * values (state.ts): each step returns a new state and never changes the rows an older state can see.
 *
 * Behind the fused step, a layer's keys and values live in a slab per layer (in wasm memory when the
 * backend keeps parameters there, so the attention kernel reads the cache where it lies): [n, cap, C] for
 * n streams, stream i's rows `cap` rows apart, so a step writes row p of every stream past the end of
 * every older state and attends over rows 0 … p without moving the cache. A slab remembers how many rows
 * it holds, so continuing an *older* state a second way (a branch) copies into a new slab instead of
 * overwriting the row the other branch wrote; one that is full is copied into one of twice the rows (up
 * to blockSize). The layer caches a step returns are views of a slab: their `k` and `v` tensors ([n, p, C],
 * the public layout) are made on first read — a view of the slab for one stream, a copy for several —
 * so stepping never copies the cache, and a state read, serialized or detached is a value like any other
 * (a step after such a read starts a new slab from it).
 */
import type { FloatArray } from '../../kernels/arrays.js';
import { residentArray } from '../../ops/step.js';
import { Tensor } from '../../tensor/tensor.js';

/** A layer's keys and values [n, p, C] (state.ts's GPTLayerCache; spelled here so the two files do not import each other). */
interface GPTLayerCache { k: Tensor; v: Tensor }

interface Slab {
  k: Float32Array;
  v: Float32Array;
  n: number;
  /** Rows per stream (the stride between streams, in rows). */
  cap: number;
  C: number;
  /** Rows written so far in every stream. */
  filled: number;
}

/** The slab and length behind each layer cache a fused step returned (weak: the cache keeps its slab alive). */
const slabOf = new WeakMap<GPTLayerCache, { slab: Slab; p: number }>();

/** [n, p, C] of a layer cache made by `slabLayer`, without making its tensors; undefined for plain caches. */
export function slabRows(layer: GPTLayerCache): { n: number; p: number; C: number } | undefined {
  const s = slabOf.get(layer);
  return s && { n: s.slab.n, p: s.p, C: s.slab.C };
}

/** Rows 0 … p − 1 of every stream of one slab array as a [n, p, C] tensor (a view when n = 1). */
function rows(slab: Slab, a: Float32Array, p: number): Tensor {
  const { n, cap, C } = slab;
  if (n === 1) return new Tensor(a.subarray(0, p * C), [1, p, C]);
  const out = new Float32Array(n * p * C);
  for (let i = 0; i < n; i++) out.set(a.subarray(i * cap * C, (i * cap + p) * C), i * p * C);
  return new Tensor(out, [n, p, C]);
}

/**
 * A layer cache of the first p rows of a slab; `k` and `v` are made when first read (enumerable, so state
 * walkers see them). Once it has handed out a copy (several streams), the layer is a plain cache: a later
 * step reads the tensors the caller holds, as it would from any state.
 */
function slabLayer(slab: Slab, p: number): GPTLayerCache {
  let k: Tensor | null = null, v: Tensor | null = null;
  const read = (a: Float32Array): Tensor => {
    if (slab.n > 1) slabOf.delete(layer);
    return rows(slab, a, p);
  };
  const layer: GPTLayerCache = {
    get k(): Tensor { return (k ??= read(slab.k)); },
    set k(t: Tensor) { k = t; slabOf.delete(layer); },
    get v(): Tensor { return (v ??= read(slab.v)); },
    set v(t: Tensor) { v = t; slabOf.delete(layer); },
  };
  slabOf.set(layer, { slab, p });
  return layer;
}

function newSlab(n: number, cap: number, C: number, filled: number): Slab {
  return { k: residentArray(n * cap * C), v: residentArray(n * cap * C), n, cap, C, filled };
}

/** Copy rows 0 … p − 1 of every stream from `src` (stream stride srcCap rows) into the slab. */
function copyRows(dst: Slab, src: { k: FloatArray; v: FloatArray }, srcCap: number, p: number): void {
  const { n, cap, C } = dst;
  for (let i = 0; i < n; i++) {
    dst.k.set(src.k.subarray(i * srcCap * C, (i * srcCap + p) * C), i * cap * C);
    dst.v.set(src.v.subarray(i * srcCap * C, (i * srcCap + p) * C), i * cap * C);
  }
}

/**
 * A slab holding `past`'s p rows per stream with row p free for the step kernel to write (claimed: the slab
 * now counts p + 1 rows), and a function giving the layer cache of p + 1 rows once the kernel has written
 * them. `past` itself is never written: it is extended in place only when nobody extended it before.
 */
export function extendCache(past: GPTLayerCache, n: number, p: number, C: number, maxRows: number): { slab: Slab; next: () => GPTLayerCache } {
  const link = slabOf.get(past);
  const grown = (): number => Math.min(maxRows, Math.max(64, 2 * (p + 1)));
  let slab: Slab;
  if (link !== undefined && link.p === p && link.slab.filled === p) {
    if (p < link.slab.cap) slab = link.slab;
    else copyRows(slab = newSlab(n, grown(), C, p), link.slab, link.slab.cap, p);                // full: twice the rows
  } else if (link !== undefined) copyRows(slab = newSlab(n, grown(), C, p), link.slab, link.slab.cap, p); // a branch
  else copyRows(slab = newSlab(n, grown(), C, p), { k: past.k.buf, v: past.v.buf }, p, p);
  slab.filled = p + 1;
  return { slab, next: () => slabLayer(slab, p + 1) };
}
