/**
 * The worker pool: `threads − 1` workers, each running `workerLoop` of its own instance of the module on
 * the same shared memory (wasm/assembly/parallel.ts has the protocol). Workers start in the background;
 * a GEMM uses whichever have come online, so nothing waits for the pool and nothing changes when it is
 * absent. Node only for now (worker_threads, reached through `process.getBuiltinModule`, so the core has
 * no Node import); in a browser, or without shared memory, the backend runs single-threaded.
 */
import type { WasmHeap } from './heap.js';
import type { WasmModule } from './module.js';

type WorkerThreads = typeof import('node:worker_threads');
type Os = typeof import('node:os');

interface NodeProcess { getBuiltinModule?: (id: string) => unknown; env?: Record<string, string | undefined> }
const proc = (globalThis as { process?: NodeProcess }).process;

// A worker's whole program (CommonJS, run with eval): instantiate the shared module, then serve jobs.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, ctrl } = workerData;
const instance = new WebAssembly.Instance(module, { env: { memory } });
instance.exports.workerLoop(ctrl);
`;

/** Multiply-adds per thread below which a GEMM is not split. */
export const MIN_MACS_PER_THREAD = 65536;

export class ThreadPool {
  private readonly workers: { terminate(): Promise<number> }[] = [];
  private readonly ctrl: number;
  private readonly online: Int32Array;
  private threads = 1;

  private constructor(private readonly mod: WasmModule, heap: WasmHeap, private readonly wt: WorkerThreads,
    private readonly capacity: number, private readonly minWork: number) {
    const ex = mod.exports;
    this.ctrl = heap.malloc(ex.threadControlSize(capacity));
    new Uint8Array(mod.memory.buffer, this.ctrl, ex.threadControlSize(capacity)).fill(0);
    this.online = new Int32Array(mod.memory.buffer, this.ctrl + 8, 1);
    const slots = new Int32Array(mod.memory.buffer, this.ctrl + 128, capacity + 1);
    for (let t = 1; t <= capacity; t++) slots[t] = heap.malloc(ex.gemmPackedScratch());
  }

  /** A pool able to grow to `capacity` workers, or null where threads are not possible here. */
  static create(mod: WasmModule, heap: WasmHeap, capacity = defaultThreads() - 1, minWork = MIN_MACS_PER_THREAD): ThreadPool | null {
    if (!mod.shared || capacity < 1) return null;
    let wt: WorkerThreads | undefined;
    try { wt = proc?.getBuiltinModule?.('node:worker_threads') as WorkerThreads | undefined; } catch { wt = undefined; }
    if (!wt) return null;
    return new ThreadPool(mod, heap, wt, capacity, minWork);
  }

  /** Use up to `n` threads in all (this one included), starting workers as needed (at most capacity + 1). */
  setThreads(n: number): number {
    this.threads = Math.max(1, Math.min(Math.floor(n), this.capacity + 1));
    while (this.workers.length < this.threads - 1) {
      const w = new this.wt.Worker(WORKER_SOURCE, { eval: true, workerData: { module: this.mod.module, memory: this.mod.memory, ctrl: this.ctrl } });
      w.unref(); // an idle pool never keeps the process alive
      this.workers.push(w);
    }
    this.mod.exports.setThreadControl(this.ctrl, this.threads, this.minWork);
    return this.threads;
  }

  get size(): number {
    return this.threads;
  }

  /** Workers that have joined so far. */
  get workersOnline(): number {
    return Atomics.load(this.online, 0);
  }

  /** Resolves once `n` workers (default: all started) are serving jobs. */
  async whenOnline(n = this.workers.length, timeoutMs = 10_000): Promise<void> {
    const start = Date.now();
    while (this.workersOnline < n) {
      if (Date.now() - start > timeoutMs) throw new Error(`seqlab threads: ${this.workersOnline} of ${n} workers online after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** Stop every worker (the backend runs single-threaded afterwards). */
  async stop(): Promise<void> {
    this.mod.exports.setThreadControl(0, 1, this.minWork);
    this.mod.exports.stopWorkers();
    await Promise.all(this.workers.splice(0).map((w) => w.terminate()));
    this.threads = 1;
  }
}

/** The number of cores (SEQLAB_THREADS overrides), or 1 where it cannot be told. */
export function defaultThreads(): number {
  const env = Number(proc?.env?.SEQLAB_THREADS);
  if (Number.isInteger(env) && env >= 1) return env;
  try {
    const os = proc?.getBuiltinModule?.('node:os') as Os | undefined;
    return os ? (os.availableParallelism?.() ?? os.cpus().length) : 1;
  } catch {
    return 1;
  }
}
