/**
 * Threads on shared memory: kernels split across a pool of workers, each running its own instance of this
 * module on the same memory. A job is cut into chunks (ranges of its independent units: columns, rows,
 * (sequence, head) blocks, vectors) that whoever is running claims one at a time — the calling thread
 * included — so a worker that is asleep, descheduled or busy elsewhere never holds up a job beyond a chunk
 * it has actually started (OpenMP's dynamic schedule). A round trip costs about a microsecond, so even the
 * per-step GEMMs of a recurrent loop are worth splitting when they are large enough (MIN_WORK).
 *
 * Control block: bytes 0–7 the job word (i64: generation << 32 | next chunk to claim), 8 workers online,
 * 12 op, 16 participants P (a job's cap on threads: ids 0 … P−1 may claim, so per-thread scratch sized for
 * maxThreads is never overrun), 20 chunks, 24 units, 28–123 arguments, 128 chunks done (its own line);
 * from byte 128 one 64-byte record per worker t ≥ 1: +0 its gemmPacked scratch, +4 its sleep flag, +8 a
 * test hold. Workers join by incrementing "online" and take that count as their id (1, 2, …).
 *
 * Publishing job g: the job word becomes (g, NOT_READY) first, then op, P, chunks and units, then (g, 0);
 * the arguments are written before any of this, while no job is in flight. A thread claims chunk c by a
 * compare-exchange of (g, c) → (g, c + 1) on the word it read, after reading P and chunks; that read is
 * valid exactly when the exchange succeeds (every store to the word is sequentially consistent, and the
 * word never returns to (g, c) once it has moved on — a generation repeats only after 2³² jobs). Having
 * claimed chunk c of job g, a thread reads op and arguments freely: job g cannot finish, and the next one
 * cannot be written, until this chunk adds itself to "done". So a worker that wakes late fails its
 * exchange and never runs a stale or newer job's chunk, and no chunk runs twice. The caller claims with a
 * plain fetch-add (only it publishes, so the generation cannot change under it), then waits until "done"
 * equals chunks — not for any particular worker. An idle worker spins (WORKER_SPINS), naps, then sleeps on
 * its flag; publishing wakes sleepers among ids 1 … P−1 (always for a large job, else once in WAKE_EVERY).
 *
 * Why not the earlier protocols: the first had one shared generation counter and notified "any T−1 sleepers"
 * for a job of T participants with a fixed share each, so a non-participant could take a participant's
 * wake-up and the job waited forever, and a non-participant that read "participants" after the next job
 * was published ran that job's share twice, driving "pending" below zero. The second had a go flag per
 * worker and waited for every participant to finish its fixed share: correct, but on a busy machine the
 * caller stalled for any worker that was descheduled or slow to wake (a 2-thread streaming step was often
 * slower than one thread). With claiming, nobody is required to take part: a wake-up that goes nowhere or
 * comes late costs parallelism, never progress (test/kernels/threads.test.ts: 1…64 threads over jobs of
 * every width, and jobs with a worker held mid-claim, asleep, or the caller held so workers must do all).
 *
 * Chunks never change an element's arithmetic: every op is cut at units each computed whole, by the same
 * operation sequence whichever thread runs it and however the units are grouped (sums across units go to
 * per-unit partials the caller adds in unit order), so results are bit-identical to one thread. Scratch is
 * indexed by the id of the thread running the chunk.
 *
 * Builds without the threads feature (own, non-shared memory) compile this to single-threaded calls.
 */
import { MR, gemmPacked as packedKernel, packB, packedBSize } from './gemm';
import { gemmNT as ntKernel } from './gemm-nt';
import {
  attentionBackwardBlocks, attentionDecodeBlocks, attentionDecodeScratch as attentionDecodeThreadScratch, attentionForwardBlocks,
  attentionScratch as attentionThreadScratch,
} from './attention';
import {
  selectiveScanAddPartials, selectiveScanBackwardRows, selectiveScanForwardBlocks, selectiveScanPartials, selectiveScanThreadScratch,
  addPartials, ssdBackwardUnits, ssdForwardUnits, ssdPartials, ssdSharedScratch, ssdThreadScratch,
} from './scan';
import { recurrentStepBlocks } from './recurrent-step';
import { GRU, GRU_GATES, LSTM, LSTM_GATES, RNN_GATES } from '../../src/kernels/recurrent-kinds';
import { adamUpdate as adamKernel } from './optim';
import { UNARY_GELU, UNARY_NEG, UNARY_RELU, UNARY_SOFTPLUS, unaryBackwardRange, unaryRange } from './pointwise';
import { binaryRange, reduceSumRange, reduceSumUnits } from './elementwise';
import { CONV_BLOCK, convStepUnits, gateSiluUnits, mambaDtUnits, mamba2StepHeads as ssdStepUnits, matmulCols, rwkv6StepHeads as wkv6StepUnits, rwkv7StepHeads as wkv7StepUnits } from './step-state';
import { wkv6BackwardHeads, wkv6ForwardBlocks, wkv7BackwardBlocks, wkv7ForwardBlocks, wkvThreadScratch } from './wkv';

const JOB: usize = 0, ONLINE: usize = 8, OP: usize = 12, PARTS: usize = 16, CHUNKS: usize = 20, UNITS: usize = 24, ARGS: usize = 28;
const DONE: usize = 128, WORKERS: usize = 128, STRIDE: usize = 64, SLEEP: usize = 4, HOLD: usize = 8;
/** The claim counter of a job being written: above any chunk count, so nobody claims from it. */
const NOT_READY: i64 = 0xffffffff;
const OP_NT = 1, OP_PACKED = 2, OP_STOP = 3, OP_WKV6F = 4, OP_WKV6B = 5, OP_WKV7F = 6, OP_WKV7B = 7, OP_ATTF = 8, OP_ATTB = 9, OP_SCANF = 10, OP_SCANB = 11,
  OP_SSDF = 12, OP_SSDB = 13, OP_UNARY = 14, OP_UNARYB = 15, OP_ADAM = 16, OP_BINARY = 17, OP_SUM = 18;
/** Their own range, tested first in `execute`: the recurrent step's job (blocks of hidden units), a streaming step's attention. */
const OP_RSTEP = 32, OP_ATTDEC = 33;
/** The fused streaming steps' per-stream parts (step-state.ts): tested after OP_RSTEP, before the others. */
const OP_STEP_MATMUL = 40, OP_STEP_WKV6 = 41, OP_STEP_WKV7 = 42, OP_STEP_SSD = 43, OP_STEP_CONV = 44, OP_STEP_DT = 45, OP_STEP_GATE = 46;
/** The pool's own test job (poolTestJob): each chunk counts itself. */
const OP_TEST = 50;
/**
 * Chunks per participant: enough that a worker arriving late still finds work, and that one descheduled
 * while holding a chunk holds up a small part of the job; few enough that claiming (one compare-exchange
 * on a shared line) and the per-chunk call stay small against the work.
 */
const CHUNKS_PER_THREAD: i32 = 4;
/**
 * Waking a sleeping worker costs the caller ~17 µs on this VM (the futex wake; measured with a worker asleep
 * before every job) and the worker arrives later still, so only a job of at least this many multiply-adds
 * (~150 µs of work on one thread) always wakes the sleepers; a smaller one wakes them once in WAKE_EVERY jobs,
 * so that a worker that fell asleep between two tokens of a stream rejoins it without the caller paying
 * the wake on every small job.
 */
const WAKE_MACS: f64 = 1048576;
const WAKE_EVERY: i32 = 16;
/** The work of the job `participants` last sized, and small jobs that found a sleeper and did not wake it. */
let jobMacs: f64 = 0;
let wakesSkipped: i32 = 0;
/** Multiply-adds per participant below which a GEMM is not split (a round trip is ~1 µs ≈ 20k MACs). */
let minWork: i32 = 65536;
let maxThreads: i32 = 1;
let CTRL: usize = 0;
/** 0 where the calling thread must not block (a browser's main thread): it then only spins. */
let mainMayWait: i32 = 1;
/** The last job generation this (main) instance published. */
let generation: u32 = 0;
/** Test hook (poolTestHold(0, …)): the caller claims no chunk, so the workers must run them all. */
let mainHold: i32 = 0;

