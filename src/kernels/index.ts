/**
 * Backend selection. Model and op code call `kernels()` and never know which backend runs.
 *
 * - `ref`: the readable reference (plain TypeScript loops), always available.
 * - `wasm`: WebAssembly SIMD kernels (src/kernels/wasm), the default wherever they load.
 *
 * `kernels()` is synchronous. The first call picks the default: where the engine allows synchronous
 * compilation of the embedded module (Node; Chromium, main thread included) the wasm backend is compiled
 * right there. An engine may refuse synchronous compilation (browsers may cap it on the main thread), so
 * portable code calls `await ready()` once at start-up; until it resolves, `kernels()` may answer `ref`. `setBackend('ref' | 'wasm')` forces a backend; the
 * environment variable SEQLAB_BACKEND does the same at start-up where `process` exists.
 */
import { KernelUnavailableError } from '../tensor/errors.js';
import { refKernels } from './ref/index.js';
import type { FloatArray, Kernels } from './types.js';
import { checkEnvironment, processEnv } from './env.js';
import { checkThreads } from './wasm/threads.js';
import { createWasmKernels, loadWasmModule, loadWasmModuleSync, threadsUnavailable, type WasmKernels, type WasmModule } from './wasm/index.js';

export type {
  Kernels, FloatArray, UnaryOp, BinaryOp, SGDStep, AdamStep, RecurrentKind, RecurrentShape, RecurrentStepShape, RecurrentSaved, RecurrentWeights, RecurrentGrads,
} from './types.js';
export { refKernels } from './ref/index.js';
export { checkEnvironment, ENVIRONMENT, type EnvironmentVariable } from './env.js';
export { CELL_GATES, GATES } from './types.js';

export type BackendName = 'ref' | 'wasm';

const registry = new Map<string, Kernels>([['ref', refKernels]]);
/** null until the first `kernels()` call resolves the default. */
let active: Kernels | null = null;
/** True once the user chose a backend; `ready()` then leaves the choice alone. */
let chosen = false;
let wasmTried = false;

let wasmModule: WasmModule | null = null;

function addWasm(mod: WasmModule | null): void {
  if (mod !== null && !registry.has('wasm')) {
    wasmModule = mod;
    registry.set('wasm', createWasmKernels(mod));
  }
}

/** The wasm backend if it is (or can synchronously be) loaded here. */
function wasmSync(): Kernels | undefined {
  if (!wasmTried) {
    wasmTried = true;
    addWasm(loadWasmModuleSync());
  }
  return registry.get('wasm');
}

/** The active backend. */
export function kernels(): Kernels {
  if (active === null) applyEnvironment();
  return (active ??= wasmSync() ?? refKernels);
}

/**
 * Load the wasm backend asynchronously where synchronous compilation is not allowed (browser main
 * threads), and make it the active backend unless `setBackend` chose another. Resolves to the active
 * backend's name; safe to call any number of times.
 */
export async function ready(): Promise<string> {
  applyEnvironment();
  if (wasmSync() === undefined) addWasm(await loadWasmModule());
  const w = registry.get('wasm');
  if (!chosen && w !== undefined) active = w;
  return kernels().name;
}

/** Register an additional backend. */
export function registerBackend(k: Kernels): void {
  registry.set(k.name, k);
}

export function setBackend(name: string): void {
  if (name === 'wasm') wasmSync();
  const k = registry.get(name);
  if (k === undefined) {
    throw new KernelUnavailableError({
      op: 'setBackend',
      expected: `one of ${[...registry.keys()].map((n) => `'${n}'`).join(', ')}`,
      got: `'${name}'`,
      ...(name === 'wasm' ? { hint: 'this engine has no WebAssembly SIMD or refuses synchronous compilation; await ready() first' } : {}),
    });
  }
  active = k;
  chosen = true;
}

export function getBackend(): string {
  return kernels().name;
}

/** Names of the backends available now. */
export function listBackends(): string[] {
  wasmSync();
  return [...registry.keys()];
}

/** What `setThreads` can do here: threads in use, the most it can give, and why not more (null: no limit hit). */
export interface ThreadInfo {
  threads: number;
  /** Of `threads − 1` workers, how many have started and serve jobs (they join in the background). */
  online: number;
  max: number;
  /** Why threads are unavailable here (e.g. a page without cross-origin isolation), or null. */
  reason: string | null;
}

