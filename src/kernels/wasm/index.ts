/**
 * The WebAssembly SIMD backend. A fast method brings its float32 arrays into wasm memory (an array
 * that already lives there — a resident parameter or optimiser state — is used in place; any other
 * is copied into the scratch arena), runs one exported kernel, and copies the non-resident outputs back
 * (README.md says why, and what it costs). Every method without a fast version — and every call on
 * float64 arrays — is the reference kernel: the backend object is `{ ...refKernels, ...fast }`, so
 * methods added to the `Kernels` interface later work here at once.
 */
import { refKernels } from '../ref/index.js';
import {
  GATES, RECURRENT_KINDS, recurrentSavedSizes, selectiveScanSavedSize, ssdChunks, wkvSavedSizes, type FloatArray, type Kernels, type RecurrentKind,
  type RecurrentShape, type RecurrentWeights, type UnaryOp, type WkvSaved, type WkvShape, type BinaryOp,
} from '../types.js';
import { Arena } from './arena.js';
import { createBinder, createDirectBinder, inout, input, inputI32, output, scratch, type Arg } from './bind.js';
import { WasmHeap } from './heap.js';
import { binaryLoops, reduceSumLoops, unaryBackwardLoops, unaryLoops } from './loops.js';
import { collapseBroadcast } from './broadcast.js';
import type { WasmModule } from './module.js';
import { ThreadPool, defaultThreads } from './threads.js';
import { wasmStepKernels } from './step.js';

export { loadWasmModule, loadWasmModuleSync, type WasmModule, type WasmVariant } from './module.js';
export { ThreadPool, defaultThreads, threadsUnavailable } from './threads.js';

export interface WasmKernelOptions {
  /**
   * A GEMM whose op(B) has fewer than this many elements (k·n) stays in JavaScript, where copying into
   * wasm memory would cost more than it saves. The test ignores m on purpose: a row of C must not depend
   * on how many other rows were computed with it (batch-1 streaming steps equal the same rows of a
   * whole-sequence pass, bit for bit). Tests set 0 so every size runs the wasm code.
   */
  minGemmWork?: number;
  /** Elementwise and row-wise calls on fewer values than this stay in JavaScript (the call would cost more). */
  minElements?: number;
  /**
   * Threads in all (this one included) for large GEMMs, on shared memory in Node: default the number of
   * cores (SEQLAB_THREADS overrides); 1 = single-threaded. Elsewhere the backend is single-threaded.
   */
  threads?: number;
  /** Multiply-adds per thread below which a GEMM is not split (tests set it low to split everything). */
  minMacsPerThread?: number;
}

export const wasmKernelDefaults = { minGemmWork: 1024, minElements: 256, minMacsPerThread: 65536 } satisfies Omit<Required<WasmKernelOptions>, 'threads'>;

/**
 * Unary ops with a wasm kernel (wasm/assembly/pointwise.ts, split across threads when large); the others
 * are JS loops. Backward: the same eight (exp, tanh and sigmoid from y, in float64 as the reference: bit for
 * bit equal; large and frequent in RWKV's and Mamba's gates and decays, where the JS loops cost more than
 * the copies and ran on one thread).
 */
const WASM_UNARY: Partial<Record<UnaryOp, number>> = { exp: 0, tanh: 1, sigmoid: 2, silu: 3, softplus: 4, gelu: 5, relu: 6, neg: 7 };
const WASM_UNARY_BACKWARD: Partial<Record<UnaryOp, number>> = { exp: 0, tanh: 1, sigmoid: 2, silu: 3, softplus: 4, gelu: 5, relu: 6, neg: 7 };
/** The backward rules that read the output y (the reference's): the kernel gets y in place of x. */
const FROM_Y = new Set<UnaryOp>(['exp', 'tanh', 'sigmoid']);
/** wasm/assembly/elementwise.ts's op codes. */
const WASM_BINARY: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3, maximum: 4, minimum: 5 };

const KIND = (kind: RecurrentKind): number => RECURRENT_KINDS[kind].code;
/** A flag as the 0/1 the wasm exports take (V8 calls wasm on its fast path with numeric arguments only). */
const b01 = (v: boolean): number => (v ? 1 : 0);

