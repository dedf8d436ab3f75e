/**
 * The worker pool: `threads − 1` workers, each running `workerLoop` of its own instance of the module on
 * the same shared memory (wasm/assembly/parallel.ts has the protocol). Workers start in the background;
 * a GEMM uses whichever have come online, so nothing waits for the pool and nothing changes when it is
 * absent. Node: `worker_threads`, reached through `process.getBuiltinModule`, so the core has no Node
 * import. Browsers: Web Workers from a Blob URL, on a cross-origin-isolated page only (sending a shared
 * memory to a worker needs it). A browser's main thread may not block, so there it only spins while the
 * workers finish (`setMainWait(0)`); inside a Worker it sleeps as in Node.
 */
import type { WasmHeap } from './heap.js';
import type { WasmModule } from './module.js';

type WorkerThreads = typeof import('node:worker_threads');
type Os = typeof import('node:os');

interface NodeProcess { getBuiltinModule?: (id: string) => unknown; env?: Record<string, string | undefined> }
const proc = (globalThis as { process?: NodeProcess }).process;

// A Node worker's whole program (CommonJS, run with eval): instantiate the shared module, then serve jobs.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, ctrl } = workerData;
const instance = new WebAssembly.Instance(module, { env: { memory } });
instance.exports.workerLoop(ctrl);
`;

// A Web Worker's whole program: the same, from its first message.
const WEB_WORKER_SOURCE = `
onmessage = (e) => {
  const { module, memory, ctrl } = e.data;
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  instance.exports.workerLoop(ctrl);
};
`;

/** Multiply-adds per thread below which a GEMM is not split. */
export const MIN_MACS_PER_THREAD = 65536;

interface PoolWorker { terminate(): unknown }
type Spawn = (job: { module: WebAssembly.Module; memory: WebAssembly.Memory; ctrl: number }) => PoolWorker;

interface WebGlobals {
  Worker?: new (url: string, options?: { name?: string }) => PoolWorker & { postMessage(m: unknown): void };
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
}
const web = globalThis as WebGlobals;

/** Whether this thread may block in Atomics.wait (not a browser's main thread). */
function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

function nodeSpawner(): Spawn | null {
  let wt: WorkerThreads | undefined;
  try { wt = proc?.getBuiltinModule?.('node:worker_threads') as WorkerThreads | undefined; } catch { wt = undefined; }
  if (!wt) return null;
  const { Worker } = wt;
  return (workerData) => {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData });
    w.unref(); // an idle pool never keeps the process alive
    return w;
  };
}

function webSpawner(): Spawn | null {
  const W = web.Worker;
  if (typeof W !== 'function' || web.crossOriginIsolated !== true) return null;
  let url: string | undefined;
  return (job) => {
    url ??= URL.createObjectURL(new Blob([WEB_WORKER_SOURCE], { type: 'text/javascript' }));
    const w = new W(url, { name: 'seqlab-gemm' });
    w.postMessage(job);
    return w;
  };
}

/**
 * Why this engine cannot run the pool, or null when it can. Shown by `threadInfo()` and by `setThreads`
 * when it gives fewer threads than asked.
 */
export function threadsUnavailable(mod: WasmModule | null): string | null {
  if (mod === null) return 'the wasm backend is not loaded here';
  if (nodeSpawner() !== null || webSpawner() !== null) {
    return mod.shared ? null : 'the wasm module runs on a non-shared memory';
  }
  if (typeof web.Worker === 'function' && web.crossOriginIsolated !== true) {
    return 'this page is not cross-origin isolated; serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp';
  }
  return 'this engine has neither worker_threads nor Web Workers';
}

export class ThreadPool {
  private readonly workers: PoolWorker[] = [];
  private readonly ctrl: number;
  private readonly online: Int32Array;
  private threads = 1;

  private constructor(private readonly mod: WasmModule, heap: WasmHeap, private readonly spawn: Spawn,
    private readonly capacity: number, private readonly minWork: number) {
    const ex = mod.exports;
    this.ctrl = heap.malloc(ex.threadControlSize(capacity));
    new Uint8Array(mod.memory.buffer, this.ctrl, ex.threadControlSize(capacity)).fill(0);
    this.online = new Int32Array(mod.memory.buffer, this.ctrl + 8, 1);
    const slots = new Int32Array(mod.memory.buffer, this.ctrl + 128, capacity + 1);
    for (let t = 1; t <= capacity; t++) slots[t] = heap.malloc(ex.gemmPackedScratch());
    ex.setMainWait(canBlock() ? 1 : 0);
  }

  /** A pool able to grow to `capacity` workers, or null where threads are not possible here. */
  static create(mod: WasmModule, heap: WasmHeap, capacity = defaultThreads() - 1, minWork = MIN_MACS_PER_THREAD): ThreadPool | null {
    if (!mod.shared || capacity < 1) return null;
    const spawn = nodeSpawner() ?? webSpawner();
    return spawn ? new ThreadPool(mod, heap, spawn, capacity, minWork) : null;
  }

  /** Use up to `n` threads in all (this one included), starting workers as needed (at most capacity + 1). */
  setThreads(n: number): number {
    this.threads = Math.max(1, Math.min(Math.floor(n), this.capacity + 1));
    while (this.workers.length < this.threads - 1) {
      this.workers.push(this.spawn({ module: this.mod.module, memory: this.mod.memory, ctrl: this.ctrl }));
    }
    this.mod.exports.setThreadControl(this.ctrl, this.threads, this.minWork);
    return this.threads;
  }

  get size(): number {
    return this.threads;
  }

  /** The most threads (this one included) `setThreads` can give. */
  get maxThreads(): number {
    return this.capacity + 1;
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

/**
 * The number of cores (SEQLAB_THREADS overrides; in a browser `navigator.hardwareConcurrency`), or 1
 * where it cannot be told.
 */
export function defaultThreads(): number {
  const env = Number(proc?.env?.SEQLAB_THREADS);
  if (Number.isInteger(env) && env >= 1) return env;
  try {
    const os = proc?.getBuiltinModule?.('node:os') as Os | undefined;
    if (os) return os.availableParallelism?.() ?? os.cpus().length;
  } catch { /* not Node */ }
  const hc = web.navigator?.hardwareConcurrency;
  return Number.isInteger(hc) && hc! >= 1 ? hc! : 1;
}