/** Main instance: the control block (0 = no threads) and the most threads (including this one) to use. */
export function setThreadControl(ctrl: usize, threads: i32, minMacsPerThread: i32): void {
  CTRL = ctrl;
  maxThreads = max(1, threads);
  minWork = max(1, minMacsPerThread);
}

/** Main instance: whether this thread may sleep in `memory.atomic.wait32` (a browser main thread may not). */
export function setMainWait(allowed: i32): void {
  mainMayWait = allowed;
}

// @ts-ignore: decorator
@inline function f4(i: i32): usize { return <usize>i << 2; }
// @ts-ignore: decorator
@inline function arg(i: i32): i32 { return load<i32>(CTRL + ARGS + f4(i)); }
// @ts-ignore: decorator
@inline function setArg(i: i32, v: i32): void { store<i32>(CTRL + ARGS + f4(i), v); }
// @ts-ignore: decorator
@inline function argF(i: i32): f32 { return load<f32>(CTRL + ARGS + f4(i)); }
// @ts-ignore: decorator
@inline function setArgF(i: i32, v: f32): void { store<f32>(CTRL + ARGS + f4(i), v); }
// @ts-ignore: decorator
@inline function record(ctrl: usize, t: i32): usize { return ctrl + WORKERS + <usize>t * STRIDE; }

function participants(macs: f64): i32 {
  if (!ASC_FEATURE_THREADS || CTRL == 0 || maxThreads <= 1) return 1;
  const online = atomic.load<i32>(CTRL + ONLINE);
  jobMacs = macs;
  const byWork = <i32>min(<f64>maxThreads, max(1.0, Math.floor(macs / <f64>minWork)));
  return min(byWork, online + 1);
}

/** Argument i as an address. */
// @ts-ignore: decorator
@inline function ptr(i: i32): usize { return <usize>arg(i); }
/** First unit of chunk c of n over `units`: a fixed, balanced cut (chunk c is units·c/n … units·(c+1)/n). */
// @ts-ignore: decorator
@inline function cut(c: i32, n: i32, units: i32): i32 { return <i32>(<i64>units * <i64>c / <i64>n); }

/**
 * Chunk c of the published job, run by thread `id` (its scratch: `scratch` for gemmPacked, share `id` of
 * the op's per-thread scratch). Units are the op's indivisible pieces: 8 columns of A·Bᵀ, MR rows of a
 * packed GEMM, 16 columns of a step's matmul, 4 values of an elementwise op, or a block/unit.
 */
function execute(c: i32, id: i32, scratch: usize): void {
  const op = load<i32>(CTRL + OP), n = load<i32>(CTRL + CHUNKS), units = load<i32>(CTRL + UNITS);
  const u0 = cut(c, n, units), u1 = cut(c + 1, n, units);
  if (u0 >= u1) return;
  if (op == OP_RSTEP) {
    recurrentStepBlocks(arg(13), u0, u1, arg(1), arg(2), arg(3), ptr(4), ptr(5), ptr(6), ptr(7), ptr(8), ptr(9), ptr(10), ptr(11), ptr(12));
    return;
  }
  if (op == OP_TEST) { executeTest(u0, u1, id, ptr(1), ptr(2), arg(3)); return; }
  if (op >= OP_STEP_MATMUL) { executeStep(op, u0, u1); return; }
  if (op == OP_BINARY || op == OP_SUM) { executeElementwise(op, u0, u1); return; }
  if (op == OP_ATTDEC) {
    attentionDecodeBlocks(u0, u1, arg(1), arg(2), arg(3), argF(4), ptr(5), arg(6), ptr(7), ptr(8), arg(9), ptr(10),
      ptr(11) + <usize>id * attentionDecodeThreadScratch(arg(1), arg(2)));
    return;
  }
  if (op >= OP_UNARY) { executeRange(op, u0, u1); return; }
  if (op >= OP_WKV6F) { executeBlocks(op, u0, u1, units, id); return; }
  if (op == OP_NT) {
    const m = arg(0), n = arg(1), k = arg(2), A = <usize>arg(3), lda = arg(4), B = <usize>arg(5), ldb = arg(6);
    const C = <usize>arg(7), ldc = arg(8), acc = arg(9) != 0;
    const j0 = u0 << 3, j1 = min(n, u1 << 3);
    ntKernel(m, j1 - j0, k, A, lda, B + f4(j0 * ldb), ldb, C + f4(j0), ldc, acc);
  } else if (op == OP_PACKED) {
    const m = arg(0), n = arg(1), k = arg(2), A = <usize>arg(3), rsA = arg(4), csA = arg(5), pB = <usize>arg(6);
    const C = <usize>arg(7), ldc = arg(8), acc = arg(9) != 0;
    const i0 = u0 * MR, i1 = min(m, u1 * MR);
    packedKernel(i1 - i0, n, k, A + f4(i0 * rsA), rsA, csA, pB, C + f4(i0 * ldc), ldc, acc, scratch);
  }
}

/**
 * The sequence kernels' units u0 … u1−1 (a (sequence, head) block, or for RWKV-6's backward a head of
 * every sequence), each computed whole in the single-threaded order. A backward's scratch is one
 * wkvThreadScratch per thread that may join, share `id` for this one.
 */
function executeBlocks(op: i32, u0: i32, u1: i32, units: i32, id: i32): void {
  if (op == OP_WKV6F) {
    wkv6ForwardBlocks(u0, u1, arg(1), arg(2), arg(3), ptr(4), ptr(5), ptr(6), ptr(7), ptr(8), ptr(9), ptr(10), ptr(11), ptr(12));
  } else if (op == OP_WKV7F) {
    wkv7ForwardBlocks(u0, u1, arg(1), arg(2), arg(3), ptr(4), ptr(5), ptr(6), ptr(7), ptr(8), ptr(9), ptr(10), ptr(11), ptr(12), ptr(13));
  } else if (op == OP_WKV6B) {
    const ws = ptr(19) + <usize>id * wkvThreadScratch(arg(4));
    wkv6BackwardHeads(u0, u1, arg(1), arg(2), arg(3), arg(4), ptr(5), ptr(6), ptr(7), ptr(8), ptr(9), ptr(10), ptr(11), ptr(12),
      ptr(13), ptr(14), ptr(15), ptr(16), ptr(17), ptr(18), ws);
  } else if (op == OP_WKV7B) {
    const ws = ptr(20) + <usize>id * wkvThreadScratch(arg(3));
    wkv7BackwardBlocks(u0, u1, arg(1), arg(2), arg(3), ptr(4), ptr(5), ptr(6), ptr(7), ptr(8), ptr(9), ptr(10), ptr(11), ptr(12),
      ptr(13), ptr(14), ptr(15), ptr(16), ptr(17), ptr(18), ptr(19), ws);
  } else if (op == OP_ATTF) {
    const ws = ptr(11) + <usize>id * attentionThreadScratch(arg(3), 0);
    attentionForwardBlocks(u0, u1, arg(1), arg(2), arg(3), arg(4), argF(5), ptr(6), ptr(7), ptr(8), ptr(9), ptr(10), ws);
  } else if (op == OP_ATTB) {
    const ws = ptr(14) + <usize>id * attentionThreadScratch(arg(3), 1);
    attentionBackwardBlocks(u0, u1, arg(1), arg(2), arg(3), arg(4), argF(5), ptr(6), ptr(7), ptr(8), ptr(9), ptr(10), ptr(11),
      ptr(12), ptr(13), ws);
  } else if (op == OP_SCANF) {
    selectiveScanForwardBlocks(u0, u1, arg(1), arg(2), arg(3), ptr(4), ptr(5), ptr(6), ptr(7), ptr(8), ptr(9), ptr(10), ptr(11), ptr(12));
  } else if (op == OP_SCANB) {
    const ws = ptr(20) + <usize>id * selectiveScanThreadScratch(arg(2), arg(3));
    selectiveScanBackwardRows(u0, u1, units, arg(1), arg(2), arg(3), ptr(4), ptr(5), ptr(6), ptr(7), ptr(8), ptr(9), ptr(10), ptr(11),
      ptr(12), ptr(13), ptr(14), ptr(15), ptr(16), ptr(17), ptr(18), ptr(19), ws);
  } else if (op == OP_SSDF) {
    const ws = ptr(17) + <usize>id * ssdThreadScratch(arg(3), arg(5), arg(6));
    ssdForwardUnits(u0, u1, arg(1), arg(2), arg(3), arg(4), arg(5), arg(6), arg(7) != 0, ptr(8), ptr(9), ptr(10), ptr(11), ptr(12), ptr(13),
      ptr(14), ptr(15), ptr(16), ws);
  } else if (op == OP_SSDB) {
    const ws = ptr(23) + <usize>id * ssdThreadScratch(arg(3), arg(5), arg(6));
    ssdBackwardUnits(u0, u1, arg(1), arg(2), arg(3), arg(4), arg(5), arg(6), arg(7) != 0, ptr(8), ptr(9), ptr(10), ptr(11), ptr(12), ptr(13),
      ptr(14), ptr(15), ptr(16), ptr(17), ptr(18), ptr(19), ptr(20), ptr(21), arg(22), ws);
  }
}

