/**
 * Loading the wasm kernel module: pick the best variant this engine can run (feature probe), compile it
 * synchronously where that is allowed (Node: any size; browsers only allow small modules on the main
 * thread) or asynchronously (`loadWasmModule`), and instantiate it. No Node-only import: the one Node
 * hook — turning on relaxed SIMD in Node 20, where V8 still keeps it behind a flag — goes through
 * `process.getBuiltinModule` when that exists and through a dynamic import on the async path otherwise.
 */
import { RELAXED_SHARED_WASM, RELAXED_WASM, SIMD_SHARED_WASM, SIMD_WASM } from './generated/modules.js';

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

/** The module's exports (wasm/assembly/index.ts). Pointers are byte addresses; booleans are 0/1. */
export interface WasmExports {
  heapBase(): number;
  gemm(m: number, n: number, k: number, a: number, rsA: number, csA: number, b: number, rsB: number, csB: number,
    c: number, ldc: number, accumulate: number, scratch: number): void;
  gemmScratch(k: number, n: number): number;
  gemmPackedScratch(): number;
  setThreadControl(ctrl: number, threads: number, minMacsPerThread: number): void;
  stopWorkers(): void;
  setMainWait(allowed: number): void;
  threadControlSize(workers: number): number;
  gemmNT(m: number, n: number, k: number, a: number, lda: number, b: number, ldb: number, c: number, ldc: number, accumulate: number): void;
  recurrentForwardScratch(kind: number, N: number, I: number, H: number, P: number, proj: number): number;
  recurrentBackwardScratch(kind: number, T: number, N: number, I: number, H: number, P: number, proj: number): number;
  recurrentForward(kind: number, T: number, N: number, I: number, H: number, P: number, reverse: number, lengths: number,
    x: number, wih: number, whh: number, bih: number, bhh: number, whr: number, h0: number, c0: number,
    y: number, hn: number, cn: number, gates: number, hseq: number, cseq: number, aux: number, ws: number): void;
  unaryF32(op: number, x: number, out: number, n: number): void;
  softmaxRows(x: number, out: number, rows: number, cols: number, log: number): void;
  softmaxBackwardRows(y: number, dy: number, dx: number, rows: number, cols: number, log: number): void;
  crossEntropyForwardRows(logits: number, targets: number, rows: number, cols: number, ignoreIndex: number, loss: number, logp: number): void;
  crossEntropyBackwardRows(logp: number, targets: number, rows: number, cols: number, ignoreIndex: number, dloss: number, dlogits: number): void;
  layerNormForwardRows(x: number, w: number, b: number, y: number, mean: number, rstd: number, rows: number, cols: number, eps: number): void;
  layerNormBackwardRows(x: number, w: number, mean: number, rstd: number, dy: number, dx: number, dw: number, db: number, rows: number, cols: number): void;
  rmsNormForwardRows(x: number, w: number, y: number, rstd: number, rows: number, cols: number, eps: number): void;
  rmsNormBackwardRows(x: number, w: number, rstd: number, dy: number, dx: number, dw: number, rows: number, cols: number): void;
  adamUpdate(p: number, g: number, m: number, v: number, vmax: number, n: number, stepSize: number, beta1: number, beta2: number,
    eps: number, bc2Sqrt: number, wd: number, decoupled: number, decay: number): void;
  sgdUpdate(p: number, g: number, buf: number, n: number, lr: number, momentum: number, dampening: number, wd: number,
    nesterov: number, first: number): void;
  recurrentBackward(kind: number, T: number, N: number, I: number, H: number, P: number, reverse: number, lengths: number,
    x: number, wih: number, whh: number, whr: number, h0: number, c0: number,
    gates: number, hseq: number, cseq: number, aux: number, dy: number, dhn: number, dcn: number,
    dx: number, dh0: number, dc0: number, dwih: number, dwhh: number, dbih: number, dbhh: number, dwhr: number, ws: number): void;
  wkvBackwardScratch(N: number): number;
  wkv6Forward(B: number, T: number, H: number, N: number, r: number, k: number, v: number, w: number, u: number,
    s0: number, y: number, sT: number, states: number): void;
  wkv6Backward(B: number, T: number, H: number, N: number, r: number, k: number, v: number, w: number, u: number,
    states: number, dy: number, dsT: number, dr: number, dk: number, dv: number, dw: number, du: number, ds0: number, ws: number): void;
  wkv7Forward(B: number, T: number, H: number, N: number, r: number, w: number, k: number, v: number, a: number, b: number,
    s0: number, y: number, sT: number, states: number): void;
  wkv7Backward(B: number, T: number, H: number, N: number, r: number, w: number, k: number, v: number, a: number, b: number,
    states: number, dy: number, dsT: number, dr: number, dw: number, dk: number, dv: number, da: number, db: number, ds0: number, ws: number): void;
  causalConv1dScratch(c: number, k: number): number;
  causalConv1dForward(b: number, t: number, c: number, k: number, x: number, w: number, bias: number, window: number,
    y: number, windowOut: number, ws: number): void;
  causalConv1dBackward(b: number, t: number, c: number, k: number, x: number, w: number, window: number, dy: number,
    dwindowOut: number, dx: number, dw: number, db: number, dwindow: number, ws: number): void;
  selectiveScanForward(b: number, t: number, di: number, n: number, x: number, delta: number, A: number, B: number,
    C: number, D: number, h0: number, y: number, hT: number, hs: number): void;
  selectiveScanBackwardScratch(di: number, n: number): number;
  selectiveScanBackward(b: number, t: number, di: number, n: number, x: number, delta: number, A: number, B: number,
    C: number, D: number, h0: number, hs: number, dy: number, dhT: number,
    dx: number, ddelta: number, dA: number, dB: number, dC: number, dD: number, dh0: number, ws: number): void;
  ssdScratch(b: number, nh: number, hs: number, n: number, q: number): number;
  ssdForward(b: number, t: number, nh: number, hs: number, g: number, n: number, q: number, dPerChannel: number,
    x: number, delta: number, A: number, B: number, C: number, D: number, h0: number, y: number, hT: number, chunkStates: number, ws: number): void;
  ssdBackward(b: number, t: number, nh: number, hs: number, g: number, n: number, q: number, dPerChannel: number,
    x: number, delta: number, A: number, B: number, C: number, D: number, chunkStates: number, dy: number, dhT: number,
    dx: number, ddelta: number, dA: number, dB: number, dC: number, dD: number, dh0: number, ws: number): void;
  attentionScratch(Tk: number, backward: number): number;
  attentionForward(B: number, H: number, Tq: number, Tk: number, D: number, scale: number,
    q: number, k: number, v: number, y: number, lse: number, ws: number): void;
  attentionBackward(B: number, H: number, Tq: number, Tk: number, D: number, scale: number,
    q: number, k: number, v: number, lse: number, dy: number, dq: number, dk: number, dv: number, ws: number): void;
}

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