/** The wasm backend's thread pool as it stands (see `setThreads`). */
export function threadInfo(): ThreadInfo {
  const w = wasmSync() as Partial<WasmKernels> | undefined;
  const pool = w?.pool ?? null;
  if (pool) return { threads: pool.size, online: Math.min(pool.workersOnline, pool.size - 1), max: pool.maxThreads, reason: null };
  return { threads: 1, online: 0, max: 1, reason: threadsUnavailable(wasmModule) ?? 'one core here (SEQLAB_THREADS overrides)' };
}

const warned = new Set<string>();

/**
 * Threads (this one included) for the wasm backend's large GEMMs: a worker pool on shared memory — Node's
 * worker_threads, or Web Workers on a cross-origin-isolated page. Default: the number of cores up to 8
 * (environment variable SEQLAB_THREADS overrides; `navigator.hardwareConcurrency` in a browser). `n` must
 * be an integer from 1 to 256, else a ConfigError. Returns
 * the number now in use; when that is fewer than asked it says why once on the console (`threadInfo()`
 * tells the same without printing). Results are bit-identical whatever the count.
 */
export function setThreads(n: number): number {
  checkThreads(n, 'setThreads');
  const w = wasmSync() as Partial<WasmKernels> | undefined;
  const got = w?.setThreads?.(n) ?? 1;
  if (got < Math.floor(n)) {
    const info = threadInfo();
    const why = info.reason ?? `the pool holds at most ${info.max} (sized from the core count when the backend loaded; SEQLAB_THREADS overrides)`;
    const msg = `seqlab setThreads(${n}): using ${got} thread${got === 1 ? '' : 's'}: ${why}`;
    if (!warned.has(msg)) {
      warned.add(msg);
      console.warn(msg);
    }
  }
  return got;
}

/** Arrays shorter than this stay ordinary: copying them per call costs less than a heap block. */
const RESIDENT_MIN = 1024;

/**
 * Storage for a long-lived tensor (a parameter, an optimiser's moments). While the wasm backend is
 * active and runs on shared memory, a float32 array of `RESIDENT_MIN` or more values is moved into wasm
 * memory, where every kernel reads and writes it in place instead of copying it in and out per call;
 * otherwise (ref, float64, small, or no SharedArrayBuffer) `buf` itself is returned. The values are
 * copied; the caller replaces its reference to `buf`. Safe with any backend: a resident array is an
 * ordinary Float32Array over a SharedArrayBuffer.
 */
export function residentCopy<A extends FloatArray>(buf: A): A {
  if (!(buf instanceof Float32Array) || buf.length < RESIDENT_MIN) return buf;
  const k = kernels() as Partial<WasmKernels>;
  if (k.resident === undefined || k.heap?.addressOf(buf) !== -1) return buf;
  const r = k.resident(buf.length);
  if (r === null) return buf;
  r.set(buf);
  return r as A;
}

/** A zeroed float32 array of n values, made in wasm memory where `residentCopy` would move it (no JS copy first). */
export function residentZeros(n: number): Float32Array {
  const k = kernels() as Partial<WasmKernels>;
  return (n >= RESIDENT_MIN ? k.resident?.(n) : null) ?? new Float32Array(n);
}

/**
 * Free now the wasm memory of an array `residentCopy` made, for an owner sure that nothing else holds it or a
 * view of it (else it is freed when garbage-collected). No-op (false) for an ordinary array, a view, or an
 * array of another backend's memory.
 */
export function releaseResident(buf: FloatArray): boolean {
  if (!(buf instanceof Float32Array)) return false;
  const heap = (kernels() as Partial<WasmKernels>).heap;
  return heap !== undefined && heap.release(buf);
}

let envApplied = false;
/**
 * The environment, once, at the first use of a backend (not at import: a bad value must be an error the
 * caller can catch and report, not a stack trace while modules load). An explicit setBackend wins.
 */
function applyEnvironment(): void {
  if (envApplied) return;
  envApplied = true;
  checkEnvironment();
  const name = processEnv()?.['SEQLAB_BACKEND'];
  if (name && !chosen) setBackend(name);
}
