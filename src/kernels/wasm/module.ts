/**
 * Loading the wasm kernel module: pick the best variant this engine can run (feature probe), compile it
 * synchronously where that is allowed (Node: any size; browsers only allow small modules on the main
 * thread) or asynchronously (`loadWasmModule`), and instantiate it. No Node-only import: the one Node
 * hook — turning on relaxed SIMD in Node 20, where V8 still keeps it behind a flag — goes through
 * `process.getBuiltinModule` when that exists and through a dynamic import on the async path otherwise.
 */
import { RELAXED_WASM, SIMD_WASM } from './generated/modules.js';

/** `relaxed`: SIMD + relaxed-SIMD FMA; `simd`: plain 128-bit SIMD. */
export type WasmVariant = 'relaxed' | 'simd';

/** The module's exports (wasm/assembly/index.ts). Pointers are byte addresses; booleans are 0/1. */
export interface WasmExports {
  readonly memory: WebAssembly.Memory;
  heapBase(): number;
  gemm(m: number, n: number, k: number, a: number, rsA: number, csA: number, b: number, rsB: number, csB: number,
    c: number, ldc: number, accumulate: number, scratch: number): void;
  gemmScratch(k: number, n: number): number;
  gemmNT(m: number, n: number, k: number, a: number, lda: number, b: number, ldb: number, c: number, ldc: number, accumulate: number): void;
  recurrentForwardScratch(kind: number, N: number, I: number, H: number, P: number, proj: number): number;
  recurrentBackwardScratch(kind: number, T: number, N: number, I: number, H: number, P: number, proj: number): number;
  recurrentForward(kind: number, T: number, N: number, I: number, H: number, P: number, reverse: number, lengths: number,
    x: number, wih: number, whh: number, bih: number, bhh: number, whr: number, h0: number, c0: number,
    y: number, hn: number, cn: number, gates: number, hseq: number, cseq: number, aux: number, ws: number): void;
  recurrentBackward(kind: number, T: number, N: number, I: number, H: number, P: number, reverse: number, lengths: number,
    x: number, wih: number, whh: number, whr: number, h0: number, c0: number,
    gates: number, hseq: number, cseq: number, aux: number, dy: number, dhn: number, dcn: number,
    dx: number, dh0: number, dc0: number, dwih: number, dwhh: number, dbih: number, dbhh: number, dwhr: number, ws: number): void;
}

export interface WasmModule {
  variant: WasmVariant;
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
  return (bytesCache[v] ??= decode(v === 'relaxed' ? RELAXED_WASM : SIMD_WASM));
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

/**
 * The variant to use, or null when this engine has no WebAssembly SIMD (or not the one asked for).
 * SEQLAB_WASM_VARIANT=simd in the environment forces plain SIMD.
 */
function probe(want: WasmVariant | undefined): WasmVariant | null {
  if (typeof WebAssembly !== 'object') return null;
  if (want !== undefined) return WebAssembly.validate(bytes(want)) ? want : null;
  if (WebAssembly.validate(bytes('relaxed'))) return 'relaxed';
  return WebAssembly.validate(bytes('simd')) ? 'simd' : null;
}

function wanted(variant: WasmVariant | undefined): WasmVariant | undefined {
  return variant ?? (proc?.env?.SEQLAB_WASM_VARIANT === 'simd' ? 'simd' : undefined);
}

const REQUIRED = ['heapBase', 'gemm', 'gemmScratch', 'gemmNT', 'recurrentForwardScratch', 'recurrentBackwardScratch',
  'recurrentForward', 'recurrentBackward'] as const;

/** A runtime check that the instance exports what `WasmExports` declares (a stale build fails here). */
function isWasmExports(e: WebAssembly.Exports): e is WebAssembly.Exports & WasmExports {
  return e.memory instanceof WebAssembly.Memory && REQUIRED.every((name) => typeof e[name] === 'function');
}

function instantiate(variant: WasmVariant, mod: WebAssembly.Module): WasmModule {
  const ex = new WebAssembly.Instance(mod, {}).exports;
  if (!isWasmExports(ex)) throw new Error('seqlab: the embedded wasm module lacks expected exports (stale build? run node wasm/build.mjs)');
  return { variant, exports: ex };
}

/**
 * Compile and instantiate synchronously. Returns null when WebAssembly SIMD is missing or the engine
 * refuses synchronous compilation (a browser main thread); `loadWasmModule` then does it asynchronously.
 */
export function loadWasmModuleSync(variant?: WasmVariant): WasmModule | null {
  const want = wanted(variant);
  if (want !== 'simd') { try { enableRelaxedSimdSync(); } catch { /* keep plain SIMD */ } }
  const picked = probe(want);
  if (picked === null) return null;
  if (variant === null) return null;
  try {
    return instantiate(picked, new WebAssembly.Module(bytes(picked)));
  } catch {
    return null;
  }
}

/** Compile and instantiate asynchronously (works everywhere WebAssembly SIMD does). */
export async function loadWasmModule(variant?: WasmVariant): Promise<WasmModule | null> {
  const want = wanted(variant);
  if (want !== 'simd') await enableRelaxedSimdAsync();
  const picked = probe(want);
  if (picked === null) return null;
  try {
    return instantiate(picked, await WebAssembly.compile(bytes(picked)));
  } catch {
    return null;
  }
}