/** The streaming steps' units u0 … u1−1: blocks of 16 output columns, or (stream, head) units. */
function executeStep(op: i32, u0: i32, u1: i32): void {
  if (op == OP_STEP_MATMUL) {
    const outF = arg(2), j0 = u0 << 4, j1 = min(outF, u1 << 4);
    matmulCols(arg(0), arg(1), outF, ptr(3), arg(4), ptr(5), ptr(6), j0, j1);
  } else if (op == OP_STEP_WKV6) {
    wkv6StepUnits(u0, u1, arg(1), arg(2), ptr(3), ptr(4), ptr(5), ptr(6), ptr(7), ptr(8), ptr(9), ptr(10), ptr(11), ptr(12), ptr(13),
      ptr(14), ptr(15));
  } else if (op == OP_STEP_WKV7) {
    wkv7StepUnits(u0, u1, arg(1), arg(2), ptr(3), ptr(4), ptr(5), ptr(6), ptr(7), ptr(8), ptr(9), ptr(10), ptr(11), ptr(12), ptr(13),
      ptr(14), ptr(15), ptr(16), ptr(17), ptr(18), ptr(19), ptr(20));
  } else if (op == OP_STEP_SSD) {
    ssdStepUnits(u0, u1, arg(1), arg(2), arg(3), arg(4), arg(5), arg(6) != 0, ptr(7), ptr(8), ptr(9), ptr(10), ptr(11), ptr(12), ptr(13));
  } else if (op == OP_STEP_CONV) {
    convStepUnits(u0, u1, arg(1), arg(2), ptr(3), ptr(4), ptr(5), ptr(6), arg(7), ptr(8));
  } else if (op == OP_STEP_DT) {
    mambaDtUnits(u0, u1, arg(1), arg(2), arg(3), ptr(4), arg(5), ptr(6), ptr(7), ptr(8));
  } else if (op == OP_STEP_GATE) {
    gateSiluUnits(u0, u1, arg(1), ptr(2), ptr(3), arg(4));
  }
}

/** An elementwise job's units u0 … u1−1, each 4 values (one vector): values 4·u0 … min(n, 4·u1). */
function executeRange(op: i32, u0: i32, u1: i32): void {
  const n = arg(1), i0 = u0 << 2, i1 = min(n, u1 << 2);
  if (op == OP_UNARY) unaryRange(arg(0), ptr(2), ptr(3), i0, i1);
  else if (op == OP_UNARYB) unaryBackwardRange(arg(0), ptr(2), ptr(3), ptr(4), i0, i1);
  else {
    const o = f4(i0), vmax = ptr(6);
    adamKernel(ptr(2) + o, ptr(3) + o, ptr(4) + o, ptr(5) + o, vmax != 0 ? vmax + o : 0, i1 - i0,
      argF(7), argF(8), argF(9), argF(10), argF(11), argF(12), arg(13) != 0, argF(14));
  }
}

/** Rough multiply-adds per element of pointwise.ts's functions (an exp, plus a polynomial for softplus and GELU). */
function unaryCost(op: i32): f64 {
  if (op == UNARY_RELU || op == UNARY_NEG) return 1;
  return op == UNARY_GELU || op == UNARY_SOFTPLUS ? 8 : 4;
}

/** Units u0 … u1−1 of a broadcast binary op (4 output values each, so a range may start mid-row) or of a reduceSum. */
function executeElementwise(op: i32, u0: i32, u1: i32): void {
  if (op == OP_BINARY) {
    const n = arg(1), i0 = u0 << 2, i1 = min(n, u1 << 2);
    binaryRange(arg(0), i0, i1, arg(2), arg(3), arg(4), ptr(5), arg(6), arg(7), arg(8), arg(9), ptr(10), arg(11), arg(12), arg(13), arg(14), ptr(15));
  } else {
    reduceSumRange(u0, u1, ptr(1), ptr(2), arg(3), arg(4));
  }
}

/** The test job's units u0 … u1−1: count each, record who ran it, then spin `spin` polls (so that chunks overlap). */
function executeTest(u0: i32, u1: i32, id: i32, counts: usize, who: usize, spin: i32): void {
  if (!ASC_FEATURE_THREADS) {
    for (let u = u0; u < u1; u++) { store<i32>(counts + f4(u), load<i32>(counts + f4(u)) + 1); store<i32>(who + f4(u), id); }
    return;
  }
  for (let u = u0; u < u1; u++) {
    atomic.add<i32>(counts + f4(u), 1);
    atomic.store<i32>(who + f4(u), id);
  }
  for (let i = 0; i < spin; i++) atomic.load<i32>(counts);
}

/**
 * out = a ∘ b with broadcasting (elementwise.ts: the output contiguous [n0, n1, n2, n3] of n values, a and b
 * read with the given element strides), split into ranges of the output across the pool when large enough.
 */
export function binaryF32(op: i32, n: i32, n1: i32, n2: i32, n3: i32, a: usize, as0: i32, as1: i32, as2: i32, as3: i32,
  b: usize, bs0: i32, bs1: i32, bs2: i32, bs3: i32, out: usize): void {
  // Memory-bound, and the caller's copies in and out take most of a call: split only large ones.
  const T = participants(0.25 * <f64>n);
  if (T <= 1) { binaryRange(op, 0, n, n1, n2, n3, a, as0, as1, as2, as3, b, bs0, bs1, bs2, bs3, out); return; }
  setArg(0, op); setArg(1, n); setArg(2, n1); setArg(3, n2); setArg(4, n3); setArg(5, <i32>a); setArg(6, as0); setArg(7, as1);
  setArg(8, as2); setArg(9, as3); setArg(10, <i32>b); setArg(11, bs0); setArg(12, bs1); setArg(13, bs2); setArg(14, bs3); setArg(15, <i32>out);
  runJob(OP_BINARY, T, (n + 3) >> 2, 0);
}

