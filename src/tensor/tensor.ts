import { DTypeError, ShapeError, fmtShape } from './errors.js';
import { checkShapeArg, numel } from './shape.js';

export type DType = 'float32' | 'float64';
export type FloatArray = Float32Array | Float64Array;

/**
 * One recorded operation on the autograd tape. `backward` receives the gradient of every output
 * (null where an output got none) and returns one gradient per input (null where not needed).
 * Defined here as a type only, so the tensor layer does not depend on autograd.
 */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  readonly numOutputs: number;
  backward(gradOutputs: readonly (Tensor | null)[]): (Tensor | null)[];
}

// Small arrays are views into shared slabs. V8 gives every typed array of more than 64 bytes its own
// off-heap backing store, ~2 µs each on Node 20, while a view into an existing buffer costs ~0.1 µs; a
// streaming step of a 2-layer RWKV creates hundreds of small tensors. A slab is freed when its last view
// is collected, so a long-lived small array keeps at most one 64 KiB slab alive.
const SLAB_BYTES = 1 << 16;
const SLAB_MAX_BYTES = 4096;
let slab = new ArrayBuffer(0);
let slabAt = 0;

/**
 * Where float32 arrays of at least `min` values come from while a scope is open: autograd's backward pass
 * draws its gradient buffers from a pool it recycles (autograd/grad-pool.ts). `take` returns a zeroed array.
 */
export interface FloatScope { readonly min: number; take(n: number, clear: boolean): Float32Array }
let scope: FloatScope | null = null;

/** Open `s` (or close the scope with null); returns the scope it replaces. */
export function setFloatScope(s: FloatScope | null): FloatScope | null {
  const prev = scope;
  scope = s;
  return prev;
}

/**
 * A zeroed float array of n elements. With `clear` false the caller promises to write every element before
 * reading any: a recycled buffer is then handed over as it is (outside a scope the array is zeroed anyway).
 */
export function allocFloat(dtype: DType, n: number, clear = true): FloatArray {
  const f64 = dtype === 'float64';
  if (scope !== null && !f64 && n >= scope.min) return scope.take(n, clear);
  const bytes = n * (f64 ? 8 : 4);
  if (bytes === 0 || bytes > SLAB_MAX_BYTES) return f64 ? new Float64Array(n) : new Float32Array(n);
  if (slabAt + bytes > SLAB_BYTES || slab.byteLength === 0) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabAt = 0;
  }
  const at = slabAt;
  slabAt = (at + bytes + 15) & ~15; // 16-byte aligned: whole SIMD lanes for copies into wasm
  return f64 ? new Float64Array(slab, at, n) : new Float32Array(slab, at, n);
}

/**
 * A dense, contiguous, row-major tensor of float32 (or float64, used by gradient checks).
 * Tensors are values: ops return new tensors; only optimizers and `copy_`-style helpers write in place.
 */
