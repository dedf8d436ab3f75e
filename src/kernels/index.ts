/**
 * Backend selection. Model and op code call `kernels()` and never know which backend runs.
 *
 * - `ref`: the readable reference (plain TypeScript loops), always available.
 * - `wasm`: WebAssembly SIMD kernels (src/kernels/wasm), the default wherever they load.
 *
 * `kernels()` is synchronous. The first call picks the default: in Node (and any engine that allows
 * synchronous compilation of the small embedded module) the wasm backend is compiled right there. A
 * browser main thread refuses synchronous compilation, so there `await ready()` once at start-up; until
 * it resolves, `kernels()` answers with `ref`. `setBackend('ref' | 'wasm')` forces a backend; the
 * environment variable SEQLAB_BACKEND does the same at start-up where `process` exists.
 */
import { KernelUnavailableError } from '../tensor/errors.js';
import { refKernels } from './ref/index.js';
import type { FloatArray, Kernels } from './types.js';
import { createWasmKernels, loadWasmModule, loadWasmModuleSync, type WasmKernels, type WasmModule } from './wasm/index.js';

export type {
  Kernels, FloatArray, UnaryOp, BinaryOp, SGDStep, AdamStep, RecurrentKind, RecurrentShape, RecurrentSaved, RecurrentWeights, RecurrentGrads,
} from './types.js';
export { refKernels } from './ref/index.js';

export type BackendName = 'ref' | 'wasm';

const registry = new Map<string, Kernels>([['ref', refKernels]]);
/** null until the first `kernels()` call resolves the default. */
let active: Kernels | null = null;
/** True once the user chose a backend; `ready()` then leaves the choice alone. */
let chosen = false;
let wasmTried = false;

function addWasm(mod: WasmModule | null): void {
  if (mod !== null && !registry.has('wasm')) registry.set('wasm', createWasmKernels(mod));
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
  return (active ??= wasmSync() ?? refKernels);
}

/**
 * Load the wasm backend asynchronously where synchronous compilation is not allowed (browser main
 * threads), and make it the active backend unless `setBackend` chose another. Resolves to the active
 * backend's name; safe to call any number of times.
 */
export async function ready(): Promise<string> {
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

/**
 * Threads (this one included) for the wasm backend's large GEMMs: a worker pool on shared memory, in Node.
 * Default: the number of cores (environment variable SEQLAB_THREADS overrides). Returns the number in
 * use — 1 where threads are not available (ref, a browser, no SharedArrayBuffer).
 */
export function setThreads(n: number): number {
  const w = wasmSync() as Partial<WasmKernels> | undefined;
  return w?.setThreads?.(n) ?? 1;
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

const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
if (env?.SEQLAB_BACKEND) setBackend(env.SEQLAB_BACKEND);
