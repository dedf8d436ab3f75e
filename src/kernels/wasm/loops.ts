/**
 * Elementwise kernels that the wasm backend runs as plain JavaScript loops. For cheap arithmetic on
 * arrays that live outside wasm memory (activations), copying in and out would cost more than SIMD
 * saves, while a monomorphic loop — one per op, no closure call per element — runs several times
 * faster than the reference's generic loop. Each loop computes exactly what src/kernels/ref/index.ts
 * does (same formula, same double-precision intermediate, same order), so results are identical to ref.
 * Layouts other than the common ones return false and the caller falls back to ref.
 */
import type { BinaryOp, FloatArray, UnaryOp } from '../types.js';

/** How an operand of a broadcast binary op is laid out relative to a contiguous output. */
type Layout = 'full' | 'scalar' | 'row';

/** strides[0 … end) are all 0 (a loop: no closure or slice per call, which a streamed token would allocate). */
function zeroUpTo(strides: readonly number[], end: number): boolean {
  for (let i = 0; i < end; i++) if (strides[i] !== 0) return false;
  return true;
}

function layout(strides: readonly number[], shape: readonly number[]): Layout | null {
  const r = shape.length;
  if (zeroUpTo(strides, strides.length)) return 'scalar';
  let acc = 1, full = true;
  for (let i = r - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== acc) { full = false; break; }
    acc *= shape[i]!;
  }
  if (full) return 'full';
  // A vector along the last axis, broadcast over every other axis (a bias, a LayerNorm weight).
  if (r >= 2 && strides[r - 1] === 1 && zeroUpTo(strides, r - 1)) return 'row';
  return null;
}

const KNOWN_BINARY = new Set<string>(['add', 'sub', 'mul', 'div', 'maximum', 'minimum']);

/** out[o + i] = a[ao + i·as] ∘ b[bo + i·bs] for i < n, with as, bs ∈ {0, 1}. */
function binarySpan(op: BinaryOp, a: FloatArray, ao: number, as: number, b: FloatArray, bo: number, bs: number,
  out: FloatArray, o: number, n: number): void {
  switch (op) {
    case 'add': for (let i = 0; i < n; i++) out[o + i] = a[ao + i * as]! + b[bo + i * bs]!; break;
    case 'sub': for (let i = 0; i < n; i++) out[o + i] = a[ao + i * as]! - b[bo + i * bs]!; break;
    case 'mul': for (let i = 0; i < n; i++) out[o + i] = a[ao + i * as]! * b[bo + i * bs]!; break;
    case 'div': for (let i = 0; i < n; i++) out[o + i] = a[ao + i * as]! / b[bo + i * bs]!; break;
    case 'maximum': for (let i = 0; i < n; i++) { const x = a[ao + i * as]!, y = b[bo + i * bs]!; out[o + i] = x >= y ? x : y; } break;
    case 'minimum': for (let i = 0; i < n; i++) { const x = a[ao + i * as]!, y = b[bo + i * bs]!; out[o + i] = x <= y ? x : y; } break;
    default: throw new Error(`binarySpan: unknown op ${String(op)}`);
  }
}

/** The broadcast binary op for full/scalar/row layouts; false when the layout is another one. */
export function binaryLoops(op: BinaryOp, a: FloatArray, as: readonly number[], b: FloatArray, bs: readonly number[],
  out: FloatArray, shape: readonly number[]): boolean {
  if (!KNOWN_BINARY.has(op)) return false;
  const la = layout(as, shape), lb = layout(bs, shape);
  if (la === null || lb === null || (la === 'row' && lb === 'row')) return false;
  const n = out.length;
  if (la !== 'row' && lb !== 'row') {
    binarySpan(op, a, 0, la === 'full' ? 1 : 0, b, 0, lb === 'full' ? 1 : 0, out, 0, n);
    return true;
  }
  const cols = shape[shape.length - 1]!;
  if (cols < 8) return false; // per-row calls would cost more than the generic loop
  const rows = cols === 0 ? 0 : n / cols;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    binarySpan(op,
      a, la === 'row' ? 0 : la === 'full' ? o : 0, la === 'scalar' ? 0 : 1,
      b, lb === 'row' ? 0 : lb === 'full' ? o : 0, lb === 'scalar' ? 0 : 1,
      out, o, cols);
  }
  return true;
}