/** The wasm backend's kernels plus its memory management (for `allocResident`, tests and benchmarks). */
export interface WasmKernels extends Kernels {
  readonly variant: WasmModule['variant'];
  readonly heap: WasmHeap;
  /** A zeroed float32 array in wasm memory (used in place by every kernel), or null where not possible. */
  resident(n: number): Float32Array | null;
  /** The worker pool, or null when single-threaded by necessity (no shared memory, not Node). */
  readonly pool: ThreadPool | null;
  /** Use up to n threads (this one included); returns the number now in use. */
  setThreads(n: number): number;
}

/**
 * The arrays both recurrent directions read: x, the weights, the initial state and the lengths. (The callers
 * extend it with Object.assign: an object spread into a literal this size costs V8 ~20 µs per call.)
 */
function layerArgs(s: RecurrentShape, x: FloatArray, w: RecurrentWeights, h0: FloatArray, c0: FloatArray | null) {
  const { kind, T, N, I, H, P } = s, GH = GATES[kind] * H;
  return {
    x: input(x, T * N * I), wih: input(w.wih, GH * I), whh: input(w.whh, GH * P), whr: input(projected(s, w) ? w.whr : null, P * H),
    h0: input(h0, N * P), c0: input(c0, N * H), lengths: inputI32(s.lengths),
  };
}
const projected = (s: RecurrentShape, w: RecurrentWeights): boolean => s.kind === 'lstm' && w.whr !== null;

/** The WKV forward's saved states: copied out when a backward will read them, else scratch left in wasm memory. */
function savedStates(s: WkvShape, saved: WkvSaved | null): Arg {
  const n = wkvSavedSizes(s).states;
  return saved ? output(saved.states, n) : scratch(4 * n);
}