export class Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** @internal Storage. Public code reads `data`. */
  buf: FloatArray;
  requiresGrad: boolean;
  grad: Tensor | null = null;
  /** @internal The op that produced this tensor, when recorded. */
  node: GradNode | null = null;
  /** @internal Which output of `node` this is. */
  outIndex = 0;
  /** Optional name, used in error messages of parameters. */
  name: string | undefined;

  constructor(buf: FloatArray, shape: readonly number[], requiresGrad = false) {
    checkShapeArg('tensor', shape);
    if (buf.length !== numel(shape)) {
      throw new ShapeError({
        op: 'tensor',
        expected: `${numel(shape)} values for shape ${fmtShape(shape)}`,
        got: `${buf.length}`,
      });
    }
    this.buf = buf;
    this.shape = Object.freeze([...shape]);
    this.dtype = buf instanceof Float64Array ? 'float64' : 'float32';
    this.requiresGrad = requiresGrad;
  }

  /** The values as float32 (the storage itself for float32 tensors; a converted copy for float64). */
  get data(): Float32Array {
    return this.buf instanceof Float32Array ? this.buf : Float32Array.from(this.buf);
  }

  get size(): number {
    return this.buf.length;
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** True when the tensor was produced by a recorded op (not a leaf). */
  get isLeaf(): boolean {
    return this.node === null;
  }

  /** A copy of the values as a new Float32Array. */
  toFloat32Array(): Float32Array {
    return Float32Array.from(this.buf);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.buf.length !== 1) {
      throw new ShapeError({ op: 'item', expected: 'a tensor with one element', got: `shape ${fmtShape(this.shape)}` });
    }
    return this.buf[0]!;
  }

  /** Nested arrays, like `torch.Tensor.tolist()`. */
  toArray(): NestedArray {
    const rec = (dim: number, off: number): NestedArray => {
      const n = this.shape[dim]!;
      if (dim === this.shape.length - 1) return Array.from(this.buf.subarray(off, off + n));
      const stride = numel(this.shape.slice(dim + 1));
      const out: NestedArray[] = [];
      for (let i = 0; i < n; i++) out.push(rec(dim + 1, off + i * stride));
      return out;
    };
    return this.shape.length === 0 ? this.buf[0]! : rec(0, 0);
  }

  /** Shape check helpers that destructure, e.g. `const [t, b, i] = x.dims3('lstm.forward')`. */
  dims2(op: string): [number, number] {
    this.expectRank(op, 2);
    return [this.shape[0]!, this.shape[1]!];
  }
  dims3(op: string): [number, number, number] {
    this.expectRank(op, 3);
    return [this.shape[0]!, this.shape[1]!, this.shape[2]!];
  }
  private expectRank(op: string, rank: number): void {
    if (this.shape.length !== rank) {
      throw new ShapeError({ op, expected: `a ${rank}-D tensor`, got: `shape ${fmtShape(this.shape)}` });
    }
  }

  toString(): string {
    return `Tensor(shape=${fmtShape(this.shape)}, dtype=${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}

export type NestedArray = number | NestedArray[];

export interface TensorOptions {
  requiresGrad?: boolean;
  dtype?: DType;
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0]!;
  }
  return shape;
}

function flattenNested(data: NestedArray, shape: readonly number[], out: FloatArray): void {
  let k = 0;
  const rec = (d: NestedArray, dim: number, path: string): void => {
    if (dim === shape.length) {
      if (typeof d !== 'number') {
        throw new ShapeError({ op: 'tensor', expected: `a number at ${path}`, got: 'a nested array (ragged data)' });
      }
      out[k++] = d;
      return;
    }
    if (!Array.isArray(d) || d.length !== shape[dim]) {
      throw new ShapeError({
        op: 'tensor',
        expected: `${shape[dim]} elements at ${path} (inferred shape ${fmtShape(shape)})`,
        got: Array.isArray(d) ? `${d.length}` : 'a number (ragged data)',
      });
    }
    for (let i = 0; i < d.length; i++) rec(d[i]!, dim + 1, `${path}[${i}]`);
  };
  rec(data, 0, 'data');
}

/**
 * Create a tensor. `data` is a Float32Array/Float64Array (copied, unless its type already matches the dtype:
 * then it is used as storage), a flat `number[]` with `shape`, or nested arrays.
 */
export function tensor(
  data: FloatArray | Int32Array | readonly number[] | NestedArray,
  shape?: readonly number[],
  opts: TensorOptions = {},
): Tensor {
  const dtype: DType = opts.dtype ?? (data instanceof Float64Array ? 'float64' : 'float32');
  if (dtype !== 'float32' && dtype !== 'float64') {
    throw new DTypeError({ op: 'tensor', expected: "dtype 'float32' or 'float64'", got: String(dtype) });
  }
  let buf: FloatArray;
  let shp: readonly number[];
  if (ArrayBuffer.isView(data)) {
    const arr = data as FloatArray | Int32Array;
    shp = shape ?? [arr.length];
    buf =
      (dtype === 'float32' && arr instanceof Float32Array) || (dtype === 'float64' && arr instanceof Float64Array)
        ? arr
        : dtype === 'float64'
          ? Float64Array.from(arr)
          : Float32Array.from(arr);
  } else if (typeof data === 'number') {
    shp = shape ?? [];
    buf = allocFloat(dtype, 1);
    buf[0] = data;
  } else {
    const arr = data as NestedArray[];
    const flat = arr.length === 0 || typeof arr[0] === 'number';
    if (flat && shape !== undefined) {
      shp = shape;
      buf = dtype === 'float64' ? Float64Array.from(arr as number[]) : Float32Array.from(arr as number[]);
    } else {
      shp = inferShape(arr);
      if (shape !== undefined && numel(shape) !== numel(shp)) {
        throw new ShapeError({ op: 'tensor', expected: `data for shape ${fmtShape(shape)}`, got: `data of shape ${fmtShape(shp)}` });
      }
      buf = allocFloat(dtype, numel(shp));
      flattenNested(arr, shp, buf);
      if (shape !== undefined) shp = shape;
    }
  }
  return new Tensor(buf, shp, opts.requiresGrad ?? false);
}
