/**
 * The primitive ops and their backward rules, in one table. `rules` is a mapped type over every
 * primitive's name, so adding a primitive without a backward rule is a compile error. Everything else
 * differentiable is either composed from these (src/ops/composite.ts) or a fused op with its own
 * hand-written backward (src/ops/fused.ts, and the recurrent layers).
 *
 * Backward rules run under noGrad and may use the ops in this file.
 */
import { setGradBufferSource } from '../autograd/grad-pool.js';
import { record, setGradientAdder } from '../autograd/tape.js';
import { kernels, releaseResident, residentZeros, type BinaryOp, type UnaryOp } from '../kernels/index.js';
import { DTypeError, ShapeError, fmtShape } from '../tensor/errors.js';
import { broadcastShapes, broadcastStrides, normDim, numel, sameShape } from '../tensor/shape.js';
import { Tensor, allocFloat, type DType } from '../tensor/tensor.js';

/** Attributes each primitive keeps for its backward rule. */
export interface PrimitiveAttrs {
  add: object; sub: object; mul: object; div: object; maximum: object; minimum: object;
  neg: object; exp: object; log: object; sqrt: object; tanh: object; sigmoid: object; relu: object;
  abs: object; softplus: object; silu: object; gelu: object; pow: { alpha: number };
  matmul: { transA: boolean; transB: boolean };
  sum: { dims: number[]; keepdim: boolean };
  max: { dim: number; keepdim: boolean; argmax: Int32Array };
  reshape: object;
  expand: object;
  permute: { perm: number[] };
  slice: { dim: number; start: number };
  concat: { dim: number };
  indexSelect: { idx: Int32Array; skip: number };
  softmax: { log: boolean };
}
export type PrimitiveName = keyof PrimitiveAttrs;

interface Ctx<A> {
  inputs: readonly Tensor[];
  out: Tensor;
  attrs: A;
}
type Rule<A> = (ctx: Ctx<A>, g: Tensor) => (Tensor | null)[];

export type TensorLike = Tensor | number;

export function resultDtype(...ts: readonly Tensor[]): DType {
  return ts.some((t) => t.dtype === 'float64') ? 'float64' : 'float32';
}

export function empty(shape: readonly number[], dtype: DType = 'float32'): Tensor {
  return new Tensor(allocFloat(dtype, numel(shape)), shape);
}

/**
 * Like `empty`, for an output the caller's kernel writes whole before anything reads it: inside a backward
 * pass a recycled buffer then skips its clearing (autograd/grad-pool.ts).
 */
export function emptyOverwritten(shape: readonly number[], dtype: DType = 'float32'): Tensor {
  return new Tensor(allocFloat(dtype, numel(shape), false), shape);
}

function scalarLike(v: number, like: Tensor): Tensor {
  const t = empty([], like.dtype);
  t.buf[0] = v;
  return t;
}

export function asTensor(x: TensorLike, like: Tensor): Tensor {
  return typeof x === 'number' ? scalarLike(x, like) : x;
}

function emit<K extends PrimitiveName>(op: K, inputs: readonly Tensor[], out: Tensor, attrs: PrimitiveAttrs[K]): Tensor {
  const rule = rules[op] as Rule<PrimitiveAttrs[K]>;
  record(op, inputs, [out], (g) => (g[0] ? rule({ inputs, out, attrs }, g[0]) : inputs.map(() => null)));
  return out;
}

// ---------------------------------------------------------------- elementwise

// The tape sums gradients with the active backend's add (one flat [n] add: in wasm, split across threads).
const FLAT = [1];
setGradientAdder((a, b, out) => kernels().binary('add', a, FLAT, b, FLAT, out, [out.length]));
// A backward pass's recycled buffers live where the backend keeps tensors (wasm memory: kernels use them in place).
setGradBufferSource({ alloc: residentZeros, release: (a) => { releaseResident(a); } });

