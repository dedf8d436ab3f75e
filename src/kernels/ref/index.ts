/**
 * The reference backend: plain TypeScript loops, written to be read. This file *is* the specification
 * that every faster backend is checked against. Generic over Float32Array and Float64Array; scalar
 * arithmetic happens in doubles and is rounded on store.
 */
import { mm } from './gemm.js';
import { recurrentBackward, recurrentForward, recurrentStep } from './recurrent.js';
import { attentionBackward, attentionForward } from './attention.js';
import { wkv6Backward, wkv6Forward, wkv7Backward, wkv7Forward } from './wkv.js';
import { scanKernels } from './scan.js';
import { refStepKernels } from './step.js';
import { gelu, geluGrad } from './erf.js';
import type { AdamStep, BinaryOp, FloatArray, Kernels, SGDStep, UnaryOp } from '../types.js';

function gemm(
  transA: boolean, transB: boolean, m: number, n: number, k: number,
  a: FloatArray, aOff: number, b: FloatArray, bOff: number,
  c: FloatArray, cOff: number, accumulate: boolean,
): void {
  mm(m, n, k, a, aOff, transA ? m : k, transA, b, bOff, transB ? k : n, transB, c, cOff, n, accumulate);
}

const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
// softplus(x) = log(1 + e^x), computed without overflow; PyTorch's threshold (20) returns x above it.
const softplus = (x: number): number => (x > 20 ? x : Math.log1p(Math.exp(x)));

function unaryFn(op: UnaryOp, alpha: number): (x: number) => number {
  switch (op) {
    case 'neg': return (x) => -x;
    case 'exp': return Math.exp;
    case 'log': return Math.log;
    case 'sqrt': return Math.sqrt;
    case 'tanh': return Math.tanh;
    case 'sigmoid': return sigmoid;
    case 'relu': return (x) => (x > 0 ? x : 0);
    case 'abs': return Math.abs;
    case 'pow': return (x) => Math.pow(x, alpha);
    case 'softplus': return softplus;
    case 'silu': return (x) => x * sigmoid(x);
    case 'gelu': return gelu;
    default: return op satisfies never;
  }
}

/** f'(x)·dy, from whichever of x and y = f(x) gives the stable form. */
function unaryGradFn(op: UnaryOp, alpha: number): (x: number, y: number, dy: number) => number {
  switch (op) {
    case 'neg': return (_x, _y, dy) => -dy;
    case 'exp': return (_x, y, dy) => dy * y;
    case 'log': return (x, _y, dy) => dy / x;
    case 'sqrt': return (_x, y, dy) => dy / (2 * y);
    case 'tanh': return (_x, y, dy) => dy * (1 - y * y);
    case 'sigmoid': return (_x, y, dy) => dy * y * (1 - y);
    case 'relu': return (x, _y, dy) => (x > 0 ? dy : 0);
    case 'abs': return (x, _y, dy) => (x > 0 ? dy : x < 0 ? -dy : 0);
    case 'pow': return (x, _y, dy) => (alpha === 0 ? 0 : dy * alpha * Math.pow(x, alpha - 1));
    case 'softplus': return (x, _y, dy) => (x > 20 ? dy : dy * sigmoid(x));
    case 'silu': return (x, _y, dy) => { const s = sigmoid(x); return dy * s * (1 + x * (1 - s)); };
    case 'gelu': return (x, _y, dy) => dy * geluGrad(x);
    default: return op satisfies never;
  }
}

function binaryFn(op: BinaryOp): (a: number, b: number) => number {
  switch (op) {
    case 'add': return (a, b) => a + b;
    case 'sub': return (a, b) => a - b;
    case 'mul': return (a, b) => a * b;
    case 'div': return (a, b) => a / b;
    case 'maximum': return (a, b) => (a >= b ? a : b);
    case 'minimum': return (a, b) => (a <= b ? a : b);
    default: return op satisfies never;
  }
}