/** out[o, i] = Σ_d x[o, d, i] in float64 (elementwise.ts), split into units (rows, or 16 columns of one row) across the pool. */
export function reduceSumF32(x: usize, out: usize, outer: i32, dim: i32, inner: i32): void {
  const units = reduceSumUnits(outer, inner);
  const T = blockParticipants(units, 0.5 * <f64>outer * <f64>dim * <f64>inner);
  if (T <= 1) { reduceSumRange(0, units, x, out, dim, inner); return; }
  setArg(0, units); setArg(1, <i32>x); setArg(2, <i32>out); setArg(3, dim); setArg(4, inner);
  runJob(OP_SUM, T, units, 0);
}

/** out = f(x) over n values (pointwise.ts), split into ranges across the pool when large enough. */
export function unaryF32(op: i32, x: usize, out: usize, n: i32): void {
  const T = participants(unaryCost(op) * <f64>n);
  if (T <= 1) { unaryRange(op, x, out, 0, n); return; }
  setArg(0, op); setArg(1, n); setArg(2, <i32>x); setArg(3, <i32>out);
  runJob(OP_UNARY, T, (n + 3) >> 2, 0);
}

/** dx = dy ⊙ f'(x) over n values (pointwise.ts; `x` is y for exp, tanh and sigmoid), split like unaryF32. */
export function unaryBackwardF32(op: i32, x: usize, dy: usize, dx: usize, n: i32): void {
  const T = participants(2.0 * unaryCost(op) * <f64>n);
  if (T <= 1) { unaryBackwardRange(op, x, dy, dx, 0, n); return; }
  setArg(0, op); setArg(1, n); setArg(2, <i32>x); setArg(3, <i32>dy); setArg(4, <i32>dx);
  runJob(OP_UNARYB, T, (n + 3) >> 2, 0);
}

/** Adam / AdamW in place over n parameters (optim.ts), split into ranges like unaryF32 (each value's formula is the same in any range). */
export function adamUpdate(p: usize, g: usize, m: usize, v: usize, vmax: usize, n: i32,
  stepSize: f32, beta1: f32, beta2: f32, eps: f32, bc2Sqrt: f32, wd: f32, decoupled: bool, decay: f32): void {
  const T = participants(12.0 * <f64>n);
  if (T <= 1) { adamKernel(p, g, m, v, vmax, n, stepSize, beta1, beta2, eps, bc2Sqrt, wd, decoupled, decay); return; }
  setArg(1, n); setArg(2, <i32>p); setArg(3, <i32>g); setArg(4, <i32>m); setArg(5, <i32>v); setArg(6, <i32>vmax);
  setArgF(7, stepSize); setArgF(8, beta1); setArgF(9, beta2); setArgF(10, eps); setArgF(11, bc2Sqrt); setArgF(12, wd);
  setArg(13, decoupled ? 1 : 0); setArgF(14, decay);
  runJob(OP_ADAM, T, (n + 3) >> 2, 0);
}

/** Participants for `units` independent blocks of `macs` multiply-adds in all. */
function blockParticipants(units: i32, macs: f64): i32 {
  return min(units, participants(macs));
}

/**
 * Publish a job of `units` units to threads 0 … P−1 (the header has the protocol), claim chunks here until
 * none is left, then wait until every claimed chunk is done. `scratch`: this thread's gemmPacked scratch.
 */
function runJob(op: i32, P: i32, units: i32, scratch: usize): void {
  if (ASC_FEATURE_THREADS) {
    const n = min(units, P * CHUNKS_PER_THREAD), g = <i64>(++generation) << 32;
    atomic.store<i64>(CTRL + JOB, g | NOT_READY);
    atomic.store<i32>(CTRL + OP, op);
    atomic.store<i32>(CTRL + PARTS, P);
    atomic.store<i32>(CTRL + CHUNKS, n);
    atomic.store<i32>(CTRL + UNITS, units);
    atomic.store<i32>(CTRL + DONE, 0);
    atomic.store<i64>(CTRL + JOB, g);
    // Wake the participants that went to sleep (each raised its flag before looking at the job word once
    // more): always for a large job or when the caller leaves every chunk to them, else once in WAKE_EVERY.
    const always = jobMacs >= WAKE_MACS || mainHold != 0;
    for (let t = 1; t < P; t++) {
      const flag = record(CTRL, t) + SLEEP;
      if (atomic.load<i32>(flag) != 0) {
        if (!always && ++wakesSkipped < WAKE_EVERY) break;
        wakesSkipped = 0;
        atomic.store<i32>(flag, 0);
        atomic.notify(flag, 1);
      }
    }
    if (mainHold == 0) {
      for (;;) {
        const c = <i32>(atomic.add<i64>(CTRL + JOB, 1) & 0xffffffff);
        if (c >= n) break;
        execute(c, 0, scratch);
        atomic.add<i32>(CTRL + DONE, 1);
      }
    }
    let spins = 0;
    for (;;) {
      const d = atomic.load<i32>(CTRL + DONE);
      if (d == n) break;
      if (++spins > 20000 && mainMayWait != 0) memory.atomic.wait32(CTRL + DONE, d, 1000000); // 1 ms, then look again
    }
  }
}

/** C (+)= A · Bᵀ (gemm-nt.ts), split by columns across the pool when large enough. */
export function gemmNT(m: i32, n: i32, k: i32, A: usize, lda: i32, B: usize, ldb: i32, C: usize, ldc: i32, accumulate: bool): void {
  const T = participants(<f64>m * <f64>n * <f64>k);
  if (T <= 1) { ntKernel(m, n, k, A, lda, B, ldb, C, ldc, accumulate); return; }
  setArg(0, m); setArg(1, n); setArg(2, k); setArg(3, <i32>A); setArg(4, lda); setArg(5, <i32>B); setArg(6, ldb);
  setArg(7, <i32>C); setArg(8, ldc); setArg(9, accumulate ? 1 : 0);
  runJob(OP_NT, T, (n + 7) >> 3, 0);
}

/** C (+)= op(A) · packed B (gemm.ts), split by rows across the pool when large enough. */
export function gemmPacked(m: i32, n: i32, k: i32, A: usize, rsA: i32, csA: i32, pB: usize, C: usize, ldc: i32,
  accumulate: bool, scratch: usize): void {
  const T = participants(<f64>m * <f64>n * <f64>k);
  if (T <= 1 || m < 2 * MR) { packedKernel(m, n, k, A, rsA, csA, pB, C, ldc, accumulate, scratch); return; }
  setArg(0, m); setArg(1, n); setArg(2, k); setArg(3, <i32>A); setArg(4, rsA); setArg(5, csA); setArg(6, <i32>pB);
  setArg(7, <i32>C); setArg(8, ldc); setArg(9, accumulate ? 1 : 0);
  runJob(OP_PACKED, T, (m + MR - 1) / MR, scratch);
}

/** C[m × n] (+)= op(A) · op(B): pack B here, then the split packed product. `scratch`: gemmScratch(k, n). */
export function gemm(m: i32, n: i32, k: i32, A: usize, rsA: i32, csA: i32, B: usize, rsB: i32, csB: i32,
  C: usize, ldc: i32, accumulate: bool, scratch: usize): void {
  if (m <= 0 || n <= 0) return;
  if (k > 0) packB(k, n, B, rsB, csB, scratch);
  gemmPacked(m, n, k, A, rsA, csA, scratch, C, ldc, accumulate, scratch + (<usize>packedBSize(k, n) << 2));
}

// ---------------------------------------------------------------- the fused streaming steps' per-stream parts (step-state.ts)

/** y[b, outF] = x[b, inF] · W, W stored [in, out], rows of x ldx apart: split by blocks of 16 output columns. */
export function matmulStrided(b: i32, inF: i32, outF: i32, x: usize, ldx: i32, W: usize, y: usize): void {
  const T = min((outF + 15) >> 4, participants(<f64>b * <f64>inF * <f64>outF));
  if (T <= 1) { matmulCols(b, inF, outF, x, ldx, W, y, 0, outF); return; }
  setArg(0, b); setArg(1, inF); setArg(2, outF); setArg(3, <i32>x); setArg(4, ldx); setArg(5, <i32>W); setArg(6, <i32>y);
  runJob(OP_STEP_MATMUL, T, (outF + 15) >> 4, 0);
}