function binaryOp(op: BinaryOp, a: TensorLike, b: TensorLike): Tensor {
  if (typeof a === 'number' && typeof b === 'number') throw new DTypeError({ op, expected: 'at least one tensor', got: 'two numbers' });
  const ta = typeof a === 'number' ? scalarLike(a, b as Tensor) : a;
  const tb = asTensor(b, ta);
  const shape = broadcastShapes(op, ta.shape, tb.shape);
  const out = emptyOverwritten(shape, resultDtype(ta, tb));
  kernels().binary(op, ta.buf, broadcastStrides(ta.shape, shape), tb.buf, broadcastStrides(tb.shape, shape), out.buf, shape);
  return emit(op, [ta, tb], out, {});
}

export const add = (a: TensorLike, b: TensorLike): Tensor => binaryOp('add', a, b);
export const sub = (a: TensorLike, b: TensorLike): Tensor => binaryOp('sub', a, b);
export const mul = (a: TensorLike, b: TensorLike): Tensor => binaryOp('mul', a, b);
export const div = (a: TensorLike, b: TensorLike): Tensor => binaryOp('div', a, b);
export const maximum = (a: TensorLike, b: TensorLike): Tensor => binaryOp('maximum', a, b);
export const minimum = (a: TensorLike, b: TensorLike): Tensor => binaryOp('minimum', a, b);

function unaryOp(op: Exclude<UnaryOp, 'pow'>, x: Tensor): Tensor {
  const out = emptyOverwritten(x.shape, x.dtype);
  kernels().unary(op, x.buf, out.buf, x.size, 0);
  return emit(op, [x], out, {});
}

export const neg = (x: Tensor): Tensor => unaryOp('neg', x);
export const exp = (x: Tensor): Tensor => unaryOp('exp', x);
export const log = (x: Tensor): Tensor => unaryOp('log', x);
export const sqrt = (x: Tensor): Tensor => unaryOp('sqrt', x);
export const tanh = (x: Tensor): Tensor => unaryOp('tanh', x);
export const sigmoid = (x: Tensor): Tensor => unaryOp('sigmoid', x);
export const relu = (x: Tensor): Tensor => unaryOp('relu', x);
export const abs = (x: Tensor): Tensor => unaryOp('abs', x);
/** softplus(x) = log(1 + eˣ) (returns x above 20, like PyTorch's default threshold). */
export const softplus = (x: Tensor): Tensor => unaryOp('softplus', x);
/** SiLU (swish): x · σ(x). */
export const silu = (x: Tensor): Tensor => unaryOp('silu', x);
/** GELU(x) = x·Φ(x) = x/2 · (1 + erf(x/√2)), the exact form (PyTorch's `nn.GELU()`, nanoGPT's MLP). */
export const gelu = (x: Tensor): Tensor => unaryOp('gelu', x);

/** x ** alpha for a constant exponent. */
export function pow(x: Tensor, alpha: number): Tensor {
  const out = empty(x.shape, x.dtype);
  kernels().unary('pow', x.buf, out.buf, x.size, alpha);
  return emit('pow', [x], out, { alpha });
}

function unaryRule(op: UnaryOp): Rule<object> {
  return ({ inputs, out, attrs }, g) => {
    const x = inputs[0]!;
    const dx = emptyOverwritten(x.shape, x.dtype);
    const alpha = (attrs as { alpha?: number }).alpha ?? 0;
    kernels().unaryBackward(op, x.buf, out.buf, g.buf, dx.buf, x.size, alpha);
    return [dx];
  };
}

/** Sum `g` down to `shape` (undoing broadcasting). */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.shape.length - shape.length;
  const dims: number[] = [];
  for (let i = 0; i < g.shape.length; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) dims.push(i);
  }
  return reshape(sum(g, dims, true), shape);
}

// ---------------------------------------------------------------- matmul

/**
 * Matrix product with PyTorch's batching: a [..., m, k] @ b [k, n] (a's leading dims flattened), or
 * a [B..., m, k] @ b [B..., k, n] with equal batch dims. transA/transB read a stored [.., k, m] / b
 * stored [.., n, k] (used by Linear and by backward rules).
 */
