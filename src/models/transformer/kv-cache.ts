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
import { releaseArray, residentArray } from '../../ops/step.js';
import { Tensor } from '../../tensor/tensor.js';

/** A layer's keys and values [n, p, C] (state.ts's GPTLayerCache; spelled here so the two files do not import each other). */
interface GPTLayerCache { k: Tensor; v: Tensor }

export interface Slab {
  k: Float32Array;
  v: Float32Array;
  n: number;
  /** Rows per stream (the stride between streams, in rows). */
  cap: number;
  C: number;
  /** Rows written so far in every stream. */
  filled: number;
}

/** What a layer cache made by `slabLayer` stands for: rows 0 … p − 1 of its slab, and its tensors once made. */
interface Link { slab: Slab; p: number; k: Tensor | null; v: Tensor | null }

/** The link behind each layer cache a fused step returned (weak: the cache keeps its slab alive). */
const slabOf = new WeakMap<GPTLayerCache, Link>();

/** The slab and row count behind a layer cache made by a fused step, without making its tensors; undefined for plain caches. */
export function slabRows(layer: GPTLayerCache): { readonly slab: Readonly<Slab>; readonly p: number } | undefined {
  return slabOf.get(layer);
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
  const link: Link = { slab, p, k: null, v: null };
  let plain: { k: Tensor; v: Tensor } | null = null;
  // Several streams' rows are a copy: from then on the layer holds plain tensors, no longer the slab.
  const toPlain = (): { k: Tensor; v: Tensor } => {
    plain ??= { k: link.k ?? rows(link.slab, link.slab.k, link.p), v: link.v ?? rows(link.slab, link.slab.v, link.p) };
    slabOf.delete(layer);
    return plain;
  };
  const read = (which: 'k' | 'v'): Tensor => {
    if (plain !== null) return plain[which];
    if (link.slab.n > 1) return toPlain()[which];
    return (link[which] ??= rows(link.slab, link.slab[which], link.p));
  };
  const layer: GPTLayerCache = {
    get k(): Tensor { return read('k'); },
    set k(t: Tensor) { toPlain().k = t; },
    get v(): Tensor { return read('v'); },
    set v(t: Tensor) { toPlain().v = t; },
  };
  slabOf.set(layer, link);
  return layer;
}

/**
 * Extend a layer cache by one row in place, for an owner that alone holds it (a StreamSession's state): when
 * `layer` stands for all p rows its slab holds and the slab has room, the slab takes row p (for the step
 * kernel to write) and the same layer object now stands for p + 1 rows — nothing is allocated. Returns the
 * slab, or null when the layer has to move (`extendCache`).
 */
export function extendInPlace(layer: GPTLayerCache, p: number): Slab | null {
  const link = slabOf.get(layer);
  if (link === undefined || link.p !== p || link.slab.filled !== p || p >= link.slab.cap) return null;
  link.slab.filled = link.p = p + 1;
  link.k = link.v = null;
  return link.slab;
}

function newSlab(n: number, cap: number, C: number, filled: number): Slab {
  return { k: residentArray(n * cap * C), v: residentArray(n * cap * C), n, cap, C, filled };
}

/**
 * Free a slab's wasm memory now, for an owner sure that no layer cache of it will be read again (a
 * StreamSession's own state: it hands out only copies). Otherwise a slab is freed when garbage-collected.
 */
export function releaseSlab(slab: Slab): void {
  releaseArray(slab.k);
  releaseArray(slab.v);
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