/** RWKV-6's step, per (stream, head) of b streams: the WKV update, ln_x and the gate (step-state.ts). */
export function rwkv6StepHeads(b: i32, nh: i32, hs: i32, r: usize, kv: usize, v: usize, dec: usize, u: usize,
  wkv: usize, y: usize, lnxw: usize, lnxb: usize, g: usize, tmp: usize, mean: usize, rstd: usize): void {
  const units = b * nh, P = blockParticipants(units, 3.0 * <f64>units * <f64>hs * <f64>hs);
  if (P <= 1) { wkv6StepUnits(0, units, nh, hs, r, kv, v, dec, u, wkv, y, lnxw, lnxb, g, tmp, mean, rstd); return; }
  setArg(0, units); setArg(1, nh); setArg(2, hs); setArg(3, <i32>r); setArg(4, <i32>kv); setArg(5, <i32>v); setArg(6, <i32>dec);
  setArg(7, <i32>u); setArg(8, <i32>wkv); setArg(9, <i32>y); setArg(10, <i32>lnxw); setArg(11, <i32>lnxb); setArg(12, <i32>g);
  setArg(13, <i32>tmp); setArg(14, <i32>mean); setArg(15, <i32>rstd);
  runJob(OP_STEP_WKV6, P, units, 0);
}

/** RWKV-7's step, per (stream, head) of b streams: k̂, the WKV update, ln_x, the bonus and the gate (step-state.ts). */
export function rwkv7StepHeads(b: i32, nh: i32, hs: i32, kK: usize, kA: usize, rK: usize, aa: usize, r: usize,
  kv: usize, v: usize, dec: usize, nk: usize, bk: usize, wkv: usize, y: usize, lnxw: usize, lnxb: usize, g: usize,
  tmp: usize, mean: usize, rstd: usize): void {
  const units = b * nh, P = blockParticipants(units, 4.0 * <f64>units * <f64>hs * <f64>hs);
  if (P <= 1) { wkv7StepUnits(0, units, nh, hs, kK, kA, rK, aa, r, kv, v, dec, nk, bk, wkv, y, lnxw, lnxb, g, tmp, mean, rstd); return; }
  setArg(0, units); setArg(1, nh); setArg(2, hs); setArg(3, <i32>kK); setArg(4, <i32>kA); setArg(5, <i32>rK); setArg(6, <i32>aa);
  setArg(7, <i32>r); setArg(8, <i32>kv); setArg(9, <i32>v); setArg(10, <i32>dec); setArg(11, <i32>nk); setArg(12, <i32>bk);
  setArg(13, <i32>wkv); setArg(14, <i32>y); setArg(15, <i32>lnxw); setArg(16, <i32>lnxb); setArg(17, <i32>g); setArg(18, <i32>tmp);
  setArg(19, <i32>mean); setArg(20, <i32>rstd);
  runJob(OP_STEP_WKV7, P, units, 0);
}

/** Mamba-2's step, per (stream, head) of b streams: the SSD recurrent update (step-state.ts). */
export function mamba2StepHeads(b: i32, nh: i32, hs: i32, g: i32, n: i32, rows: i32, dPerChannel: bool,
  zx: usize, xBC: usize, dtBias: usize, A: usize, D: usize, ssm: usize, y: usize): void {
  const units = b * nh, P = blockParticipants(units, 3.0 * <f64>units * <f64>hs * <f64>n);
  if (P <= 1) { ssdStepUnits(0, units, nh, hs, g, n, rows, dPerChannel, zx, xBC, dtBias, A, D, ssm, y); return; }
  setArg(0, units); setArg(1, nh); setArg(2, hs); setArg(3, g); setArg(4, n); setArg(5, rows); setArg(6, dPerChannel ? 1 : 0);
  setArg(7, <i32>zx); setArg(8, <i32>xBC); setArg(9, <i32>dtBias); setArg(10, <i32>A); setArg(11, <i32>D); setArg(12, <i32>ssm);
  setArg(13, <i32>y);
  runJob(OP_STEP_SSD, P, units, 0);
}

/** Mamba's conv window for one token, then SiLU, per (stream, 16 channels) of b streams of c channels (step-state.ts). */
export function convStep(b: i32, c: i32, k: i32, conv: usize, convW: usize, convB: usize, xin: usize, ldin: i32, out: usize): void {
  const units = b * ((c + CONV_BLOCK - 1) / CONV_BLOCK);
  // ~k multiply-adds and a sigmoid (≈ 12) per channel, counted as MACs for the split's threshold
  const P = blockParticipants(units, <f64>b * <f64>c * <f64>(k + 12));
  if (P <= 1) { convStepUnits(0, units, c, k, conv, convW, convB, xin, ldin, out); return; }
  setArg(1, c); setArg(2, k); setArg(3, <i32>conv); setArg(4, <i32>convW); setArg(5, <i32>convB); setArg(6, <i32>xin);
  setArg(7, ldin); setArg(8, <i32>out);
  runJob(OP_STEP_CONV, P, units, 0);
}

/** Mamba-1's Δ = softplus(dt_proj δ + bias) for b streams, split by blocks of 8 channels (step-state.ts). */
export function mambaDt(b: i32, di: i32, r: i32, xdbl: usize, e: i32, dtProj: usize, dtB: usize, dt: usize): void {
  const units = (di + 7) >> 3;
  // the product's multiply-adds and ~16 per softplus
  const P = blockParticipants(units, <f64>b * <f64>di * <f64>(r + 16));
  if (P <= 1) { mambaDtUnits(0, units, b, di, r, xdbl, e, dtProj, dtB, dt); return; }
  setArg(1, b); setArg(2, di); setArg(3, r); setArg(4, <i32>xdbl); setArg(5, e); setArg(6, <i32>dtProj); setArg(7, <i32>dtB); setArg(8, <i32>dt);
  runJob(OP_STEP_DT, P, units, 0);
}

/** Mamba-1's gate y ← y ⊙ SiLU(z) for b streams of c channels, per (stream, 16 channels) (step-state.ts). */
export function gateSilu(b: i32, c: i32, y: usize, z: usize, ldz: i32): void {
  const units = b * ((c + CONV_BLOCK - 1) / CONV_BLOCK);
  const P = blockParticipants(units, 12.0 * <f64>b * <f64>c); // a sigmoid ≈ 12 multiply-adds
  if (P <= 1) { gateSiluUnits(0, units, c, y, z, ldz); return; }
  setArg(1, c); setArg(2, <i32>y); setArg(3, <i32>z); setArg(4, ldz);
  runJob(OP_STEP_GATE, P, units, 0);
}

// ---------------------------------------------------------------- WKV (wkv.ts), split over (sequence, head) blocks

/** Bytes of scratch wkv6Backward / wkv7Backward need: one thread's share for each thread that may join. */
export function wkvBackwardScratch(N: i32): usize {
  return wkvThreadScratch(N) * <usize>max(1, maxThreads);
}

export function wkv6Forward(B: i32, T: i32, H: i32, N: i32, r: usize, k: usize, v: usize, w: usize, u: usize,
  s0: usize, y: usize, sT: usize, states: usize): void {
  const P = blockParticipants(B * H, 3.0 * <f64>B * <f64>H * <f64>T * <f64>N * <f64>N);
  if (P <= 1) { wkv6ForwardBlocks(0, B * H, T, H, N, r, k, v, w, u, s0, y, sT, states); return; }
  setArg(0, B * H); setArg(1, T); setArg(2, H); setArg(3, N); setArg(4, <i32>r); setArg(5, <i32>k); setArg(6, <i32>v);
  setArg(7, <i32>w); setArg(8, <i32>u); setArg(9, <i32>s0); setArg(10, <i32>y); setArg(11, <i32>sT); setArg(12, <i32>states);
  runJob(OP_WKV6F, P, B * H, 0);
}