export function matmul(a: Tensor, b: Tensor, opts: { transA?: boolean; transB?: boolean } = {}): Tensor {
  const transA = opts.transA ?? false, transB = opts.transB ?? false;
  if (a.ndim < 2 || b.ndim < 2) {
    throw new ShapeError({
      op: 'matmul', expected: 'tensors of rank ≥ 2', got: `${fmtShape(a.shape)} @ ${fmtShape(b.shape)}`,
      hint: 'reshape a vector to [1, k] or [k, 1] first',
    });
  }
  const [ar, ac] = [a.shape[a.ndim - 2]!, a.shape[a.ndim - 1]!];
  const [br, bc] = [b.shape[b.ndim - 2]!, b.shape[b.ndim - 1]!];
  const m = transA ? ac : ar, k = transA ? ar : ac;
  const kb = transB ? bc : br, n = transB ? br : bc;
  const desc = () => `${fmtShape(a.shape)}${transA ? 'ᵀ' : ''} @ ${fmtShape(b.shape)}${transB ? 'ᵀ' : ''}`;
  if (k !== kb) {
    throw new ShapeError({ op: 'matmul', expected: `inner dimensions to match (${k} vs ${kb})`, got: desc() });
  }
  const dtype = resultDtype(a, b);
  const K = kernels();
  let out: Tensor;
  if (b.ndim === 2 && !transA) {
    const lead = a.shape.slice(0, -2);
    const rows = numel(lead) * m;
    out = k > 0 ? emptyOverwritten([...lead, m, n], dtype) : empty([...lead, m, n], dtype);
    K.gemm(false, transB, rows, n, k, a.buf, 0, b.buf, 0, out.buf, 0, false);
  } else {
    const batchA = a.shape.slice(0, -2), batchB = b.shape.slice(0, -2);
    if (!sameShape(batchA, batchB)) {
      throw new ShapeError({
        op: 'matmul', expected: 'equal batch dimensions (or a 2-D right operand)', got: desc(),
      });
    }
    const batch = numel(batchA);
    out = k > 0 ? emptyOverwritten([...batchA, m, n], dtype) : empty([...batchA, m, n], dtype);
    for (let i = 0; i < batch; i++) {
      K.gemm(transA, transB, m, n, k, a.buf, i * m * k, b.buf, i * k * n, out.buf, i * m * n, false);
    }
  }
  return emit('matmul', [a, b], out, { transA, transB });
}

// ---------------------------------------------------------------- reductions

function reduceDims(op: string, x: Tensor, dim?: number | readonly number[]): number[] {
  if (dim === undefined) return x.shape.map((_, i) => i);
  const ds = (typeof dim === 'number' ? [dim] : [...dim]).map((d) => normDim(op, d, x.ndim));
  return [...new Set(ds)].sort((p, q) => p - q);
}

/** Sum over `dim` (one or several; all when omitted), like `torch.sum`. */
export function sum(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  const dims = reduceDims('sum', x, dim);
  let cur = x.buf;
  const shape = [...x.shape];
  // Reduce the last requested dim first so earlier dim indices stay valid.
  for (let j = dims.length - 1; j >= 0; j--) {
    const d = dims[j]!;
    const outer = numel(shape.slice(0, d)), n = shape[d]!, inner = numel(shape.slice(d + 1));
    const next = allocFloat(x.dtype, outer * inner);
    kernels().reduceSum(cur, next, outer, n, inner);
    cur = next;
    shape[d] = 1;
  }
  if (dims.length === 0) cur = x.buf.slice();
  const outShape = keepdim ? shape : shape.filter((_, i) => !dims.includes(i));
  return emit('sum', [x], new Tensor(cur, outShape), { dims, keepdim });
}

/** Max over one dim; returns values (the index of the first maximum gets the gradient). */
export function max(x: Tensor, dim: number, keepdim = false): Tensor {
  const d = normDim('max', dim, x.ndim);
  const outer = numel(x.shape.slice(0, d)), n = x.shape[d]!, inner = numel(x.shape.slice(d + 1));
  if (n === 0) throw new ShapeError({ op: 'max', expected: 'a non-empty dimension', got: `size 0 at dim ${dim}` });
  const out = empty(keepdim ? x.shape.map((s, i) => (i === d ? 1 : s)) : x.shape.filter((_, i) => i !== d), x.dtype);
  const argmax = new Int32Array(outer * inner);
  kernels().reduceMax(x.buf, out.buf, argmax, outer, n, inner);
  return emit('max', [x], out, { dim: d, keepdim, argmax });
}

