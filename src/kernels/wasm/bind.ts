/**
 * The one place where a wasm kernel meets JavaScript arrays. Each kernel is described once — which
 * arrays it touches, how many values of each, and how it uses them — and `bind` turns the description
 * into a `Kernels` method: the float32 guard (a float64 array, from a gradient check, goes to the
 * fallback), the copies in and out through the scratch arena (none for a resident array), and the
 * fallback when wasm memory runs out. A new kernel file needs only `bind` and the argument helpers below.
 */
import type { FloatArray } from '../types.js';
import type { Arena } from './arena.js';
import { WasmHeapFullError } from './heap.js';

/**
 * One pointer argument of a wasm export.
 * - `in`: read only, copied in. `out`: written, never read before (copied out). `inout`: read and updated
 *   in place — accumulated gradients, optimiser state (copied in and out).
 * - `i32`: an int32 array, read only. `scratch`: `bytes` of room the kernel uses for itself (workspace,
 *   or saved values that nobody will read): never copied either way.
 * A null array is passed as address 0, the kernels' "none".
 */
export type Arg =
  | { readonly dir: 'in' | 'out' | 'inout'; readonly a: FloatArray | null; readonly n: number; readonly off: number }
  | { readonly dir: 'i32'; readonly a: Int32Array | null }
  | { readonly dir: 'scratch'; readonly bytes: number };

/** An `Arg` that passed the float32 guard. */
type F32Arg = Exclude<Arg, { dir: 'in' | 'out' | 'inout' }>
  | { readonly dir: 'in' | 'out' | 'inout'; readonly a: Float32Array | null; readonly n: number; readonly off: number };

/** n values of a (from element `off`), read by the kernel. */
export const input = (a: FloatArray | null, n: number, off = 0): Arg => ({ dir: 'in', a, n, off });
/** n values of a, written by the kernel. */
export const output = (a: FloatArray | null, n: number, off = 0): Arg => ({ dir: 'out', a, n, off });
/** n values of a, read and updated by the kernel (gradients that accumulate, in-place updates). */
export const inout = (a: FloatArray | null, n: number, off = 0): Arg => ({ dir: 'inout', a, n, off });
/** An int32 array (targets, lengths), read by the kernel. */
export const inputI32 = (a: Int32Array | null): Arg => ({ dir: 'i32', a });
/** Workspace of `bytes` bytes (a `*Scratch` export's answer), or room for values nobody reads. */
export const scratch = (bytes: number): Arg => ({ dir: 'scratch', bytes });

/** True when the array (if any) is float32: only then can a wasm kernel read or write it. */
function isF32(x: Arg): x is F32Arg {
  return x.dir === 'i32' || x.dir === 'scratch' || x.a === null || x.a instanceof Float32Array;
}

/** Which arrays one `Kernels` method with arguments A hands a wasm export (R: pointer name → argument). */
export interface Binding<A extends unknown[], R extends Record<string, Arg>> {
  /** Run the fallback instead (the call is too small to pay for the copies, or wasm has no kernel for it). */
  skip?: (...args: A) => boolean;
  /** Every pointer argument, in the order the arena lays them out (inputs first, workspace last). */
  args: (...args: A) => R;
}

/** The export call, given the address of every argument (a name not in `args` is a type error). */
export type Run<A extends unknown[], R> = (p: { readonly [K in keyof R]: number }, ...args: A) => void;

/**
 * `bind(fallback, { skip, args }, run)`: a kernel method that runs `run` in wasm, else `fallback` (the
 * reference). `run` is its own argument so that TypeScript infers R from `args` before it types `p`.
 */
export type Bind = <A extends unknown[], R extends Record<string, Arg>>(fallback: (...args: A) => void, b: Binding<A, R>, run: Run<A, R>) => (...args: A) => void;

