/**
 * The scratch arena: one bump allocator over the wasm module's linear memory, reset at the start of every
 * kernel call. A call copies its inputs in (`put`), carves its outputs and workspace (`alloc`), runs, and
 * copies its outputs back (`get`). Memory grows on demand and is never returned (wasm memory cannot
 * shrink), so its size is the largest single call's footprint; that footprint is reused by every later
 * call, so a training loop allocates nothing in steady state.
 *
 * Growing a (non-shared) WebAssembly.Memory detaches every view of the old buffer: the typed-array views
 * here are refreshed after each grow, and callers must not hold a view across an `alloc`.
 */
export class ArenaFullError extends Error {}

const PAGE = 65536;
/** wasm32 addresses at most 4 GiB. */
const MAX_PAGES = 65536;

export class Arena {
  private top: number;
  private readonly base: number;
  f32: Float32Array;
  i32: Int32Array;

  constructor(private readonly memory: WebAssembly.Memory, heapBase: number) {
    this.base = (heapBase + 63) & ~63;
    this.top = this.base;
    this.f32 = new Float32Array(memory.buffer);
    this.i32 = new Int32Array(memory.buffer);
  }

  /** Forget every allocation (start of a kernel call). */
  reset(): void {
    this.top = this.base;
  }

  /** Bytes of linear memory currently reserved by the wasm instance. */
  get capacity(): number {
    return this.memory.buffer.byteLength;
  }

  /** A 64-byte-aligned region of `bytes` bytes; its contents are undefined. */
  alloc(bytes: number): number {
    const p = this.top;
    const end = p + ((bytes + 63) & ~63);
    if (end > this.memory.buffer.byteLength) this.grow(end);
    this.top = end;
    return p;
  }

  /** Room for n float32 values. */
  allocF32(n: number): number {
    return this.alloc(n * 4);
  }

  /** Copy src[off .. off+n) in; returns its address. */
  put(src: Float32Array, n: number, off = 0): number {
    const p = this.allocF32(n);
    if (n > 0) this.f32.set(n === src.length && off === 0 ? src : src.subarray(off, off + n), p >> 2);
    return p;
  }

  /** Copy an int32 array in; returns its address. */
  putI32(src: Int32Array): number {
    const p = this.alloc(src.length * 4);
    this.i32.set(src, p >> 2);
    return p;
  }

  /** Copy n floats at address p out into dst[off ..]. */
  get(p: number, dst: Float32Array, n: number, off = 0): void {
    if (n > 0) dst.set(this.f32.subarray(p >> 2, (p >> 2) + n), off);
  }

  private grow(end: number): void {
    const have = this.memory.buffer.byteLength / PAGE;
    // Grow by at least half again, so a series of slightly larger calls does not grow every time.
    const want = Math.min(MAX_PAGES, Math.max(Math.ceil(end / PAGE), Math.ceil(have * 1.5)));
    if (end > MAX_PAGES * PAGE) throw new ArenaFullError(`wasm arena: ${end} bytes exceed the 4 GiB address space`);
    try {
      this.memory.grow(want - have);
    } catch {
      try { this.memory.grow(Math.ceil(end / PAGE) - have); } catch { throw new ArenaFullError(`wasm arena: cannot grow to ${end} bytes`); }
    }
    this.f32 = new Float32Array(this.memory.buffer);
    this.i32 = new Int32Array(this.memory.buffer);
  }
}