/** Index of the maximum over `dim` (not differentiable), as a float tensor of integers. */
export function argmax(x: Tensor, dim: number): Tensor {
  const d = normDim('argmax', dim, x.ndim);
  const outer = numel(x.shape.slice(0, d)), n = x.shape[d]!, inner = numel(x.shape.slice(d + 1));
  const vals = allocFloat(x.dtype, outer * inner);
  const idx = new Int32Array(outer * inner);
  kernels().reduceMax(x.buf, vals, idx, outer, n, inner);
  return new Tensor(Float32Array.from(idx), x.shape.filter((_, i) => i !== d));
}

// ---------------------------------------------------------------- shape ops

/** Same values, new shape (one dim may be -1). Shares storage: tensors are contiguous. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const s = [...shape];
  const neg = s.indexOf(-1);
  if (neg >= 0) {
    const rest = numel(s.filter((_, i) => i !== neg));
    s[neg] = rest === 0 ? 0 : x.size / rest;
  }
  if (numel(s) !== x.size || s.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ShapeError({ op: 'reshape', expected: `a shape with ${x.size} elements`, got: `${fmtShape(shape)} for input ${fmtShape(x.shape)}` });
  }
  if (sameShape(s, x.shape)) return x;
  return emit('reshape', [x], new Tensor(x.buf, s), {});
}

/** Broadcast to `shape` (materialised), like `torch.Tensor.expand`. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const target = broadcastShapes('expand', x.shape, shape);
  if (!sameShape(target, shape)) {
    throw new ShapeError({ op: 'expand', expected: `a shape ${fmtShape(x.shape)} broadcasts to`, got: fmtShape(shape) });
  }
  if (sameShape(x.shape, shape)) return x;
  const out = empty(shape, x.dtype);
  const zero = new Float32Array(1);
  kernels().binary('add', x.buf, broadcastStrides(x.shape, shape), zero, shape.map(() => 0), out.buf, shape);
  return emit('expand', [x], out, {});
}

/** Reorder axes: out.shape[i] = x.shape[perm[i]]. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const p = perm.map((d) => normDim('permute', d, x.ndim));
  if (p.length !== x.ndim || new Set(p).size !== p.length) {
    throw new ShapeError({ op: 'permute', expected: `a permutation of ${x.ndim} dims`, got: fmtShape(perm) });
  }
  if (p.every((d, i) => d === i)) return x;
  const out = empty(p.map((d) => x.shape[d]!), x.dtype);
  kernels().permute(x.buf, out.buf, x.shape, p);
  return emit('permute', [x], out, { perm: p });
}

/** Swap two dims (the last two by default), like `torch.transpose`. */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const a = normDim('transpose', dim0, x.ndim), b = normDim('transpose', dim1, x.ndim);
  const perm = x.shape.map((_, i) => i);
  perm[a] = b;
  perm[b] = a;
  return permute(x, perm);
}

/** `length` entries along `dim` starting at `start` (copied), like `torch.narrow`. */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const d = normDim('narrow', dim, x.ndim);
  const n = x.shape[d]!;
  if (start < 0) start += n;
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > n) {
    throw new ShapeError({ op: 'narrow', expected: `start ≥ 0 and start + length ≤ ${n} (dim ${dim})`, got: `start=${start}, length=${length}` });
  }
  const outer = numel(x.shape.slice(0, d)), inner = numel(x.shape.slice(d + 1));
  const shape = x.shape.map((s, i) => (i === d ? length : s));
  const out = empty(shape, x.dtype);
  for (let o = 0; o < outer; o++) {
    out.buf.set(x.buf.subarray((o * n + start) * inner, (o * n + start + length) * inner), o * length * inner);
  }
  return emit('slice', [x], out, { dim: d, start });
}