export function wkv6Backward(B: i32, T: i32, H: i32, N: i32, r: usize, k: usize, v: usize, w: usize, u: usize,
  states: usize, dy: usize, dsT: usize, dr: usize, dk: usize, dv: usize, dw: usize, du: usize, ds0: usize, ws: usize): void {
  const P = blockParticipants(H, 8.0 * <f64>B * <f64>H * <f64>T * <f64>N * <f64>N);
  if (P <= 1) { wkv6BackwardHeads(0, H, B, T, H, N, r, k, v, w, u, states, dy, dsT, dr, dk, dv, dw, du, ds0, ws); return; }
  setArg(0, H); setArg(1, B); setArg(2, T); setArg(3, H); setArg(4, N); setArg(5, <i32>r); setArg(6, <i32>k); setArg(7, <i32>v);
  setArg(8, <i32>w); setArg(9, <i32>u); setArg(10, <i32>states); setArg(11, <i32>dy); setArg(12, <i32>dsT); setArg(13, <i32>dr);
  setArg(14, <i32>dk); setArg(15, <i32>dv); setArg(16, <i32>dw); setArg(17, <i32>du); setArg(18, <i32>ds0); setArg(19, <i32>ws);
  runJob(OP_WKV6B, P, H, 0);
}

export function wkv7Forward(B: i32, T: i32, H: i32, N: i32, r: usize, w: usize, k: usize, v: usize, a: usize, bb: usize,
  s0: usize, y: usize, sT: usize, states: usize): void {
  const P = blockParticipants(B * H, 4.0 * <f64>B * <f64>H * <f64>T * <f64>N * <f64>N);
  if (P <= 1) { wkv7ForwardBlocks(0, B * H, T, H, N, r, w, k, v, a, bb, s0, y, sT, states); return; }
  setArg(0, B * H); setArg(1, T); setArg(2, H); setArg(3, N); setArg(4, <i32>r); setArg(5, <i32>w); setArg(6, <i32>k);
  setArg(7, <i32>v); setArg(8, <i32>a); setArg(9, <i32>bb); setArg(10, <i32>s0); setArg(11, <i32>y); setArg(12, <i32>sT);
  setArg(13, <i32>states);
  runJob(OP_WKV7F, P, B * H, 0);
}

export function wkv7Backward(B: i32, T: i32, H: i32, N: i32, r: usize, w: usize, k: usize, v: usize, a: usize, bb: usize,
  states: usize, dy: usize, dsT: usize, dr: usize, dw: usize, dk: usize, dv: usize, da: usize, db: usize, ds0: usize, ws: usize): void {
  const P = blockParticipants(B * H, 12.0 * <f64>B * <f64>H * <f64>T * <f64>N * <f64>N);
  if (P <= 1) { wkv7BackwardBlocks(0, B * H, T, H, N, r, w, k, v, a, bb, states, dy, dsT, dr, dw, dk, dv, da, db, ds0, ws); return; }
  setArg(0, B * H); setArg(1, T); setArg(2, H); setArg(3, N); setArg(4, <i32>r); setArg(5, <i32>w); setArg(6, <i32>k);
  setArg(7, <i32>v); setArg(8, <i32>a); setArg(9, <i32>bb); setArg(10, <i32>states); setArg(11, <i32>dy); setArg(12, <i32>dsT);
  setArg(13, <i32>dr); setArg(14, <i32>dw); setArg(15, <i32>dk); setArg(16, <i32>dv); setArg(17, <i32>da); setArg(18, <i32>db);
  setArg(19, <i32>ds0); setArg(20, <i32>ws);
  runJob(OP_WKV7B, P, B * H, 0);
}

// ---------------------------------------------------------------- causal attention (attention.ts), split over (batch, head) blocks

/** Bytes of scratch attentionForward (backward = 0) / attentionBackward need: one share per thread that may join. */
export function attentionScratch(Tk: i32, backward: i32): usize {
  return attentionThreadScratch(Tk, backward) * <usize>max(1, maxThreads);
}

/** Multiply-adds of all blocks: about Tq·Tk/2 score dots and as many weighted rows, each D long (× `passes`). */
function attentionMacs(B: i32, H: i32, Tq: i32, Tk: i32, D: i32, passes: f64): f64 {
  return passes * <f64>B * <f64>H * <f64>Tq * (<f64>Tk - 0.5 * <f64>Tq + 0.5) * <f64>D;
}

function publishAttention(B: i32, H: i32, Tq: i32, Tk: i32, D: i32, scale: f32, q: usize, k: usize, v: usize): void {
  setArg(0, B * H); setArg(1, H); setArg(2, Tq); setArg(3, Tk); setArg(4, D); setArgF(5, scale);
  setArg(6, <i32>q); setArg(7, <i32>k); setArg(8, <i32>v);
}

export function attentionForward(B: i32, H: i32, Tq: i32, Tk: i32, D: i32, scale: f32,
  q: usize, k: usize, v: usize, y: usize, lse: usize, ws: usize): void {
  const P = blockParticipants(B * H, attentionMacs(B, H, Tq, Tk, D, 2));
  if (P <= 1) { attentionForwardBlocks(0, B * H, H, Tq, Tk, D, scale, q, k, v, y, lse, ws); return; }
  publishAttention(B, H, Tq, Tk, D, scale, q, k, v);
  setArg(9, <i32>y); setArg(10, <i32>lse); setArg(11, <i32>ws);
  runJob(OP_ATTF, P, B * H, 0);
}

/** Bytes of scratch attentionDecode needs: one share per thread that may join. */
export function attentionDecodeScratch(H: i32, T: i32): usize {
  return attentionDecodeThreadScratch(H, T) * <usize>max(1, maxThreads);
}

/**
 * One query per stream over its KV cache (attention.ts's attentionDecodeBlocks: b streams, stream i's rows
 * at row i·cap of k and v), split over (stream, head) units across the pool when large enough. Every unit
 * is computed whole by one thread, so the result does not depend on the number of threads.
 */
export function attentionDecode(b: i32, H: i32, T: i32, D: i32, scale: f32, q: usize, ldq: i32, k: usize, v: usize, cap: i32,
  y: usize, ws: usize): void {
  const P = blockParticipants(b * H, 2 * <f64>b * <f64>H * <f64>T * <f64>D);
  if (P <= 1) { attentionDecodeBlocks(0, b * H, H, T, D, scale, q, ldq, k, v, cap, y, ws); return; }
  setArg(0, b * H); setArg(1, H); setArg(2, T); setArg(3, D); setArgF(4, scale); setArg(5, <i32>q); setArg(6, ldq);
  setArg(7, <i32>k); setArg(8, <i32>v); setArg(9, cap); setArg(10, <i32>y); setArg(11, <i32>ws);
  runJob(OP_ATTDEC, P, b * H, 0);
}

export function attentionBackward(B: i32, H: i32, Tq: i32, Tk: i32, D: i32, scale: f32,
  q: usize, k: usize, v: usize, lse: usize, dy: usize, dq: usize, dk: usize, dv: usize, ws: usize): void {
  memory.fill(dk, 0, <usize>(B * Tk * H * D) << 2);
  memory.fill(dv, 0, <usize>(B * Tk * H * D) << 2);
  const P = blockParticipants(B * H, attentionMacs(B, H, Tq, Tk, D, 5));
  if (P <= 1) { attentionBackwardBlocks(0, B * H, H, Tq, Tk, D, scale, q, k, v, lse, dy, dq, dk, dv, ws); return; }
  publishAttention(B, H, Tq, Tk, D, scale, q, k, v);
  setArg(9, <i32>lse); setArg(10, <i32>dy); setArg(11, <i32>dq); setArg(12, <i32>dk); setArg(13, <i32>dv); setArg(14, <i32>ws);
  runJob(OP_ATTB, P, B * H, 0);
}