// Every export `WasmExports` declares, as a record so that a declared export missing here fails to compile.
const REQUIRED_EXPORTS: Record<keyof WasmExports, 1> = {
  heapBase: 1, gemm: 1, gemmScratch: 1, gemmPackedScratch: 1, setThreadControl: 1, stopWorkers: 1, setMainWait: 1,
  threadControlSize: 1, gemmNT: 1, recurrentForwardScratch: 1, recurrentBackwardScratch: 1, recurrentForward: 1,
  unaryF32: 1, softmaxRows: 1, softmaxBackwardRows: 1, crossEntropyForwardRows: 1, crossEntropyBackwardRows: 1,
  layerNormForwardRows: 1, layerNormBackwardRows: 1, rmsNormForwardRows: 1, rmsNormBackwardRows: 1, adamUpdate: 1,
  sgdUpdate: 1, recurrentBackward: 1, wkvBackwardScratch: 1, wkv6Forward: 1, wkv6Backward: 1, wkv7Forward: 1,
  wkv7Backward: 1, causalConv1dScratch: 1, causalConv1dForward: 1, causalConv1dBackward: 1,
  selectiveScanForward: 1, selectiveScanBackwardScratch: 1, selectiveScanBackward: 1, ssdScratch: 1, ssdForward: 1,
  ssdBackward: 1, attentionScratch: 1, attentionForward: 1, attentionBackward: 1,
};
const REQUIRED = Object.keys(REQUIRED_EXPORTS);

/** A runtime check that the instance exports what `WasmExports` declares (a stale build fails here). */
function isWasmExports(e: WebAssembly.Exports): e is WebAssembly.Exports & WasmExports {
  return REQUIRED.every((name) => typeof e[name] === 'function');
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