/** Concatenate along `dim`; all other dims must match. */
export function concat(xs: readonly Tensor[], dim = 0): Tensor {
  if (xs.length === 0) throw new ShapeError({ op: 'concat', expected: 'at least one tensor', got: 'an empty list' });
  const first = xs[0]!;
  const d = normDim('concat', dim, first.ndim);
  xs.forEach((x, i) => {
    if (x.ndim !== first.ndim || x.shape.some((s, j) => j !== d && s !== first.shape[j])) {
      throw new ShapeError({
        op: 'concat', expected: `shapes equal to ${fmtShape(first.shape)} except at dim ${dim}`,
        got: `${fmtShape(x.shape)} at position ${i}`,
      });
    }
  });
  const total = xs.reduce((s, x) => s + x.shape[d]!, 0);
  const outer = numel(first.shape.slice(0, d)), inner = numel(first.shape.slice(d + 1));
  const out = empty(first.shape.map((s, i) => (i === d ? total : s)), resultDtype(...xs));
  let off = 0;
  for (const x of xs) {
    const len = x.shape[d]! * inner;
    for (let o = 0; o < outer; o++) out.buf.set(x.buf.subarray(o * len, (o + 1) * len), o * total * inner + off);
    off += len;
  }
  return emit('concat', xs, out, { dim: d });
}

/** Stack along a new dim. */
export function stack(xs: readonly Tensor[], dim = 0): Tensor {
  if (xs.length === 0) throw new ShapeError({ op: 'stack', expected: 'at least one tensor', got: 'an empty list' });
  const first = xs[0]!;
  const d = dim < 0 ? dim + first.ndim + 1 : dim;
  xs.forEach((x, i) => {
    if (!sameShape(x.shape, first.shape)) {
      throw new ShapeError({ op: 'stack', expected: `every tensor of shape ${fmtShape(first.shape)}`, got: `${fmtShape(x.shape)} at position ${i}` });
    }
  });
  const shape = [...first.shape];
  shape.splice(d, 0, 1);
  return concat(xs.map((x) => reshape(x, shape)), d);
}

/** Convert indices (integers in a tensor, typed array or array) to Int32Array, checking range. */
export function toIndices(op: string, idx: Tensor | Int32Array | readonly number[], size: number, what = 'index'): Int32Array {
  const src = idx instanceof Tensor ? idx.buf : idx;
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= size) {
      throw new ShapeError({ op, expected: `${what}s that are integers in [0, ${size})`, got: `${v} at position ${i}` });
    }
    out[i] = v;
  }
  return out;
}

/**
 * Rows of `x` along dim 0 picked by `idx` (the embedding lookup). Output shape is idx's shape followed
 * by x.shape[1:]. Rows equal to `skip` (an embedding's paddingIdx) receive no gradient.
 */
export function indexSelect(x: Tensor, idx: Tensor | Int32Array | readonly number[], idxShape?: readonly number[], skip = -1): Tensor {
  if (x.ndim < 1) throw new ShapeError({ op: 'indexSelect', expected: 'a tensor of rank ≥ 1', got: 'a scalar' });
  const ids = toIndices('indexSelect', idx, x.shape[0]!);
  const shapeOfIdx = idxShape ?? (idx instanceof Tensor ? idx.shape : [ids.length]);
  const cols = numel(x.shape.slice(1));
  const out = empty([...shapeOfIdx, ...x.shape.slice(1)], x.dtype);
  kernels().indexSelect(x.buf, ids, out.buf, cols);
  return emit('indexSelect', [x], out, { idx: ids, skip });
}

// ---------------------------------------------------------------- softmax

function softmaxOp(x: Tensor, log: boolean): Tensor {
  if (x.ndim === 0) throw new ShapeError({ op: log ? 'logSoftmax' : 'softmax', expected: 'rank ≥ 1', got: 'a scalar' });
  const cols = x.shape[x.ndim - 1]!;
  const out = empty(x.shape, x.dtype);
  kernels().softmax(x.buf, out.buf, cols === 0 ? 0 : x.size / cols, cols, log);
  return emit('softmax', [x], out, { log });
}