// ---------------------------------------------------------------- Mamba-1 selective scan (scan.ts), forward split over (row, channel)

export function selectiveScanForward(b: i32, t: i32, di: i32, n: i32, x: usize, delta: usize, A: usize, B: usize,
  C: usize, D: usize, h0: usize, y: usize, hT: usize, hs: usize): void {
  if (hT != h0) memory.copy(hT, h0, <usize>(b * di * n) << 2); // hT is the running state h (a step passes h0 = hT)
  const P = blockParticipants(b * di, 4.0 * <f64>b * <f64>t * <f64>di * <f64>n);
  if (P <= 1) { selectiveScanForwardBlocks(0, b * di, t, di, n, x, delta, A, B, C, D, y, hT, hs); return; }
  setArg(0, b * di); setArg(1, t); setArg(2, di); setArg(3, n); setArg(4, <i32>x); setArg(5, <i32>delta); setArg(6, <i32>A);
  setArg(7, <i32>B); setArg(8, <i32>C); setArg(9, <i32>D); setArg(10, <i32>y); setArg(11, <i32>hT); setArg(12, <i32>hs);
  runJob(OP_SCANF, P, b * di, 0);
}

/** Bytes of scratch selectiveScanBackward needs: the row partials of dA and dD, then one share per thread that may join. */
export function selectiveScanBackwardScratch(b: i32, di: i32, n: i32): usize {
  return selectiveScanPartials(b, di, n) + selectiveScanThreadScratch(di, n) * <usize>max(1, maxThreads);
}

/** Backward over batch rows (scan.ts's selectiveScanBackwardRows); every gradient accumulates. */
export function selectiveScanBackward(b: i32, t: i32, di: i32, n: i32, x: usize, delta: usize, A: usize, B: usize,
  C: usize, D: usize, h0: usize, hs: usize, dy: usize, dhT: usize,
  dx: usize, ddelta: usize, dA: usize, dB: usize, dC: usize, dD: usize, dh0: usize, ws: usize): void {
  const part = ws, tws = ws + selectiveScanPartials(b, di, n);
  const P = blockParticipants(b, 10.0 * <f64>b * <f64>t * <f64>di * <f64>n);
  if (P <= 1) {
    selectiveScanBackwardRows(0, b, b, t, di, n, x, delta, A, B, C, D, h0, hs, dy, dhT, dx, ddelta, dB, dC, dh0, part, tws);
  } else {
    setArg(0, b); setArg(1, t); setArg(2, di); setArg(3, n); setArg(4, <i32>x); setArg(5, <i32>delta); setArg(6, <i32>A);
    setArg(7, <i32>B); setArg(8, <i32>C); setArg(9, <i32>D); setArg(10, <i32>h0); setArg(11, <i32>hs); setArg(12, <i32>dy);
    setArg(13, <i32>dhT); setArg(14, <i32>dx); setArg(15, <i32>ddelta); setArg(16, <i32>dB); setArg(17, <i32>dC);
    setArg(18, <i32>dh0); setArg(19, <i32>part); setArg(20, <i32>tws);
    runJob(OP_SCANB, P, b, 0);
  }
  selectiveScanAddPartials(b, di, n, dA, dD, part);
}

// ---------------------------------------------------------------- RNN/LSTM/GRU streaming step (recurrent-step.ts), split over blocks of hidden units

/**
 * One timestep of an RNN, LSTM or reset-after GRU layer without projection (H a multiple of 4; the caller
 * checks), the state advanced in place: h [N, H] (and c [N, H] for an LSTM) read, y [N, H] written, then h ← y
 * once every block has read h. Both products and the cell in one job, so a step costs one round trip however
 * it is split. `ws`: recurrentStepScratch(kind, N, H).
 */
export function recurrentStep(kind: i32, N: i32, I: i32, H: i32, x: usize, wih: usize, whh: usize, bih: usize, bhh: usize,
  h: usize, c: usize, y: usize, ws: usize): void {
  const gates = (ws + 63) & ~63, units = H >> 2;
  const G = kind == LSTM ? LSTM_GATES : kind == GRU ? GRU_GATES : RNN_GATES;
  const P = blockParticipants(units, <f64>N * <f64>G * <f64>H * <f64>(I + H));
  if (P <= 1) recurrentStepBlocks(kind, 0, units, N, I, H, x, wih, whh, bih, bhh, h, c, y, gates);
  else {
    setArg(0, units); setArg(1, N); setArg(2, I); setArg(3, H); setArg(4, <i32>x); setArg(5, <i32>wih); setArg(6, <i32>whh);
    setArg(7, <i32>bih); setArg(8, <i32>bhh); setArg(9, <i32>h); setArg(10, <i32>c); setArg(11, <i32>y); setArg(12, <i32>gates);
    setArg(13, kind);
    runJob(OP_RSTEP, P, units, 0);
  }
  memory.copy(h, y, <usize>(N * H) << 2);
}

// ---------------------------------------------------------------- Mamba-2 SSD (scan.ts), split over (batch row, group) units

/** Bytes of scratch ssdForward / ssdBackward need: the backward's shared part, then one share per thread that may join. */
export function ssdScratch(b: i32, nh: i32, hs: i32, n: i32, q: i32, g: i32, nD: i32): usize {
  return ssdSharedScratch(b, nh, hs, n, g, nD) + ssdThreadScratch(hs, n, q) * <usize>max(1, maxThreads);
}

/** Multiply-adds of the chunked SSD over all units, per pass: about t·nh·hs·(q/2 + 2n) (ref's four terms). */
function ssdMacs(b: i32, t: i32, nh: i32, hs: i32, n: i32, q: i32): f64 {
  return <f64>b * <f64>t * <f64>nh * <f64>hs * (0.5 * <f64>q + 2.0 * <f64>n);
}

function publishSSD(b: i32, t: i32, nh: i32, hs: i32, g: i32, n: i32, q: i32, dPerChannel: bool,
  x: usize, delta: usize, A: usize, B: usize, C: usize, D: usize): void {
  setArg(0, b * g); setArg(1, t); setArg(2, nh); setArg(3, hs); setArg(4, g); setArg(5, n); setArg(6, q); setArg(7, dPerChannel ? 1 : 0);
  setArg(8, <i32>x); setArg(9, <i32>delta); setArg(10, <i32>A); setArg(11, <i32>B); setArg(12, <i32>C); setArg(13, <i32>D);
}

export function ssdForward(b: i32, t: i32, nh: i32, hs: i32, g: i32, n: i32, q: i32, dPerChannel: bool,
  x: usize, delta: usize, A: usize, B: usize, C: usize, D: usize, h0: usize, y: usize, hT: usize, chunkStates: usize, ws: usize): void {
  memory.copy(hT, h0, <usize>(b * nh * hs * n) << 2); // hT is the running state S
  const nD = dPerChannel ? nh * hs : nh, tws = ws + ssdSharedScratch(b, nh, hs, n, g, nD);
  const P = blockParticipants(b * g, ssdMacs(b, t, nh, hs, n, q));
  if (P <= 1) { ssdForwardUnits(0, b * g, t, nh, hs, g, n, q, dPerChannel, x, delta, A, B, C, D, y, hT, chunkStates, tws); return; }
  publishSSD(b, t, nh, hs, g, n, q, dPerChannel, x, delta, A, B, C, D);
  setArg(14, <i32>y); setArg(15, <i32>hT); setArg(16, <i32>chunkStates); setArg(17, <i32>tws);
  runJob(OP_SSDF, P, b * g, 0);
}

