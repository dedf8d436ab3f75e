/**
 * The wasm heap: a first-fit allocator with coalescing over the module's linear memory, grown on demand.
 * It holds two kinds of blocks:
 *
 * - the scratch arena's chunk (arena.ts), reused by every kernel call;
 * - resident float32 arrays (`residentF32`): storage for long-lived tensors (parameters, optimiser
 *   state) that kernels then read and write in place, with no copy per call. Their blocks are freed
 *   when the array is garbage-collected (FinalizationRegistry), or at once by an owner that knows it is
 *   done with one (`release`): V8 does not count wasm memory, so a process whose JS heap stays small may
 *   not collect for a long time while dropped arrays hold their blocks.
 *
 * Resident arrays exist only on a shared memory (SharedArrayBuffer): growing a shared memory leaves
 * earlier views valid, while growing an ordinary one detaches every view of it. On an ordinary memory the
 * heap serves only the arena, whose views are refreshed after each grow.
 */
export class WasmHeapFullError extends Error {}

const PAGE = 65536;
/** wasm32 addresses at most 4 GiB. */
const MAX_BYTES = 65536 * PAGE;
const ALIGN = 64;

interface Block { p: number; size: number }

export class WasmHeap {
  /** Free blocks in address order. */
  private readonly freeList: Block[] = [];
  private readonly sizes = new Map<number, number>();
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  private readonly registry: FinalizationRegistry<number> | null;
  f32!: Float32Array;
  i32!: Int32Array;
  /** Bytes currently allocated (arena chunk + resident arrays). */
  inUse = 0;

  constructor(readonly memory: WebAssembly.Memory, heapBase: number, readonly shared: boolean) {
    const base = Math.ceil(heapBase / ALIGN) * ALIGN;
    const end = memory.buffer.byteLength;
    if (end > base) this.freeList.push({ p: base, size: end - base });
    this.refresh();
    this.registry = shared && typeof FinalizationRegistry === 'function' ? new FinalizationRegistry((p) => this.free(p)) : null;
  }

  /** Bytes of linear memory reserved so far. */
  get capacity(): number {
    return this.memory.buffer.byteLength;
  }

  /** A 64-byte-aligned block of at least `bytes` bytes (contents undefined). */
  malloc(bytes: number): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    for (;;) {
      for (let i = 0; i < this.freeList.length; i++) {
        const b = this.freeList[i]!;
        if (b.size < size) continue;
        const p = b.p;
        b.p += size;
        b.size -= size;
        if (b.size === 0) this.freeList.splice(i, 1);
        this.sizes.set(p, size);
        this.inUse += size;
        return p;
      }
      this.grow(size);
    }
  }

  free(p: number): void {
    const size = this.sizes.get(p);
    if (size === undefined) return;
    this.sizes.delete(p);
    this.inUse -= size;
    this.insertFree(p, size);
  }

  /**
   * A zeroed float32 array living in wasm memory, or null where arrays cannot be resident (an ordinary,
   * non-shared memory). Freed when the returned array is garbage-collected: keep the array itself (not
   * only a subarray of it) for as long as the storage is in use.
   */
  residentF32(n: number): Float32Array | null {
    if (this.registry === null) return null;
    const p = this.malloc(n * 4);
    const a = new Float32Array(this.memory.buffer, p, n);
    a.fill(0);
    // The array is also its unregister token, so `release` can tell the whole array from a view of it.
    this.registry.register(a, p, a);
    return a;
  }

  /**
   * Free a resident array now instead of when it is garbage-collected: for an owner that knows nothing else
   * can see the array (a StreamSession's own state). Only the array `residentF32` returned counts (not a
   * subarray of it); returns false, freeing nothing, for anything else. The caller must drop every view.
   */
  release(a: Float32Array): boolean {
    if (this.registry === null || this.addressOf(a) === -1 || !this.registry.unregister(a)) return false;
    this.free(a.byteOffset);
    return true;
  }

  /** Byte address of a float32 array that lives in this memory, or −1 when it is an ordinary JS array. */
  addressOf(a: Float32Array): number {
    return this.buffers.has(a.buffer) ? a.byteOffset : -1;
  }

  private insertFree(p: number, size: number): void {
    const list = this.freeList;
    let i = 0;
    while (i < list.length && list[i]!.p < p) i++;
    const prev = i > 0 ? list[i - 1]! : null, next = i < list.length ? list[i]! : null;
    if (prev && prev.p + prev.size === p) {
      prev.size += size;
      if (next && prev.p + prev.size === next.p) { prev.size += next.size; list.splice(i, 1); }
    } else if (next && p + size === next.p) {
      next.p = p;
      next.size += size;
    } else {
      list.splice(i, 0, { p, size });
    }
  }

  private grow(size: number): void {
    const end = this.memory.buffer.byteLength;
    const last = this.freeList[this.freeList.length - 1];
    const tail = last && last.p + last.size === end ? last.size : 0;
    const need = size - tail;
    if (end + need > MAX_BYTES) throw new WasmHeapFullError(`wasm heap: ${end + need} bytes exceed the 4 GiB address space`);
    // At least half again, so a series of slightly larger requests does not grow every time.
    const want = Math.min(MAX_BYTES - end, Math.max(need, end >> 1));
    let added = 0;
    try {
      this.memory.grow(Math.ceil(want / PAGE));
      added = Math.ceil(want / PAGE) * PAGE;
    } catch {
      try {
        this.memory.grow(Math.ceil(need / PAGE));
        added = Math.ceil(need / PAGE) * PAGE;
      } catch {
        throw new WasmHeapFullError(`wasm heap: cannot grow memory to ${end + need} bytes`);
      }
    }
    this.insertFree(end, added);
    this.refresh();
  }

  private refresh(): void {
    const buf = this.memory.buffer;
    this.buffers.add(buf);
    this.f32 = new Float32Array(buf);
    this.i32 = new Int32Array(buf);
  }
}