const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/**
 * out = f(x) with one loop per op; false for an op this file does not know (ops added to `UnaryOp`
 * later run in ref until they get a loop here).
 */
export function unaryLoops(op: UnaryOp, x: FloatArray, out: FloatArray, n: number, alpha: number): boolean {
  switch (op) {
    case 'neg': for (let i = 0; i < n; i++) out[i] = -x[i]!; break;
    case 'exp': for (let i = 0; i < n; i++) out[i] = Math.exp(x[i]!); break;
    case 'log': for (let i = 0; i < n; i++) out[i] = Math.log(x[i]!); break;
    case 'sqrt': for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]!); break;
    case 'tanh': for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i]!); break;
    case 'sigmoid': for (let i = 0; i < n; i++) out[i] = sigmoid(x[i]!); break;
    case 'relu': for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = v > 0 ? v : 0; } break;
    case 'abs': for (let i = 0; i < n; i++) out[i] = Math.abs(x[i]!); break;
    case 'pow': for (let i = 0; i < n; i++) out[i] = Math.pow(x[i]!, alpha); break;
    case 'softplus': for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = v > 20 ? v : Math.log1p(Math.exp(v)); } break;
    case 'silu': for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = v * sigmoid(v); } break;
    default: return false;
  }
  return true;
}

/** dx = dy ⊙ f'(x) in the reference's stable forms; false for an op without a loop here. */
export function unaryBackwardLoops(op: UnaryOp, x: FloatArray, y: FloatArray, dy: FloatArray, dx: FloatArray, n: number, alpha: number): boolean {
  switch (op) {
    case 'neg': for (let i = 0; i < n; i++) dx[i] = -dy[i]!; break;
    case 'exp': for (let i = 0; i < n; i++) dx[i] = dy[i]! * y[i]!; break;
    case 'log': for (let i = 0; i < n; i++) dx[i] = dy[i]! / x[i]!; break;
    case 'sqrt': for (let i = 0; i < n; i++) dx[i] = dy[i]! / (2 * y[i]!); break;
    case 'tanh': for (let i = 0; i < n; i++) { const v = y[i]!; dx[i] = dy[i]! * (1 - v * v); } break;
    case 'sigmoid': for (let i = 0; i < n; i++) { const v = y[i]!; dx[i] = dy[i]! * v * (1 - v); } break;
    case 'relu': for (let i = 0; i < n; i++) dx[i] = x[i]! > 0 ? dy[i]! : 0; break;
    case 'abs': for (let i = 0; i < n; i++) { const v = x[i]!; dx[i] = v > 0 ? dy[i]! : v < 0 ? -dy[i]! : 0; } break;
    case 'pow': for (let i = 0; i < n; i++) dx[i] = alpha === 0 ? 0 : dy[i]! * alpha * Math.pow(x[i]!, alpha - 1); break;
    case 'softplus': for (let i = 0; i < n; i++) { const v = x[i]!; dx[i] = v > 20 ? dy[i]! : dy[i]! * sigmoid(v); } break;
    case 'silu': for (let i = 0; i < n; i++) { const v = x[i]!, s = sigmoid(v); dx[i] = dy[i]! * s * (1 + v * (1 - s)); } break;
    default: return false;
  }
  return true;
}

/**
 * Σ over the middle axis of x viewed as [outer, dim, inner], reading x in storage order. Each output is
 * summed over d = 0, 1, … in double precision, exactly as the reference does.
 */
export function reduceSumLoops(x: FloatArray, out: FloatArray, outer: number, dim: number, inner: number, acc: Float64Array): void {
  for (let o = 0; o < outer; o++) {
    if (inner === 1) {
      let s = 0;
      const base = o * dim;
      for (let d = 0; d < dim; d++) s += x[base + d]!;
      out[o] = s;
      continue;
    }
    acc.fill(0, 0, inner);
    for (let d = 0; d < dim; d++) {
      const base = (o * dim + d) * inner;
      for (let i = 0; i < inner; i++) acc[i]! += x[base + i]!;
    }
    for (let i = 0; i < inner; i++) out[o * inner + i] = acc[i]!;
  }
}