export function ssdBackward(b: i32, t: i32, nh: i32, hs: i32, g: i32, n: i32, q: i32, dPerChannel: bool,
  x: usize, delta: usize, A: usize, B: usize, C: usize, D: usize, chunkStates: usize, dy: usize, dhT: usize,
  dx: usize, ddelta: usize, dA: usize, dB: usize, dC: usize, dD: usize, dh0: usize, ws: usize): void {
  const nD = dPerChannel ? nh * hs : nh, total = b * nh * hs * n;
  const dS = (ws + 63) & ~63, part = ssdPartials(ws, b, nh, hs, n), tws = ws + ssdSharedScratch(b, nh, hs, n, g, nD);
  // dS: ∂L/∂(state at the end of the current chunk), per batch row and head; starts at dhT.
  if (dhT != 0) memory.copy(dS, dhT, <usize>total << 2);
  else memory.fill(dS, 0, <usize>total << 2);
  const P = blockParticipants(b * g, 2.5 * ssdMacs(b, t, nh, hs, n, q));
  if (P <= 1) {
    ssdBackwardUnits(0, b * g, t, nh, hs, g, n, q, dPerChannel, x, delta, A, B, C, D, chunkStates, dy, dx, ddelta, dB, dC, dS, part, nD, tws);
  } else {
    publishSSD(b, t, nh, hs, g, n, q, dPerChannel, x, delta, A, B, C, D);
    setArg(14, <i32>chunkStates); setArg(15, <i32>dy); setArg(16, <i32>dx); setArg(17, <i32>ddelta); setArg(18, <i32>dB);
    setArg(19, <i32>dC); setArg(20, <i32>dS); setArg(21, <i32>part); setArg(22, nD); setArg(23, <i32>tws);
    runJob(OP_SSDB, P, b * g, 0);
  }
  addPartials(dA, part, b * g, nh, nh + nD);
  addPartials(dD, part + (<usize>nh << 2), b * g, nD, nh + nD);
  addPartials(dh0, dS, 1, total, total);
}

// A worker's state lives in globals, not locals: V8 11.3's baseline compiler (Liftoff, Node 20) loses a
// local set from `i32.atomic.rmw.add` across the `memory.atomic.wait32` loop (it reads back 0; with
// --no-liftoff it is kept). Globals are stored in the instance, which the wait cannot clobber.
let workerId: i32 = 0;
let workerScratch: usize = 0;
/** The job word as this worker last saw it, and its polls since it last had work. */
let workerLast: i64 = -1;
let workerIdle: i32 = 0;
let workerNaps: i32 = 0;
/**
 * After spinning, a worker naps (sleeps 50 µs, or until woken) up to 20 times before it sleeps until woken:
 * so that a worker not woken for a small job (WAKE_EVERY) still rejoins a stream within a token or so, at
 * no cost to the caller, while an idle pool wakes at most ~20 times before going quiet.
 */
const WORKER_NAP_NS: i64 = 50000;
const WORKER_NAPS: i32 = 20;
/**
 * Polls of the job word before a worker sleeps: some 20–40 µs. Shorter than when every job waited for its
 * workers (50,000 polls), because a sleeping worker no longer holds a job up while a spinning one keeps a
 * core busy: with one busy process beside it, that core was taken from the caller itself (2-thread streaming
 * steps 1.4–1.9× one thread's at 50,000 polls, about 1.0–1.4× at 2,000–10,000; bench/RESULTS.md, "The pool
 * claims chunks"). Long enough that a worker stays awake between the jobs of a token.
 */
const WORKER_SPINS: i32 = 10000;

/** A worker's life: join, then claim chunks of every job it may take part in until told to stop. */
export function workerLoop(ctrl: usize): void {
  if (!ASC_FEATURE_THREADS) return;
  CTRL = ctrl;
  workerId = atomic.add<i32>(ctrl + ONLINE, 1) + 1;
  workerScratch = <usize>load<i32>(record(ctrl, workerId));
  for (;;) {
    const w = atomic.load<i64>(ctrl + JOB);
    if (w != workerLast) {
      workerLast = w;
      // stopWorkers changes the job word after OP_STOP; a worker that joins later sees it at once.
      if (atomic.load<i32>(ctrl + OP) == OP_STOP) return;
      // P and chunks may already belong to a newer job: then the exchange below fails.
      if (workerId < atomic.load<i32>(ctrl + PARTS)) {
        workerIdle = 0;
        workerNaps = 0;
        if ((w & 0xffffffff) < <i64>atomic.load<i32>(ctrl + CHUNKS)) {
          while (atomic.load<i32>(record(ctrl, workerId) + HOLD) != 0) { // test hook: stalled between reading and claiming
            if (atomic.load<i32>(ctrl + OP) == OP_STOP) return;
          }
          if (atomic.cmpxchg<i64>(ctrl + JOB, w, w + 1) == w) {
            // Chunk c of this job is ours: the job cannot finish, nor another be written, before we add to "done".
            const n = load<i32>(ctrl + CHUNKS);
            execute(<i32>(w & 0xffffffff), workerId, workerScratch);
            if (atomic.add<i32>(ctrl + DONE, 1) == n - 1) atomic.notify(ctrl + DONE, 1);
          }
        }
      }
      continue;
    }
    // Spin a while before sleeping: the jobs of a recurrent loop or a streaming step come microseconds
    // apart, and waking a sleeping thread (a futex round trip, slower still in a VM) costs more than that.
    if (++workerIdle < WORKER_SPINS) continue;
    workerIdle = 0;
    // Nap (a timed sleep that leaves the core to others) a few times, then sleep until woken.
    const nap: i64 = workerNaps < WORKER_NAPS ? WORKER_NAP_NS : -1;
    workerNaps++;
    // Raise the sleep flag, then look once more: a job published after this look sees the flag and wakes us.
    atomic.store<i32>(record(ctrl, workerId) + SLEEP, 1);
    if (atomic.load<i64>(ctrl + JOB) == workerLast) memory.atomic.wait32(record(ctrl, workerId) + SLEEP, 1, nap);
    // Lower the flag again, so that the caller pays for a wake (a futex call) only while we really sleep.
    atomic.store<i32>(record(ctrl, workerId) + SLEEP, 0);
  }
}

/** Tell every worker to return from workerLoop: OP_STOP, a new job word, and every sleeper woken. */
export function stopWorkers(): void {
  if (!ASC_FEATURE_THREADS || CTRL == 0) return;
  atomic.store<i32>(CTRL + OP, OP_STOP);
  atomic.store<i64>(CTRL + JOB, (<i64>(++generation) << 32) | NOT_READY);
  const online = atomic.load<i32>(CTRL + ONLINE);
  for (let t = 1; t <= online; t++) {
    atomic.store<i32>(record(CTRL, t) + SLEEP, 0);
    atomic.notify(record(CTRL, t) + SLEEP, 1);
  }
  CTRL = 0;
}

/**
 * Test hook: hold thread t from claiming chunks (on ≠ 0) or let it go. t = 0 is the calling thread, which
 * then leaves every chunk to the workers; a worker t ≥ 1 stops between reading a job and claiming from it.
 */
export function poolTestHold(t: i32, on: i32): void {
  if (!ASC_FEATURE_THREADS || CTRL == 0) return;
  if (t == 0) mainHold = on;
  else atomic.store<i32>(record(CTRL, t) + HOLD, on);
}

/**
 * Test hook: a job of `units` units for up to P threads (capped like any job); each unit adds 1 to
 * counts[u] and writes the id of the thread that ran it to who[u], and each chunk spins `spin` polls.
 */
export function poolTestJob(units: i32, P: i32, counts: usize, who: usize, spin: i32): void {
  const T = min(P, participants(<f64>minWork * <f64>P));
  if (T <= 1) { executeTest(0, units, 0, counts, who, spin); return; }
  setArg(1, <i32>counts); setArg(2, <i32>who); setArg(3, spin);
  runJob(OP_TEST, T, units, 0);
}

/** Bytes of the control block for up to `workers` workers. */
export function threadControlSize(workers: i32): i32 {
  return <i32>(WORKERS + STRIDE * <usize>(workers + 1));
}