function binary(op: BinaryOp, a: FloatArray, as: readonly number[], b: FloatArray, bs: readonly number[],
  out: FloatArray, shape: readonly number[]): void {
  const f = binaryFn(op);
  const rank = shape.length;
  const n = out.length;
  if (rank === 0) { if (n) out[0] = f(a[0]!, b[0]!); return; }
  // Walk the output in row-major order, carrying the input offsets like an odometer.
  const idx = new Array<number>(rank).fill(0);
  let ai = 0, bi = 0;
  const last = rank - 1, lastN = shape[last]!, aL = as[last]!, bL = bs[last]!;
  for (let o = 0; o < n; ) {
    for (let j = 0; j < lastN; j++) out[o++] = f(a[ai + j * aL]!, b[bi + j * bL]!);
    for (let d = last - 1; d >= 0; d--) {
      idx[d]!++;
      ai += as[d]!;
      bi += bs[d]!;
      if (idx[d]! < shape[d]!) break;
      ai -= as[d]! * shape[d]!;
      bi -= bs[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

function permute(x: FloatArray, out: FloatArray, shape: readonly number[], perm: readonly number[]): void {
  const rank = shape.length;
  const inStrides = new Array<number>(rank);
  let acc = 1;
  for (let i = rank - 1; i >= 0; i--) { inStrides[i] = acc; acc *= shape[i]!; }
  const outShape = perm.map((p) => shape[p]!);
  const s = perm.map((p) => inStrides[p]!);
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = x[src]!;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      src += s[d]!;
      if (idx[d]! < outShape[d]!) break;
      src -= s[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
}

export const refKernels: Kernels = {
  name: 'ref',
  gemm,
  recurrentForward,
  recurrentStep,
  attentionForward,
  attentionBackward,
  recurrentBackward,
  wkv6Forward,
  wkv6Backward,
  wkv7Forward,
  wkv7Backward,
  ...scanKernels,
  ...refStepKernels,

  unary(op, x, out, n, alpha) {
    const f = unaryFn(op, alpha);
    for (let i = 0; i < n; i++) out[i] = f(x[i]!);
  },

  unaryBackward(op, x, y, dy, dx, n, alpha) {
    const f = unaryGradFn(op, alpha);
    for (let i = 0; i < n; i++) dx[i] = f(x[i]!, y[i]!, dy[i]!);
  },

  binary,

  reduceSum(x, out, outer, dim, inner) {
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let s = 0;
        for (let d = 0; d < dim; d++) s += x[(o * dim + d) * inner + i]!;
        out[o * inner + i] = s;
      }
    }
  },

  tokenMix(x, xx, c, m, out, rows, d) {
    // Each product and sum rounded to out's precision (Math.fround for float32), as the composed ops store them.
    const r = out instanceof Float32Array ? Math.fround : (v: number) => v;
    for (let i = 0, q = 0; i < rows; i++) {
      for (let j = 0; j < d; j++, q++) {
        const t = m === null ? c[j]! : r(c[j]! + m[q]!);
        out[q] = x[q]! + r(xx[q]! * t);
      }
    }
  },

  tokenMixBackward(g, xx, c, m, gxx, gm, rows, d) {
    const r = gxx instanceof Float32Array ? Math.fround : (v: number) => v;
    for (let i = 0, q = 0; i < rows; i++) {
      for (let j = 0; j < d; j++, q++) {
        const t = m === null ? c[j]! : r(c[j]! + m[q]!);
        gxx[q] = g[q]! * t;
        gm[q] = g[q]! * xx[q]!;
      }
    }
  },

  reluSquare(x, out, n) {
    for (let i = 0; i < n; i++) { const r = x[i]! > 0 ? x[i]! : 0; out[i] = r * r; }
  },

  reluSquareBackward(x, g, dx, n) {
    const r = dx instanceof Float32Array ? Math.fround : (v: number) => v;
    for (let i = 0; i < n; i++) dx[i] = x[i]! > 0 ? 2 * r(g[i]! * x[i]!) : 0;
  },

  reduceMax(x, out, argmax, outer, dim, inner) {
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let best = -Infinity, arg = 0;
        for (let d = 0; d < dim; d++) {
          const v = x[(o * dim + d) * inner + i]!;
          if (v > best || Number.isNaN(v)) { best = v; arg = d; if (Number.isNaN(v)) break; }
        }
        out[o * inner + i] = best;
        argmax[o * inner + i] = arg;
      }
    }
  },

  permute,

  softmax(x, out, rows, cols, log) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let max = -Infinity;
      for (let j = 0; j < cols; j++) max = Math.max(max, x[o + j]!);
      let sum = 0;
      for (let j = 0; j < cols; j++) sum += Math.exp(x[o + j]! - max);
      const lse = max + Math.log(sum);
      for (let j = 0; j < cols; j++) out[o + j] = log ? x[o + j]! - lse : Math.exp(x[o + j]! - lse);
    }
  },

  softmaxBackward(y, dy, dx, rows, cols, log) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      if (log) {
        // y = log p: dx = dy − p · Σ dy
        let s = 0;
        for (let j = 0; j < cols; j++) s += dy[o + j]!;
        for (let j = 0; j < cols; j++) dx[o + j] = dy[o + j]! - Math.exp(y[o + j]!) * s;
      } else {
        // y = p: dx = p ⊙ (dy − Σ p·dy)
        let s = 0;
        for (let j = 0; j < cols; j++) s += y[o + j]! * dy[o + j]!;
        for (let j = 0; j < cols; j++) dx[o + j] = y[o + j]! * (dy[o + j]! - s);
      }
    }
  },

  crossEntropyForward(logits, targets, rows, cols, ignoreIndex, loss, logp) {
    refKernels.softmax(logits, logp, rows, cols, true);
    for (let r = 0; r < rows; r++) {
      const t = targets[r]!;
      loss[r] = t === ignoreIndex ? 0 : -logp[r * cols + t]!;
    }
  },

  crossEntropyBackward(logp, targets, rows, cols, ignoreIndex, dloss, dlogits) {
    for (let r = 0; r < rows; r++) {
      const t = targets[r]!, o = r * cols;
      if (t === ignoreIndex) { for (let j = 0; j < cols; j++) dlogits[o + j] = 0; continue; }
      const g = dloss[r]!;
      for (let j = 0; j < cols; j++) dlogits[o + j] = g * (Math.exp(logp[o + j]!) - (j === t ? 1 : 0));
    }
  },

  layerNormForward(x, w, b, y, mean, rstd, rows, cols, eps) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let mu = 0;
      for (let j = 0; j < cols; j++) mu += x[o + j]!;
      mu /= cols;
      let v = 0;
      for (let j = 0; j < cols; j++) { const d = x[o + j]! - mu; v += d * d; }
      const rs = 1 / Math.sqrt(v / cols + eps); // biased variance, as PyTorch
      mean[r] = mu;
      rstd[r] = rs;
      for (let j = 0; j < cols; j++) {
        const xhat = (x[o + j]! - mu) * rs;
        y[o + j] = xhat * (w ? w[j]! : 1) + (b ? b[j]! : 0);
      }
    }
  },

  layerNormBackward(x, w, mean, rstd, dy, dx, dw, db, rows, cols) {
    // dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂)) with ĝ = dy ⊙ w
    for (let r = 0; r < rows; r++) {
      const o = r * cols, mu = mean[r]!, rs = rstd[r]!;
      let mg = 0, mgx = 0;
      for (let j = 0; j < cols; j++) {
        const xhat = (x[o + j]! - mu) * rs;
        const g = dy[o + j]! * (w ? w[j]! : 1);
        mg += g;
        mgx += g * xhat;
        if (dw) dw[j]! += dy[o + j]! * xhat;
        if (db) db[j]! += dy[o + j]!;
      }
      mg /= cols;
      mgx /= cols;
      for (let j = 0; j < cols; j++) {
        const xhat = (x[o + j]! - mu) * rs;
        dx[o + j] = rs * (dy[o + j]! * (w ? w[j]! : 1) - mg - xhat * mgx);
      }
    }
  },

  rmsNormForward(x, w, y, rstd, rows, cols, eps) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let ms = 0;
      for (let j = 0; j < cols; j++) ms += x[o + j]! * x[o + j]!;
      const rs = 1 / Math.sqrt(ms / cols + eps);
      rstd[r] = rs;
      for (let j = 0; j < cols; j++) y[o + j] = x[o + j]! * rs * (w ? w[j]! : 1);
    }
  },

  rmsNormBackward(x, w, rstd, dy, dx, dw, rows, cols) {
    // dx = rstd · ĝ − x · rstd³ · mean(ĝ ⊙ x) with ĝ = dy ⊙ w
    for (let r = 0; r < rows; r++) {
      const o = r * cols, rs = rstd[r]!;
      let s = 0;
      for (let j = 0; j < cols; j++) {
        s += dy[o + j]! * (w ? w[j]! : 1) * x[o + j]!;
        if (dw) dw[j]! += dy[o + j]! * x[o + j]! * rs;
      }
      const c = (rs * rs * rs * s) / cols;
      for (let j = 0; j < cols; j++) dx[o + j] = rs * dy[o + j]! * (w ? w[j]! : 1) - x[o + j]! * c;
    }
  },

  indexSelect(table, idx, out, cols) {
    for (let r = 0; r < idx.length; r++) {
      const src = idx[r]! * cols;
      for (let j = 0; j < cols; j++) out[r * cols + j] = table[src + j]!;
    }
  },

  indexAdd(dtable, idx, dout, cols, skip) {
    for (let r = 0; r < idx.length; r++) {
      if (idx[r] === skip) continue;
      const dst = idx[r]! * cols;
      for (let j = 0; j < cols; j++) dtable[dst + j]! += dout[r * cols + j]!;
    }
  },

  sgdUpdate(p, g, buf, n, o: SGDStep) {
    for (let i = 0; i < n; i++) {
      let d = g[i]! + o.weightDecay * p[i]!;
      if (buf !== null) {
        const b = o.first ? d : o.momentum * buf[i]! + (1 - o.dampening) * d;
        buf[i] = b;
        d = o.nesterov ? d + o.momentum * b : b;
      }
      p[i]! -= o.lr * d;
    }
  },

  adamUpdate(p, g, m, v, vmax, n, o: AdamStep) {
    const bc1 = 1 - Math.pow(o.beta1, o.step);
    const bc2Sqrt = Math.sqrt(1 - Math.pow(o.beta2, o.step));
    const stepSize = o.lr / bc1;
    for (let i = 0; i < n; i++) {
      let gi = g[i]!;
      if (o.weightDecay !== 0) {
        if (o.decoupled) p[i]! *= 1 - o.lr * o.weightDecay;
        else gi += o.weightDecay * p[i]!;
      }
      m[i] = o.beta1 * m[i]! + (1 - o.beta1) * gi;
      v[i] = o.beta2 * v[i]! + (1 - o.beta2) * gi * gi;
      let vv = v[i]!;
      if (vmax !== null) { vmax[i] = Math.max(vmax[i]!, vv); vv = vmax[i]!; }
      p[i]! -= (stepSize * m[i]!) / (Math.sqrt(vv) / bc2Sqrt + o.eps);
    }
  },
};