function lastDimOp(x: Tensor, dim: number, f: (t: Tensor) => Tensor): Tensor {
  const d = normDim('softmax', dim, x.ndim);
  if (d === x.ndim - 1) return f(x);
  return transpose(f(transpose(x, d, -1)), d, -1);
}

/** Softmax over `dim` (last by default). */
export const softmax = (x: Tensor, dim = -1): Tensor => lastDimOp(x, dim, (t) => softmaxOp(t, false));
/** Log-softmax over `dim`, computed stably (x − logsumexp). */
export const logSoftmax = (x: Tensor, dim = -1): Tensor => lastDimOp(x, dim, (t) => softmaxOp(t, true));

// ---------------------------------------------------------------- the rule table

/**
 * `f()` when x needs a gradient, else null: the rules skip the work for constants (a number operand, a
 * tensor without requiresGrad), which the tape would drop anyway.
 */
const ifGrad = (x: Tensor, f: () => Tensor): Tensor | null => (x.requiresGrad ? f() : null);

/**
 * A float32 buffer reused for products that are only summed (reduced at once, never seen outside). Products
 * above PRODUCT_SCRATCH_MAX elements take their buffer from the backward pass's recycled ones (autograd/
 * grad-pool.ts) instead, so one large batch does not pin its size here for the rest of the process.
 */
let productScratch = new Float32Array(0);
const PRODUCT_SCRATCH_MAX = 1 << 20;

/**
 * sumToShape(mul(g, other), shape) — the gradient of the operand of `shape` in a product — without a new
 * full-size tensor when the product is summed down (a broadcast weight): the same products and sums.
 */
function productSummedTo(g: Tensor, other: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape) || g.dtype !== 'float32' || other.dtype !== 'float32') return sumToShape(mul(g, other), shape);
  if (productScratch.length < g.size && g.size <= PRODUCT_SCRATCH_MAX) productScratch = new Float32Array(g.size);
  const prod = new Tensor(g.size <= PRODUCT_SCRATCH_MAX ? productScratch.subarray(0, g.size) : allocFloat('float32', g.size, false), g.shape);
  kernels().binary('mul', g.buf, broadcastStrides(g.shape, g.shape), other.buf, broadcastStrides(other.shape, g.shape), prod.buf, g.shape);
  return sumToShape(prod, shape); // a new tensor: sum writes fresh buffers
}

const binaryRules = {
  add: (({ inputs: [a, b] }, g) => [ifGrad(a!, () => sumToShape(g, a!.shape)), ifGrad(b!, () => sumToShape(g, b!.shape))]) as Rule<object>,
  sub: (({ inputs: [a, b] }, g) => [ifGrad(a!, () => sumToShape(g, a!.shape)), ifGrad(b!, () => sumToShape(neg(g), b!.shape))]) as Rule<object>,
  mul: (({ inputs: [a, b] }, g) => [ifGrad(a!, () => productSummedTo(g, b!, a!.shape)), ifGrad(b!, () => productSummedTo(g, a!, b!.shape))]) as Rule<object>,
  // d(a/b) = g/b, −g·a/b²
  div: (({ inputs: [a, b], out }, g) => [
    ifGrad(a!, () => sumToShape(div(g, b!), a!.shape)), ifGrad(b!, () => sumToShape(neg(div(mul(g, out), b!)), b!.shape)),
  ]) as Rule<object>,
};

function selectRule(pickA: (a: number, b: number) => boolean): Rule<object> {
  return ({ inputs: [a, b], out }, g) => {
    const ga = empty(out.shape, g.dtype), gb = empty(out.shape, g.dtype);
    const ea = expand(a!, out.shape), eb = expand(b!, out.shape);
    for (let i = 0; i < g.size; i++) {
      if (pickA(ea.buf[i]!, eb.buf[i]!)) ga.buf[i] = g.buf[i]!;
      else gb.buf[i] = g.buf[i]!;
    }
    return [sumToShape(ga, a!.shape), sumToShape(gb, b!.shape)];
  };
}