export function createWasmKernels(mod: WasmModule, options: WasmKernelOptions = {}): WasmKernels {
  const opts = { ...wasmKernelDefaults, ...options };
  const ex = mod.exports;
  const heap = new WasmHeap(mod.memory, ex.heapBase(), mod.shared);
  const arena = new Arena(heap);
  const bind = createBinder(arena), direct = createDirectBinder(arena);
  const threads = options.threads ?? defaultThreads();
  const pool = ThreadPool.create(mod, heap, Math.max(threads, defaultThreads()) - 1, opts.minMacsPerThread);
  pool?.setThreads(threads);
  const few = (n: number): boolean => n < opts.minElements;
  let acc64 = new Float64Array(0);
  const jsBinary: Kernels['binary'] = (op, a, as, b, bs, out, shape) => {
    if (!binaryLoops(op, a, as, b, bs, out, shape)) refKernels.binary(op, a, as, b, bs, out, shape);
  };
  const jsReduceSum: Kernels['reduceSum'] = (x, out, outer, dim, inner) => {
    if (acc64.length < inner) acc64 = new Float64Array(inner);
    reduceSumLoops(x, out, outer, dim, inner, acc64);
  };
  // The binary op's merged layout (broadcast.ts), filled by `binary` just before `wasmBinary` reads it.
  const layout = new Int32Array(12);
  const wasmBinary = direct(jsBinary, (p, op, a, _as, b, _bs, out) => {
    const d = layout;
    ex.binaryF32(WASM_BINARY[op], out.length, d[1]!, d[2]!, d[3]!, p.in(a, a.length), d[4]!, d[5]!, d[6]!, d[7]!,
      p.in(b, b.length), d[8]!, d[9]!, d[10]!, d[11]!, p.out(out, out.length));
  });

  const recurrentForward = bind(refKernels.recurrentForward, {
    args: (s, x, w, h0, c0, y, hn, cn, saved) => {
      const { kind, T, N, I, H, P } = s, GH = GATES[kind] * H, z = recurrentSavedSizes(s);
      // Without a backward to feed, the saved buffers are scratch that never leaves wasm memory.
      const keep = (a: FloatArray | undefined, n: number): Arg => (a ? output(a, n) : scratch(4 * n));
      return Object.assign(layerArgs(s, x, w, h0, c0), {
        bih: input(w.bih, GH), bhh: input(w.bhh, GH),
        y: output(y, T * N * P), hn: output(hn, N * P), cn: output(cn, N * H),
        gates: keep(saved?.gates, z.gates), h: keep(saved?.h, z.h), c: keep(saved?.c, z.c), aux: keep(saved?.aux, z.aux),
        ws: scratch(ex.recurrentForwardScratch(KIND(kind), N, I, H, P, b01(projected(s, w)))),
      });
    },
  }, (p, s) => ex.recurrentForward(KIND(s.kind), s.T, s.N, s.I, s.H, s.P, b01(s.reverse), p.lengths, p.x, p.wih, p.whh, p.bih, p.bhh,
    p.whr, p.h0, p.c0, p.y, p.hn, p.cn, p.gates, p.h, p.c, p.aux, p.ws));

  const fast: Partial<Kernels> = {
    unary: bind((op, x, out, n, alpha) => { if (!unaryLoops(op, x, out, n, alpha)) refKernels.unary(op, x, out, n, alpha); }, {
      skip: (op, _x, _out, n) => WASM_UNARY[op] === undefined || few(n),
      args: (_op, x, out, n) => ({ x: input(x, n), out: output(out, n) }),
    }, (p, op, _x, _out, n) => ex.unaryF32(WASM_UNARY[op]!, p.x, p.out, n)),

    unaryBackward: bind((op, x, y, dy, dx, n, alpha) => {
      if (!unaryBackwardLoops(op, x, y, dy, dx, n, alpha)) refKernels.unaryBackward(op, x, y, dy, dx, n, alpha);
    }, {
      skip: (op, _x, _y, _dy, _dx, n) => WASM_UNARY_BACKWARD[op] === undefined || few(n),
      args: (op, x, y, dy, dx, n) => ({ x: input(FROM_Y.has(op) ? y : x, n), dy: input(dy, n), dx: output(dx, n) }),
    }, (p, op, _x, _y, _dy, _dx, n) => ex.unaryBackwardF32(WASM_UNARY_BACKWARD[op]!, p.x, p.dy, p.dx, n)),

    // Broadcast binary ops and sums in wasm, split across threads when large: even copied in and out,
    // they cost a fraction of the JS loops (hundreds of calls per RWKV training step).
    binary(op, a, as, b, bs, out, shape) {
      if (few(out.length) || !collapseBroadcast(as, bs, shape, layout)) jsBinary(op, a, as, b, bs, out, shape);
      else wasmBinary(op, a, as, b, bs, out, shape);
    },

    // RWKV's token-shift mixes (ops/token-mix.ts): one pass instead of an add, a multiply and an add, each with
    // its copies and its output array.
    tokenMix: direct(refKernels.tokenMix, (p, x, xx, c, m, out, rows, d) => {
      const n = rows * d;
      ex.tokenMixF32(p.in(x, n), p.in(xx, n), p.in(c, d), p.in(m, n), p.out(out, n), rows, d);
    }, (_x, _xx, _c, _m, _out, rows, d) => few(rows * d)),

    tokenMixBackward: direct(refKernels.tokenMixBackward, (p, g, xx, c, m, gxx, gm, rows, d) => {
      const n = rows * d;
      ex.tokenMixBackwardF32(p.in(g, n), p.in(xx, n), p.in(c, d), p.in(m, n), p.out(gxx, n), p.out(gm, n), rows, d);
    }, (_g, _xx, _c, _m, _gxx, _gm, rows, d) => few(rows * d)),

    // RWKV's channel-mix activation relu(x)² (ops/relu-square.ts): one call each way instead of relu, a multiply,
    // the multiply's two products and their sum.
    reluSquare: direct(refKernels.reluSquare, (p, x, out, n) => ex.reluSquareF32(p.in(x, n), p.out(out, n), n),
      (_x, _out, n) => few(n)),

    reluSquareBackward: direct(refKernels.reluSquareBackward, (p, x, g, dx, n) => ex.reluSquareBackwardF32(p.in(x, n), p.in(g, n), p.out(dx, n), n),
      (_x, _g, _dx, n) => few(n)),

    reduceSum: direct(jsReduceSum, (p, x, out, outer, dim, inner) =>
      ex.reduceSumF32(p.in(x, outer * dim * inner), p.out(out, outer * inner), outer, dim, inner),
    (_x, out, outer, dim, inner) => few(outer * dim * inner) || out.length === 0),

    softmax: bind(refKernels.softmax, {
      skip: (_x, _out, rows, cols) => few(rows * cols),
      args: (x, out, rows, cols) => ({ x: input(x, rows * cols), out: output(out, rows * cols) }),
    }, (p, _x, _out, rows, cols, log) => ex.softmaxRows(p.x, p.out, rows, cols, b01(log))),

    softmaxBackward: bind(refKernels.softmaxBackward, {
      skip: (_y, _dy, _dx, rows, cols) => few(rows * cols),
      args: (y, dy, dx, rows, cols) => ({ y: input(y, rows * cols), dy: input(dy, rows * cols), dx: output(dx, rows * cols) }),
    }, (p, _y, _dy, _dx, rows, cols, log) => ex.softmaxBackwardRows(p.y, p.dy, p.dx, rows, cols, b01(log))),

    crossEntropyForward: bind(refKernels.crossEntropyForward, {
      skip: (_l, _t, rows, cols) => few(rows * cols),
      args: (logits, targets, rows, cols, _ignore, loss, logp) => ({
        logits: input(logits, rows * cols), targets: inputI32(targets), loss: output(loss, rows), logp: output(logp, rows * cols),
      }),
    }, (p, _l, _t, rows, cols, ignoreIndex) => ex.crossEntropyForwardRows(p.logits, p.targets, rows, cols, ignoreIndex, p.loss, p.logp)),

    crossEntropyBackward: bind(refKernels.crossEntropyBackward, {
      skip: (_l, _t, rows, cols) => few(rows * cols),
      args: (logp, targets, rows, cols, _ignore, dloss, dlogits) => ({
        logp: input(logp, rows * cols), targets: inputI32(targets), dloss: input(dloss, rows), dlogits: output(dlogits, rows * cols),
      }),
    }, (p, _l, _t, rows, cols, ignoreIndex) => ex.crossEntropyBackwardRows(p.logp, p.targets, rows, cols, ignoreIndex, p.dloss, p.dlogits)),

    // Direct (bind.ts): the norms and the GEMM run once per streamed token in a language model's head.
    layerNormForward: direct(refKernels.layerNormForward, (p, x, w, b, y, mean, rstd, rows, cols, eps) => ex.layerNormForwardRows(
      p.in(x, rows * cols), p.in(w, cols), p.in(b, cols), p.out(y, rows * cols), p.out(mean, rows), p.out(rstd, rows), rows, cols, eps),
    (_x, _w, _b, _y, _m, _r, rows, cols) => few(rows * cols)),

    layerNormBackward: bind(refKernels.layerNormBackward, {
      skip: (_x, _w, _m, _r, _dy, _dx, _dw, _db, rows, cols) => few(rows * cols),
      args: (x, w, mean, rstd, dy, dx, dw, db, rows, cols) => ({
        x: input(x, rows * cols), w: input(w, cols), mean: input(mean, rows), rstd: input(rstd, rows), dy: input(dy, rows * cols),
        dx: output(dx, rows * cols), dw: inout(dw, cols), db: inout(db, cols), // dw, db accumulate
      }),
    }, (p, _x, _w, _m, _r, _dy, _dx, _dw, _db, rows, cols) =>
      ex.layerNormBackwardRows(p.x, p.w, p.mean, p.rstd, p.dy, p.dx, p.dw, p.db, rows, cols)),

    rmsNormForward: direct(refKernels.rmsNormForward, (p, x, w, y, rstd, rows, cols, eps) => ex.rmsNormForwardRows(
      p.in(x, rows * cols), p.in(w, cols), p.out(y, rows * cols), p.out(rstd, rows), rows, cols, eps),
    (_x, _w, _y, _r, rows, cols) => few(rows * cols)),

    rmsNormBackward: bind(refKernels.rmsNormBackward, {
      skip: (_x, _w, _r, _dy, _dx, _dw, rows, cols) => few(rows * cols),
      args: (x, w, rstd, dy, dx, dw, rows, cols) => ({
        x: input(x, rows * cols), w: input(w, cols), rstd: input(rstd, rows), dy: input(dy, rows * cols),
        dx: output(dx, rows * cols), dw: inout(dw, cols), // dw accumulates
      }),
    }, (p, _x, _w, _r, _dy, _dx, _dw, rows, cols) => ex.rmsNormBackwardRows(p.x, p.w, p.rstd, p.dy, p.dx, p.dw, rows, cols)),

    sgdUpdate: bind(refKernels.sgdUpdate, {
      skip: (_p, _g, _b, n) => few(n),
      args: (p, g, buf, n) => ({ p: inout(p, n), g: input(g, n), buf: inout(buf, n) }),
    }, (a, _p, _g, _b, n, o) => ex.sgdUpdate(a.p, a.g, a.buf, n, o.lr, o.momentum, o.dampening, o.weightDecay, b01(o.nesterov), b01(o.first))),

    adamUpdate: bind(refKernels.adamUpdate, {
      skip: (_p, _g, _m, _v, _vmax, n) => few(n),
      args: (p, g, m, v, vmax, n) => ({ p: inout(p, n), g: input(g, n), m: inout(m, n), v: inout(v, n), vmax: inout(vmax, n) }),
    }, (a, _p, _g, _m, _v, _vmax, n, o) => {
      // Step-dependent scalars once, in float64, as the reference computes them.
      const bc1 = 1 - Math.pow(o.beta1, o.step);
      const bc2Sqrt = Math.sqrt(1 - Math.pow(o.beta2, o.step));
      ex.adamUpdate(a.p, a.g, a.m, a.v, a.vmax, n, o.lr / bc1, o.beta1, o.beta2, o.eps, bc2Sqrt, o.weightDecay, b01(o.decoupled),
        1 - o.lr * o.weightDecay);
      }),

    gemm: direct(refKernels.gemm, (p, transA, transB, m, n, k, a, aOff, b, bOff, c, cOff, accumulate) => {
      const pa = p.in(a, m * k, aOff), pb = p.in(b, k * n, bOff), pc = accumulate ? p.inout(c, m * n, cOff) : p.out(c, m * n, cOff);
      // A · Bᵀ with B stored [n, k] runs gemmNT: dot products along k, no packing (wasm/assembly/gemm-nt.ts).
      if (transB && !transA) ex.gemmNT(m, n, k, pa, k, pb, k, pc, n, b01(accumulate));
      else ex.gemm(m, n, k, pa, transA ? 1 : k, transA ? m : 1, pb, transB ? 1 : n, transB ? k : 1, pc, n, b01(accumulate), p.scratch(ex.gemmScratch(k, n)));
    }, (_tA, _tB, m, n, k) => n * k < opts.minGemmWork || m === 0 || n === 0),

    recurrentForward,

    // The streaming step, bound directly (bind.ts: nothing allocated per token; resident weights and state used
    // in place). RNN, LSTM and reset-after GRU without projection, H a multiple of 4: the recurrentStep export,
    // one call and one pool job per layer (wasm/assembly/recurrent-step.ts). Other layers: recurrentForward with
    // T = 1, the state read and written at the same place (it reads h0, c0 before writing hn, cn), nothing saved.
    recurrentStep: direct(refKernels.recurrentStep, (p, s, x, w, h, hOff, c, cOff, y) => {
      const { kind, N, I, H, P } = s, GH = GATES[kind] * H, k = KIND(kind), proj = kind === 'lstm' && w.whr !== null;
      const px = p.in(x, N * I), wih = p.in(w.wih, GH * I), whh = p.in(w.whh, GH * P), bih = p.in(w.bih, GH), bhh = p.in(w.bhh, GH);
      const ph = p.inout(h, N * P, hOff), pc = p.inout(kind === 'lstm' ? c : null, N * H, cOff), py = p.out(y, N * P);
      if (!proj && P === H && (H & 3) === 0 && kind !== 'gru_reset_before' && (kind !== 'lstm' || pc !== 0)) {
        ex.recurrentStep(k, N, I, H, px, wih, whh, bih, bhh, ph, pc, py, p.scratch(ex.recurrentStepScratch(k, N, H)));
        return;
      }
      ex.recurrentForward(k, 1, N, I, H, P, 0, 0, px, wih, whh, bih, bhh, p.in(proj ? w.whr : null, P * H), ph, pc, py, ph, pc,
        p.scratch(4 * N * GH), p.scratch(4 * N * P), p.scratch(4 * N * H), p.scratch(4 * N * H),
        p.scratch(ex.recurrentForwardScratch(k, N, I, H, P, b01(proj))));
    }),

    recurrentBackward: bind(refKernels.recurrentBackward, {
      args: (s, x, w, h0, c0, saved, dy, dhn, dcn, g) => {
        const { kind, T, N, I, H, P } = s, GH = GATES[kind] * H, z = recurrentSavedSizes(s);
        return Object.assign(layerArgs(s, x, w, h0, c0), {
          gates: input(saved.gates, z.gates), h: input(saved.h, z.h), c: input(saved.c, z.c), aux: input(saved.aux, z.aux),
          dy: input(dy, T * N * P), dhn: input(dhn, N * P), dcn: input(dcn, N * H),
          dx: output(g.dx, T * N * I), dh0: output(g.dh0, N * P), dc0: output(g.dc0, N * H),
          // The weight gradients accumulate.
          dwih: inout(g.dwih, GH * I), dwhh: inout(g.dwhh, GH * P), dbih: inout(g.dbih, GH), dbhh: inout(g.dbhh, GH),
          dwhr: inout(projected(s, w) ? g.dwhr : null, P * H),
          ws: scratch(ex.recurrentBackwardScratch(KIND(kind), T, N, I, H, P, b01(projected(s, w)))),
        });
      },
    }, (p, s) => ex.recurrentBackward(KIND(s.kind), s.T, s.N, s.I, s.H, s.P, b01(s.reverse), p.lengths, p.x, p.wih, p.whh, p.whr,
      p.h0, p.c0, p.gates, p.h, p.c, p.aux, p.dy, p.dhn, p.dcn, p.dx, p.dh0, p.dc0, p.dwih, p.dwhh, p.dbih, p.dbhh, p.dwhr, p.ws)),

    wkv6Forward: bind(refKernels.wkv6Forward, {
      args: (s, x, s0, y, sT, saved) => {
        const n = s.B * s.T * s.H * s.N, ns = s.B * s.H * s.N * s.N;
        return {
          r: input(x.r, n), k: input(x.k, n), v: input(x.v, n), w: input(x.w, n), u: input(x.u, s.H * s.N), s0: input(s0, ns),
          y: output(y, n), sT: output(sT, ns), states: savedStates(s, saved),
        };
      },
    }, (p, s) => ex.wkv6Forward(s.B, s.T, s.H, s.N, p.r, p.k, p.v, p.w, p.u, p.s0, p.y, p.sT, p.states)),

    wkv6Backward: bind(refKernels.wkv6Backward, {
      args: (s, x, saved, dy, dsT, g) => {
        const n = s.B * s.T * s.H * s.N, ns = s.B * s.H * s.N * s.N;
        return {
          r: input(x.r, n), k: input(x.k, n), v: input(x.v, n), w: input(x.w, n), u: input(x.u, s.H * s.N),
          states: input(saved.states, wkvSavedSizes(s).states), dy: input(dy, n), dsT: input(dsT, ns),
          dr: output(g.dr, n), dk: output(g.dk, n), dv: output(g.dv, n), dw: output(g.dw, n),
          du: inout(g.du, s.H * s.N), ds0: output(g.ds0, ns), // du accumulates; the others are written
          ws: scratch(ex.wkvBackwardScratch(s.N)),
        };
      },
    }, (p, s) => ex.wkv6Backward(s.B, s.T, s.H, s.N, p.r, p.k, p.v, p.w, p.u, p.states, p.dy, p.dsT,
      p.dr, p.dk, p.dv, p.dw, p.du, p.ds0, p.ws)),

    wkv7Forward: bind(refKernels.wkv7Forward, {
      args: (s, x, s0, y, sT, saved) => {
        const n = s.B * s.T * s.H * s.N, ns = s.B * s.H * s.N * s.N;
        return {
          r: input(x.r, n), w: input(x.w, n), k: input(x.k, n), v: input(x.v, n), a: input(x.a, n), b: input(x.b, n), s0: input(s0, ns),
          y: output(y, n), sT: output(sT, ns), states: savedStates(s, saved),
        };
      },
    }, (p, s) => ex.wkv7Forward(s.B, s.T, s.H, s.N, p.r, p.w, p.k, p.v, p.a, p.b, p.s0, p.y, p.sT, p.states)),

    wkv7Backward: bind(refKernels.wkv7Backward, {
      args: (s, x, saved, dy, dsT, g) => {
        const n = s.B * s.T * s.H * s.N, ns = s.B * s.H * s.N * s.N;
        return {
          r: input(x.r, n), w: input(x.w, n), k: input(x.k, n), v: input(x.v, n), a: input(x.a, n), b: input(x.b, n),
          states: input(saved.states, wkvSavedSizes(s).states), dy: input(dy, n), dsT: input(dsT, ns),
          // Every gradient is written.
          dr: output(g.dr, n), dw: output(g.dw, n), dk: output(g.dk, n), dv: output(g.dv, n), da: output(g.da, n), db: output(g.db, n),
          ds0: output(g.ds0, ns), ws: scratch(ex.wkvBackwardScratch(s.N)),
        };
      },
    }, (p, s) => ex.wkv7Backward(s.B, s.T, s.H, s.N, p.r, p.w, p.k, p.v, p.a, p.b, p.states, p.dy, p.dsT,
      p.dr, p.dw, p.dk, p.dv, p.da, p.db, p.ds0, p.ws)),

    causalConv1dForward: bind(refKernels.causalConv1dForward, {
      args: ({ b, t, c, k }, x, w, bias, window, y, windowOut) => ({
        x: input(x, b * t * c), w: input(w, c * k), bias: input(bias, c), window: input(window, b * c * k),
        y: output(y, b * t * c), windowOut: output(windowOut, b * c * k), ws: scratch(ex.causalConv1dScratch(c, k)),
      }),
    }, (p, { b, t, c, k }) => ex.causalConv1dForward(b, t, c, k, p.x, p.w, p.bias, p.window, p.y, p.windowOut, p.ws)),

    causalConv1dBackward: bind(refKernels.causalConv1dBackward, {
      args: ({ b, t, c, k }, x, w, window, dy, dwindowOut, g) => ({
        x: input(x, b * t * c), w: input(w, c * k), window: input(window, b * c * k),
        dy: input(dy, b * t * c), dwindowOut: input(dwindowOut, b * c * k),
        // Every gradient accumulates.
        dx: inout(g.dx, b * t * c), dw: inout(g.dw, c * k), db: inout(g.db, c), dwindow: inout(g.dwindow, b * c * k),
        ws: scratch(ex.causalConv1dScratch(c, k)),
      }),
    }, (p, { b, t, c, k }) => ex.causalConv1dBackward(b, t, c, k, p.x, p.w, p.window, p.dy, p.dwindowOut,
      p.dx, p.dw, p.db, p.dwindow, p.ws)),

    selectiveScanForward: bind(refKernels.selectiveScanForward, {
      args: ({ b, t, di, n }, p, h0, y, hT, hs) => ({
        x: input(p.x, b * t * di), delta: input(p.delta, b * t * di), A: input(p.A, di * n), B: input(p.B, b * t * n),
        C: input(p.C, b * t * n), D: input(p.D, di), h0: input(h0, b * di * n),
        y: output(y, b * t * di), hT: output(hT, b * di * n), hs: output(hs, selectiveScanSavedSize({ b, t, di, n })),
      }),
    }, (p, { b, t, di, n }) => ex.selectiveScanForward(b, t, di, n, p.x, p.delta, p.A, p.B, p.C, p.D, p.h0, p.y, p.hT, p.hs)),

    selectiveScanBackward: bind(refKernels.selectiveScanBackward, {
      args: ({ b, t, di, n }, p, h0, hs, dy, dhT, g) => ({
        x: input(p.x, b * t * di), delta: input(p.delta, b * t * di), A: input(p.A, di * n), B: input(p.B, b * t * n),
        C: input(p.C, b * t * n), D: input(p.D, di), h0: input(h0, b * di * n), hs: input(hs, selectiveScanSavedSize({ b, t, di, n })),
        dy: input(dy, b * t * di), dhT: input(dhT, b * di * n),
        // Every gradient accumulates.
        dx: inout(g.dx, b * t * di), ddelta: inout(g.ddelta, b * t * di), dA: inout(g.dA, di * n), dB: inout(g.dB, b * t * n),
        dC: inout(g.dC, b * t * n), dD: inout(g.dD, di), dh0: inout(g.dh0, b * di * n),
        ws: scratch(ex.selectiveScanBackwardScratch(b, di, n)),
      }),
    }, (p, { b, t, di, n }) => ex.selectiveScanBackward(b, t, di, n, p.x, p.delta, p.A, p.B, p.C, p.D, p.h0, p.hs, p.dy, p.dhT,
      p.dx, p.ddelta, p.dA, p.dB, p.dC, p.dD, p.dh0, p.ws)),

    ssdForward: bind(refKernels.ssdForward, {
      args: (s, p, h0, y, hT, chunkStates) => {
        const { b, t, nh, hs, g, n, q } = s, hsz = hs * n;
        return {
          x: input(p.x, b * t * nh * hs), delta: input(p.delta, b * t * nh), A: input(p.A, nh), B: input(p.B, b * t * g * n),
          C: input(p.C, b * t * g * n), D: input(p.D, s.dPerChannel ? nh * hs : nh), h0: input(h0, b * nh * hsz),
          y: output(y, b * t * nh * hs), hT: output(hT, b * nh * hsz), chunkStates: output(chunkStates, b * ssdChunks(s) * nh * hsz),
          ws: scratch(ex.ssdScratch(b, nh, hs, n, q, s.g, s.dPerChannel ? nh * hs : nh)),
        };
      },
    }, (p, s) => ex.ssdForward(s.b, s.t, s.nh, s.hs, s.g, s.n, s.q, b01(s.dPerChannel), p.x, p.delta, p.A, p.B, p.C, p.D, p.h0,
      p.y, p.hT, p.chunkStates, p.ws)),

    ssdBackward: bind(refKernels.ssdBackward, {
      args: (s, p, chunkStates, dy, dhT, g) => {
        const { b, t, nh, hs, n, q } = s, hsz = hs * n, nD = s.dPerChannel ? nh * hs : nh;
        return {
          x: input(p.x, b * t * nh * hs), delta: input(p.delta, b * t * nh), A: input(p.A, nh), B: input(p.B, b * t * s.g * n),
          C: input(p.C, b * t * s.g * n), D: input(p.D, nD), chunkStates: input(chunkStates, b * ssdChunks(s) * nh * hsz),
          dy: input(dy, b * t * nh * hs), dhT: input(dhT, b * nh * hsz),
          // Every gradient accumulates.
          dx: inout(g.dx, b * t * nh * hs), ddelta: inout(g.ddelta, b * t * nh), dA: inout(g.dA, nh), dB: inout(g.dB, b * t * s.g * n),
          dC: inout(g.dC, b * t * s.g * n), dD: inout(g.dD, nD), dh0: inout(g.dh0, b * nh * hsz),
          ws: scratch(ex.ssdScratch(b, nh, hs, n, q, s.g, s.dPerChannel ? nh * hs : nh)),
        };
      },
    }, (p, s) => ex.ssdBackward(s.b, s.t, s.nh, s.hs, s.g, s.n, s.q, b01(s.dPerChannel), p.x, p.delta, p.A, p.B, p.C, p.D,
      p.chunkStates, p.dy, p.dhT, p.dx, p.ddelta, p.dA, p.dB, p.dC, p.dD, p.dh0, p.ws)),

    attentionForward: bind(refKernels.attentionForward, {
      args: ({ B, H, Tq, Tk, D }, q, k, v, y, lse) => ({
        q: input(q, B * Tq * H * D), k: input(k, B * Tk * H * D), v: input(v, B * Tk * H * D),
        y: output(y, B * Tq * H * D), lse: output(lse, B * H * Tq), ws: scratch(ex.attentionScratch(Tk, 0)),
      }),
    }, (p, s) => ex.attentionForward(s.B, s.H, s.Tq, s.Tk, s.D, s.scale, p.q, p.k, p.v, p.y, p.lse, p.ws)),

    attentionBackward: bind(refKernels.attentionBackward, {
      args: ({ B, H, Tq, Tk, D }, q, k, v, lse, dy, dq, dk, dv) => ({
        q: input(q, B * Tq * H * D), k: input(k, B * Tk * H * D), v: input(v, B * Tk * H * D),
        lse: input(lse, B * H * Tq), dy: input(dy, B * Tq * H * D),
        // Every gradient is written.
        dq: output(dq, B * Tq * H * D), dk: output(dk, B * Tk * H * D), dv: output(dv, B * Tk * H * D),
        ws: scratch(ex.attentionScratch(Tk, 1)),
      }),
    }, (p, s) => ex.attentionBackward(s.B, s.H, s.Tq, s.Tk, s.D, s.scale, p.q, p.k, p.v, p.lse, p.dy, p.dq, p.dk, p.dv, p.ws)),
  };

  return {
    ...refKernels, ...fast, ...wasmStepKernels(ex, direct), name: 'wasm', variant: mod.variant, heap, pool,
    resident: (n) => heap.residentF32(n),
    setThreads: (n) => pool?.setThreads(n) ?? 1,
  };
}
