/**
 * The KV cache of a streaming step, grown in place. A state's `k` and `v` stay values (state.ts): each
 * step returns new tensors and never changes the rows an older state can see. For one stream the tensors
 * are views [1, p, C] of a larger slab (in wasm memory when the backend keeps parameters there, so the
 * attention kernel reads the cache where it lies instead of copying it in per token); a step writes row p
 * past the end of every older view and returns a view one row longer. A slab remembers how many rows it
 * holds, so continuing an *older* state a second way (a branch) copies into a new slab instead of
 * overwriting the row the other branch wrote. Slabs grow by doubling, up to blockSize rows. For several
 * streams the [n, p, C] layout leaves no room to grow in place: the rows are copied into a new array.
 */
import { residentArray } from '../../ops/step.js';
import type { Tensor } from '../../tensor/tensor.js';

interface Slab {
  storage: Float32Array;
  /** Values written so far (rows · C). */
  filled: number;
}

/** The slab behind each view handed out (a weak key: the view keeps its slab, and its wasm block, alive). */
const slabOf = new WeakMap<Float32Array, Slab>();

/**
 * The values of `past` [n, p, C] followed, per stream, by one row left for the step kernel to write: an
 * array of n·(p + 1)·C, to be used as a [n, p + 1, C] cache. `past` itself is never written.
 */
export function extendCache(past: Tensor, n: number, p: number, C: number, maxRows: number): Float32Array {
  const want = n * (p + 1) * C;
  const buf = past.buf as Float32Array;
  if (n === 1) {
    const slab = slabOf.get(buf);
    if (slab !== undefined && buf.byteOffset === slab.storage.byteOffset && slab.filled === p * C && want <= slab.storage.length) {
      slab.filled = want;
      return view(slab, want);
    }
    const storage = residentArray(Math.min(maxRows, Math.max(64, 2 * (p + 1))) * C);
    storage.set(buf.subarray(0, p * C));
    return view({ storage, filled: want }, want);
  }
  const out = new Float32Array(want);
  for (let i = 0; i < n; i++) out.set(buf.subarray(i * p * C, (i + 1) * p * C), i * (p + 1) * C);
  return out;
}

function view(slab: Slab, n: number): Float32Array {
  const v = slab.storage.subarray(0, n);
  slabOf.set(v, slab);
  return v;
}
