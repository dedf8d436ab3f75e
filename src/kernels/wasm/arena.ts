/**
 * The scratch arena: a bump allocator over one chunk of the wasm heap, reset at the start of every
 * kernel call. A call brings in its inputs (`input`: an address of its own for a resident array, else a
 * copy), carves its outputs and workspace, runs, and `finish` copies the outputs that are not resident
 * back out. When a call needs more than the chunk, the overflow comes from the heap and the next
 * `reset` replaces the chunk by one as large as that call used; so a training loop reaches a steady
 * state in which it allocates nothing.
 *
 * Views of an ordinary (non-shared) memory are detached when it grows: read `heap.f32` afresh after any
 * allocation, never hold it across one.
 */
import type { WasmHeap } from './heap.js';

const EMPTY = new Float32Array(0);
/** Copies up to this many values are done in a loop, without a view. */
const SHORT = 4096;

export class Arena {
  private chunk = 0;
  private chunkSize = 0;
  private top = 0;
  private used = 0;
  private readonly overflow: number[] = [];
  /** Outputs to copy back: the first `npending` entries (kept and reused, so a call allocates nothing). */
  private readonly pending: { p: number; dst: Float32Array; n: number; off: number }[] = [];
  private npending = 0;

  constructor(readonly heap: WasmHeap) {}

  /** Start a kernel call: forget every scratch allocation (and regrow the chunk to the last call's use). */
  reset(): void {
    this.clearPending();
    if (this.overflow.length > 0) {
      for (const p of this.overflow) this.heap.free(p);
      this.overflow.length = 0;
      if (this.chunkSize > 0) this.heap.free(this.chunk);
      this.chunkSize = Math.ceil(this.used * 1.25 / 65536) * 65536;
      this.chunk = this.heap.malloc(this.chunkSize);
    }
    this.top = this.chunk;
    this.used = 0;
  }

  /** A 64-byte-aligned scratch region of `bytes` bytes; its contents are undefined. */
  alloc(bytes: number): number {
    const size = Math.max(64, Math.ceil(bytes / 64) * 64);
    this.used += size;
    if (this.top + size <= this.chunk + this.chunkSize) {
      const p = this.top;
      this.top += size;
      return p;
    }
    const p = this.heap.malloc(size);
    this.overflow.push(p);
    return p;
  }

  /** Room for n float32 values. */
  allocF32(n: number): number {
    return this.alloc(n * 4);
  }

  /** The address of a[off .. off+n) in wasm memory: its own for a resident array, else a fresh copy. */
  input(a: Float32Array, n: number, off = 0): number {
    const r = this.heap.addressOf(a);
    if (r >= 0) return r + off * 4;
    const p = this.allocF32(n), f32 = this.heap.f32, q = p >> 2;
    if (off === 0 && n === a.length) f32.set(a, q);
    else if (n > SHORT) f32.set(a.subarray(off, off + n), q);
    else for (let j = 0; j < n; j++) f32[q + j] = a[off + j]!;
    return p;
  }

  /** An address for the output a[off .. off+n): its own if resident, else scratch copied back by `finish`. */
  output(a: Float32Array, n: number, off = 0): number {
    const r = this.heap.addressOf(a);
    if (r >= 0) return r + off * 4;
    const p = this.allocF32(n);
    this.addPending(p, a, n, off);
    return p;
  }

  /** An input that the kernel also updates (accumulating or in-place outputs). */
  inout(a: Float32Array, n: number, off = 0): number {
    const r = this.heap.addressOf(a);
    if (r >= 0) return r + off * 4;
    const p = this.input(a, n, off);
    this.addPending(p, a, n, off);
    return p;
  }

  /** Copy an int32 array in; returns its address. */
  inputI32(a: Int32Array): number {
    const p = this.alloc(a.length * 4);
    this.heap.i32.set(a, p >> 2);
    return p;
  }

  /** Copy every non-resident output back to its array. */
  finish(): void {
    const f32 = this.heap.f32;
    for (let i = 0; i < this.npending; i++) {
      const { p, dst, n, off } = this.pending[i]!, q = p >> 2;
      // Short copies element by element: a subarray view per output would be a streamed token's garbage.
      if (n > SHORT) dst.set(f32.subarray(q, q + n), off);
      else for (let j = 0; j < n; j++) dst[off + j] = f32[q + j]!;
    }
    this.clearPending();
  }

  private addPending(p: number, dst: Float32Array, n: number, off: number): void {
    const e = this.pending[this.npending];
    if (e === undefined) this.pending.push({ p, dst, n, off });
    else { e.p = p; e.dst = dst; e.n = n; e.off = off; }
    this.npending++;
  }

  /** Forget the pending copies (and drop the arrays they name, so the arena keeps none of them alive). */
  private clearPending(): void {
    for (let i = 0; i < this.npending; i++) this.pending[i]!.dst = EMPTY;
    this.npending = 0;
  }
}