export function createBinder(arena: Arena): Bind {
  return <A extends unknown[], R extends Record<string, Arg>>(fallback: (...args: A) => void, b: Binding<A, R>, run: Run<A, R>) => (...args: A): void => {
    if (b.skip?.(...args)) { fallback(...args); return; }
    const spec = b.args(...args);
    for (const k in spec) {
      const x: Arg | undefined = spec[k];
      if (x !== undefined && !isF32(x)) { fallback(...args); return; }
    }
    try {
      arena.reset();
      const p: Partial<Record<keyof R, number>> = {};
      for (const k in spec) {
        const x: Arg | undefined = spec[k];
        if (x === undefined || !isF32(x)) continue; // (checked above)
        switch (x.dir) {
          case 'in': p[k] = x.a === null ? 0 : arena.input(x.a, x.n, x.off); break;
          case 'out': p[k] = x.a === null ? 0 : arena.output(x.a, x.n, x.off); break;
          case 'inout': p[k] = x.a === null ? 0 : arena.inout(x.a, x.n, x.off); break;
          case 'i32': p[k] = x.a === null ? 0 : arena.inputI32(x.a); break;
          case 'scratch': p[k] = arena.alloc(x.bytes); break;
          default: x satisfies never;
        }
      }
      run(p as { readonly [K in keyof R]: number }, ...args); // the loop above set every key of spec
      arena.finish();
    } catch (e) {
      if (e instanceof WasmHeapFullError) { fallback(...args); return; }
      throw e;
    }
  };
}

/**
 * The addresses of one call's arrays for `bindDirect`, handed out in the order the run asks for them (the
 * arena's copies for arrays that are not resident). A non-float32 array sends the call to the fallback.
 */
export interface Ptrs {
  /** n values of a (from element `off`), read by the kernel; 0 for null. */
  in(a: FloatArray | null, n: number, off?: number): number;
  /** n values of a, written by the kernel, never read before. */
  out(a: FloatArray | null, n: number, off?: number): number;
  /** n values of a, read and updated in place. */
  inout(a: FloatArray | null, n: number, off?: number): number;
  /** Workspace of `bytes` bytes. */
  scratch(bytes: number): number;
}

/** Thrown by `Ptrs` at a non-float32 array, before the export runs (a plain object: no stack to capture). */
const NOT_F32 = Object.freeze({ notF32: true });

/**
 * `bindDirect(fallback, run, skip)`: like `bind`, for the calls made once per streamed token, where the
 * argument objects `bind` builds per call would be the step's only garbage. `run` asks `p` for each
 * address as it passes them to the export, so nothing is allocated per call (the arena reuses its
 * bookkeeping too).
 */
export type BindDirect = <A extends unknown[]>(fallback: (...args: A) => void, run: (p: Ptrs, ...args: A) => void,
  skip?: (...args: A) => boolean) => (...args: A) => void;

export function createDirectBinder(arena: Arena): BindDirect {
  const f32 = (a: FloatArray): Float32Array => {
    if (!(a instanceof Float32Array)) throw NOT_F32;
    return a;
  };
  const p: Ptrs = {
    in: (a, n, off = 0) => (a === null ? 0 : arena.input(f32(a), n, off)),
    out: (a, n, off = 0) => (a === null ? 0 : arena.output(f32(a), n, off)),
    inout: (a, n, off = 0) => (a === null ? 0 : arena.inout(f32(a), n, off)),
    scratch: (bytes) => arena.alloc(bytes),
  };
  return <A extends unknown[]>(fallback: (...args: A) => void, run: (p: Ptrs, ...args: A) => void, skip?: (...args: A) => boolean) =>
    (...args: A): void => {
      if (skip?.(...args)) { fallback(...args); return; }
      try {
        arena.reset();
        run(p, ...args);
        arena.finish();
      } catch (e) {
        if (e === NOT_F32 || e instanceof WasmHeapFullError) { fallback(...args); return; }
        throw e;
      }
    };
}
