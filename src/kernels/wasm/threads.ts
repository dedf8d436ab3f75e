/**
 * The worker pool: `threads − 1` workers, each running `workerLoop` of its own instance of the module on
 * the same shared memory (wasm/assembly/parallel.ts has the protocol). Workers start in the background;
 * a GEMM uses whichever have come online, so nothing waits for the pool and nothing changes when it is
 * absent. Node: `worker_threads`, reached through `process.getBuiltinModule`, so the core has no Node
 * import. Browsers: Web Workers from a Blob URL, on a cross-origin-isolated page only (sending a shared
 * memory to a worker needs it). A browser's main thread may not block, so there it only spins while the
 * workers finish (`setMainWait(0)`); inside a Worker it sleeps as in Node.
 */
import { ConfigError } from '../../tensor/errors.js';
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
/** The most threads `setThreads`/SEQLAB_THREADS accept: beyond this a count is a typo, not a machine. */
export const MAX_THREADS = 256;
/**
 * The default stops here however many cores there are: the GEMMs of the models seqlab trains are a few
 * million multiply-adds, which at MIN_MACS_PER_THREAD each give work to a handful of threads at most.
 */
export const DEFAULT_MAX_THREADS = 8;

/** `n` as a thread count (1 … MAX_THREADS), or a ConfigError naming `source` (setThreads, SEQLAB_THREADS). */
export function checkThreads(n: unknown, source: string): number {
  const v = typeof n === 'string' && /^\s*\d+\s*$/.test(n) ? Number(n) : n;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_THREADS) {
    throw new ConfigError({ op: source, expected: `an integer from 1 to ${MAX_THREADS} (threads in all, this one included)`, got: typeof n === 'string' ? JSON.stringify(n) : String(n) });
  }
  return v;
}

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
  /** The control block's address in the module's memory (the job word, arguments, one record per worker). */
  readonly ctrl: number;
  private readonly online: Int32Array;
  /** Per worker t, a 64-byte record; int32 0 of it is that worker's gemmPacked scratch address. */
  private readonly records: Int32Array;
  private threads = 1;
  private stopped = false;

  private constructor(private readonly mod: WasmModule, private readonly heap: WasmHeap, private readonly spawn: Spawn,
    private readonly minWork: number) {
    const ex = mod.exports;
    // Room for MAX_THREADS − 1 workers (16 KiB), so setThreads can grow the pool to any allowed count.
    const size = ex.threadControlSize(MAX_THREADS - 1);
    this.ctrl = heap.malloc(size);
    new Uint8Array(mod.memory.buffer, this.ctrl, size).fill(0);
    this.online = new Int32Array(mod.memory.buffer, this.ctrl + 8, 1);
    this.records = new Int32Array(mod.memory.buffer, this.ctrl + 128, 16 * MAX_THREADS);
    ex.setMainWait(canBlock() ? 1 : 0);
  }

  /** A pool (workers for up to MAX_THREADS threads), or null where threads are not possible or `capacity` < 1. */
  static create(mod: WasmModule, heap: WasmHeap, capacity = defaultThreads() - 1, minWork = MIN_MACS_PER_THREAD): ThreadPool | null {
    if (!mod.shared || capacity < 1) return null;
    const spawn = nodeSpawner() ?? webSpawner();
    return spawn ? new ThreadPool(mod, heap, spawn, minWork) : null;
  }

  /** Use up to `n` threads in all (this one included; 1 … MAX_THREADS), starting workers as needed. */
  setThreads(n: number): number {
    this.threads = checkThreads(n, 'setThreads');
    if (this.stopped) return (this.threads = 1);
    while (this.workers.length < this.threads - 1) {
      const t = this.workers.length + 1;
      // Workers take ids in the order they join, not start; every record below the new count gets scratch first.
      if (this.records[16 * t] === 0) this.records[16 * t] = this.heap.malloc(this.mod.exports.gemmPackedScratch());
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
    return this.stopped ? 1 : MAX_THREADS;
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
    this.stopped = true;
    this.mod.exports.stopWorkers(); // needs the control block: before setThreadControl(0, …)
    this.mod.exports.setThreadControl(0, 1, this.minWork);
    await Promise.all(this.workers.splice(0).map((w) => w.terminate()));
    this.threads = 1;
  }
}

/**
 * SEQLAB_THREADS when set (an invalid value is a ConfigError naming it), else the number of cores (in a
 * browser `navigator.hardwareConcurrency`) capped at DEFAULT_MAX_THREADS; 1 where it cannot be told.
 */
export function defaultThreads(): number {
  const env = proc?.env?.SEQLAB_THREADS;
  if (env !== undefined && env !== '') return checkThreads(env, 'SEQLAB_THREADS');
  try {
    const os = proc?.getBuiltinModule?.('node:os') as Os | undefined;
    if (os) return Math.min(DEFAULT_MAX_THREADS, os.availableParallelism?.() ?? os.cpus().length);
  } catch { /* not Node */ }
  const hc = web.navigator?.hardwareConcurrency;
  return Number.isInteger(hc) && hc! >= 1 ? Math.min(DEFAULT_MAX_THREADS, hc!) : 1;
}