export const rules: { [K in PrimitiveName]: Rule<PrimitiveAttrs[K]> } = {
  ...binaryRules,
  maximum: selectRule((a, b) => a >= b),
  minimum: selectRule((a, b) => a <= b),
  neg: unaryRule('neg'), exp: unaryRule('exp'), log: unaryRule('log'), sqrt: unaryRule('sqrt'),
  tanh: unaryRule('tanh'), sigmoid: unaryRule('sigmoid'), relu: unaryRule('relu'), abs: unaryRule('abs'),
  softplus: unaryRule('softplus'), silu: unaryRule('silu'), gelu: unaryRule('gelu'), pow: unaryRule('pow'),

  // C = op(A)·op(B): dA = dC·op(B)ᵀ, dB = op(A)ᵀ·dC, written back in each operand's stored layout.
  matmul: ({ inputs: [a, b], attrs: { transA, transB } }, g) => {
    if (b!.ndim === 2 && !transA && a!.ndim > 2) {
      const g2 = reshape(g, [-1, g.shape[g.ndim - 1]!]);
      const a2 = reshape(a!, [-1, a!.shape[a!.ndim - 1]!]);
      const da = ifGrad(a!, () => reshape(matmul(g2, b!, { transB: !transB }), a!.shape));
      const db = ifGrad(b!, () => (transB ? matmul(g2, a2, { transA: true }) : matmul(a2, g2, { transA: true })));
      return [da, db];
    }
    const da = ifGrad(a!, () => (transA ? matmul(b!, g, { transA: transB, transB: true }) : matmul(g, b!, { transB: !transB })));
    const db = ifGrad(b!, () => (transB ? matmul(g, a!, { transA: true, transB: transA }) : matmul(a!, g, { transA: !transA })));
    return [da, db];
  },

  sum: ({ inputs: [x], attrs: { dims, keepdim } }, g) => {
    let gk = g;
    if (!keepdim) gk = reshape(g, x!.shape.map((s, i) => (dims.includes(i) ? 1 : s)));
    return [expand(gk, x!.shape)];
  },

  max: ({ inputs: [x], attrs: { dim, argmax: am } }, g) => {
    const dx = empty(x!.shape, x!.dtype);
    const n = x!.shape[dim]!, inner = numel(x!.shape.slice(dim + 1));
    for (let r = 0; r < am.length; r++) {
      const o = Math.floor(r / inner), i = r % inner;
      dx.buf[(o * n + am[r]!) * inner + i] = g.buf[r]!;
    }
    return [dx];
  },

  reshape: ({ inputs: [x] }, g) => [reshape(g, x!.shape)],
  expand: ({ inputs: [x] }, g) => [sumToShape(g, x!.shape)],

  permute: ({ attrs: { perm } }, g) => {
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => (inv[p] = i));
    return [permute(g, inv)];
  },

  slice: ({ inputs: [x], attrs: { dim, start } }, g) => {
    const dx = empty(x!.shape, g.dtype);
    const n = x!.shape[dim]!, len = g.shape[dim]!;
    const outer = numel(x!.shape.slice(0, dim)), inner = numel(x!.shape.slice(dim + 1));
    for (let o = 0; o < outer; o++) {
      dx.buf.set(g.buf.subarray(o * len * inner, (o + 1) * len * inner), (o * n + start) * inner);
    }
    return [dx];
  },

  concat: ({ inputs, attrs: { dim } }, g) => {
    let start = 0;
    return inputs.map((x) => {
      const part = narrow(g, dim, start, x.shape[dim]!);
      start += x.shape[dim]!;
      return part;
    });
  },

  indexSelect: ({ inputs: [x], attrs: { idx, skip } }, g) => {
    const dx = empty(x!.shape, g.dtype);
    kernels().indexAdd(dx.buf, idx, g.buf, numel(x!.shape.slice(1)), skip);
    return [dx];
  },

  softmax: ({ inputs: [x], out, attrs: { log } }, g) => {
    const dx = empty(x!.shape, g.dtype);
    const cols = x!.shape[x!.ndim - 1]!;
    kernels().softmaxBackward(out.buf, g.buf, dx.buf, cols === 0 ? 0 : x!.size / cols, cols, log);
    return [dx];
  },
};

