/**
 * Loading the wasm kernel module: pick the best variant this engine can run (feature probe), compile it
 * synchronously where that is allowed (Node: any size; browsers only allow small modules on the main
 * thread) or asynchronously (`loadWasmModule`), and instantiate it. No Node-only import: the one Node
 * hook — turning on relaxed SIMD in Node 20, where V8 still keeps it behind a flag — goes through
 * `process.getBuiltinModule` when that exists and through a dynamic import on the async path otherwise.
 */
// WasmExports and its names are generated from the compiler's typings of wasm/assembly (wasm/build.mjs).
import {
  RELAXED_SHARED_WASM, RELAXED_WASM, SIMD_SHARED_WASM, SIMD_WASM, WASM_EXPORT_NAMES, type WasmExports,
} from './generated/modules.js';

/**
 * `relaxed`: SIMD + relaxed-SIMD FMA; `simd`: plain 128-bit SIMD. The `-shared` builds import a shared
 * memory (SharedArrayBuffer), which lets tensors live in wasm memory across calls and threads share it.
 */
export type WasmVariant = 'relaxed' | 'simd' | 'relaxed-shared' | 'simd-shared';
const SOURCES: Record<WasmVariant, string> = {
  relaxed: RELAXED_WASM, simd: SIMD_WASM, 'relaxed-shared': RELAXED_SHARED_WASM, 'simd-shared': SIMD_SHARED_WASM,
};
/** Most preferred first. */
const PREFERENCE: WasmVariant[] = ['relaxed-shared', 'simd-shared', 'relaxed', 'simd'];

export type { WasmExports };

export interface WasmModule {
  variant: WasmVariant;
  /** The compiled module (a worker instantiates it again on the same shared memory). */
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  shared: boolean;
  exports: WasmExports;
}

interface NodeProcess {
  env?: Record<string, string | undefined>;
  getBuiltinModule?: (id: string) => unknown;
  versions?: { node?: string };
}
const proc = (globalThis as { process?: NodeProcess }).process;

function decode(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

const bytesCache: Partial<Record<WasmVariant, Uint8Array<ArrayBuffer>>> = {};
function bytes(v: WasmVariant): Uint8Array<ArrayBuffer> {
  return (bytesCache[v] ??= decode(SOURCES[v]));
}

type V8 = { setFlagsFromString(flag: string): void };
const RELAXED_FLAG = '--experimental-wasm-relaxed-simd';

/** Node 20 validates relaxed SIMD only with this V8 flag (Node ≥ 22 and Chrome ≥ 114 ship it on). */
function enableRelaxedSimdSync(): void {
  const v8 = proc?.getBuiltinModule?.('node:v8') as V8 | undefined;
  v8?.setFlagsFromString(RELAXED_FLAG);
}

async function enableRelaxedSimdAsync(): Promise<void> {
  if (proc?.versions?.node === undefined) return;
  if (proc.getBuiltinModule) { enableRelaxedSimdSync(); return; }
  const spec = 'node:v8'; // a variable, so bundlers for the browser do not try to resolve it
  try {
    const v8 = (await import(/* @vite-ignore */ spec)) as V8;
    v8.setFlagsFromString(RELAXED_FLAG);
  } catch { /* not Node after all */ }
}

const isShared = (v: WasmVariant): boolean => v.endsWith('-shared');

/** Initial size of a shared memory (it grows on demand up to its maximum, 4 GiB). */
const SHARED_INITIAL_PAGES = 256;

function sharedMemory(): WebAssembly.Memory | null {
  try {
    return new WebAssembly.Memory({ initial: SHARED_INITIAL_PAGES, maximum: 65536, shared: true });
  } catch {
    return null; // no SharedArrayBuffer here (a browser page without cross-origin isolation)
  }
}

/**
 * The variants this engine can run, best first. SEQLAB_WASM_VARIANT in the environment (one of the
 * variant names, or `simd` to mean plain SIMD with whichever memory) narrows the choice;
 * SEQLAB_WASM_SHARED=0 rules out shared memory.
 */
function candidates(want: WasmVariant | undefined): WasmVariant[] {
  if (typeof WebAssembly !== 'object') return [];
  let list = want !== undefined ? [want] : PREFERENCE;
  if (want === undefined) {
    const env = proc?.env;
    if (env?.SEQLAB_WASM_VARIANT === 'simd') list = ['simd-shared', 'simd'];
    else if (env?.SEQLAB_WASM_VARIANT) list = PREFERENCE.filter((v) => v === env.SEQLAB_WASM_VARIANT);
    if (env?.SEQLAB_WASM_SHARED === '0') list = list.filter((v) => !isShared(v));
  }
  return list.filter((v) => WebAssembly.validate(bytes(v)));
}

/** A runtime check that the instance exports what `WasmExports` declares (a stale build fails here). */
function isWasmExports(e: WebAssembly.Exports): e is WebAssembly.Exports & WasmExports {
  return WASM_EXPORT_NAMES.every((name) => typeof e[name] === 'function');
}

/** Instantiate on a fresh memory, or return null when this variant's memory cannot be had here. */
function instantiate(variant: WasmVariant, module: WebAssembly.Module): WasmModule | null {
  const shared = isShared(variant);
  const imported = shared ? sharedMemory() : null;
  if (shared && imported === null) return null;
  const ex = new WebAssembly.Instance(module, imported ? { env: { memory: imported } } : {}).exports;
  const memory = imported ?? ex.memory;
  if (!(memory instanceof WebAssembly.Memory) || !isWasmExports(ex)) {
    throw new Error('seqlab: the embedded wasm module lacks expected exports (stale build? run node wasm/build.mjs)');
  }
  return { variant, module, memory, shared, exports: ex };
}

/**
 * Compile and instantiate synchronously: the best variant this engine runs, or `variant` when given.
 * Returns null when WebAssembly SIMD is missing or the engine refuses synchronous compilation (a
 * browser main thread); `loadWasmModule` then does it asynchronously.
 */
export function loadWasmModuleSync(variant?: WasmVariant): WasmModule | null {
  try { enableRelaxedSimdSync(); } catch { /* keep plain SIMD */ }
  for (const v of candidates(variant)) {
    try {
      const m = instantiate(v, new WebAssembly.Module(bytes(v)));
      if (m) return m;
    } catch {
      return null;
    }
  }
  return null;
}

/** Compile and instantiate asynchronously (works everywhere WebAssembly SIMD does). */
export async function loadWasmModule(variant?: WasmVariant): Promise<WasmModule | null> {
  await enableRelaxedSimdAsync();
  for (const v of candidates(variant)) {
    try {
      const m = instantiate(v, await WebAssembly.compile(bytes(v)));
      if (m) return m;
    } catch { /* try the next variant */ }
  }
  return null;
}
