/**
 * Recycled buffers for backward passes (like PyTorch's caching allocator, for the one place where seqlab
 * knows a buffer's lifetime). Every float32 array of `GRAD_POOL_MIN` or more values that a backward pass
 * allocates — the gradients the rules return, the sums the tape accumulates, the rules' temporaries — is
 * internal to that pass: a leaf's `.grad` is a copy made outside the pool (tape.ts), rules keep nothing,
 * and nothing else of a pass is handed to the caller. So when the pass ends, all of them are free, and the
 * next pass takes them again instead of allocating (a training loop then allocates no gradient buffers and
 * gives the garbage collector nothing to do for them).
 *
 * The pool keeps, per array length, what the last pass used: a buffer a pass did not need is dropped at its
 * end, so memory stays at one pass's worth when shapes change. Where the wasm backend keeps tensors in its
 * memory, the buffers are made there (`setGradBufferSource`), so kernels read and write gradients in place
 * instead of copying them in and out per call.
 */
import { setFloatScope, type FloatScope } from '../tensor/tensor.js';

/** Arrays shorter than this come from the ordinary allocator (small arrays are cheap slab views there). */
export const GRAD_POOL_MIN = 1024;

/** Where new buffers come from and where dropped ones go. */
export interface GradBufferSource {
  /** A zeroed array of n values. */
  alloc(n: number): Float32Array;
  /** `a` is no longer used by anyone (its storage may be freed now). */
  release(a: Float32Array): void;
}

const plain: GradBufferSource = { alloc: (n) => new Float32Array(n), release: () => {} };
let source = plain;

class GradPool implements FloatScope {
  readonly min = GRAD_POOL_MIN;
  /** Free buffers by length. */
  private free = new Map<number, Float32Array[]>();
  /** Buffers handed out during the open pass. */
  private taken: Float32Array[] = [];

  take(n: number, clear: boolean): Float32Array {
    const a = this.free.get(n)?.pop();
    const b = a === undefined ? source.alloc(n) : clear ? a.fill(0) : a;
    // Tests poison the buffers a caller promised to overwrite, so a broken promise shows as NaN.
    if (!clear && poison) b.fill(NaN);
    this.taken.push(b);
    return b;
  }

  /** The pass is over: drop what it did not use, and make everything it took free again. */
  end(): void {
    for (const list of this.free.values()) for (const a of list) source.release(a);
    this.free.clear();
    for (const a of this.taken) {
      const list = this.free.get(a.length);
      if (list === undefined) this.free.set(a.length, [a]);
      else list.push(a);
    }
    this.taken = [];
  }

  /** Drop every free buffer. */
  clear(): void {
    for (const list of this.free.values()) for (const a of list) source.release(a);
    this.free.clear();
  }
}

const pool = new GradPool();
let depth = 0;
let enabled = true;
let poison = false;

/**
 * @internal Turn recycling off (every pass allocates afresh, as before the pool) or on: for A/B benchmarks
 * and for tests that compare the two. Returns the previous setting.
 */
export function setGradPoolEnabled(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  if (!on) pool.clear();
  return prev;
}

/**
 * @internal For tests: fill every buffer handed out without clearing (allocFloat's `clear` false) with NaN,
 * so that a caller that reads an element before writing it changes the results it is compared on.
 */
export function setGradPoolPoison(on: boolean): void {
  poison = on;
}

/**
 * Run one backward pass with its float32 allocations drawn from the pool; every buffer it took is free
 * again when `fn` returns or throws. A pass nested in another allocates normally.
 */
export function withGradPool<T>(fn: () => T): T {
  if (!enabled) return fn();
  if (depth > 0) return outsideGradPool(fn);
  depth++;
  const prev = setFloatScope(pool);
  try {
    return fn();
  } finally {
    setFloatScope(prev);
    depth--;
    pool.end();
  }
}

/** Run `fn` with ordinary allocation (for arrays that outlive the pass: a leaf's `.grad`). */
export function outsideGradPool<T>(fn: () => T): T {
  const prev = setFloatScope(null);
  try {
    return fn();
  } finally {
    setFloatScope(prev);
  }
}

/** Where the pool's buffers come from (the ops layer installs the active backend's resident allocator). */
export function setGradBufferSource(s: GradBufferSource): void {
  pool.clear();
  source = s;
}
