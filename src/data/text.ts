/**
 * Language-model data: a corpus of token ids split train/val, and two ways to cut it into batches of
 * windows x = ids[i : i+t], y = ids[i+1 : i+1+t] (next-token targets):
 *
 * - `ContiguousBatches` (char-rnn's stateful training): the data is cut into `b` equal streams; batch k holds
 *   window k of every stream, so row r of batch k+1 continues row r of batch k and a recurrent model can
 *   carry its state across batches (truncated BPTT). One epoch is one pass; the state resets at its start.
 * - `randomWindows` (nanoGPT's `get_batch`): `b` windows at uniformly random offsets, independent of each
 *   other — for models whose state grows with context (a transformer's KV cache).
 */
import type { Generator } from '../tensor/random.js';
import { DataError } from './errors.js';

/**
 * nanoGPT's split (data/shakespeare_char/prepare.py): the first ⌊0.9·n⌋ tokens train, the rest validate,
 * so val losses compare with nanoGPT's.
 */
export function splitTrainVal(ids: Int32Array, trainFraction = 0.9): { train: Int32Array; val: Int32Array } {
  if (!(trainFraction > 0 && trainFraction < 1)) {
    throw new DataError({ op: 'splitTrainVal', expected: 'trainFraction in (0, 1)', got: String(trainFraction) });
  }
  const n = Math.floor(ids.length * trainFraction);
  return { train: ids.subarray(0, n), val: ids.subarray(n) };
}

/** One batch of windows, flat row-major [b, t]. */
export interface LMBatch {
  x: Int32Array;
  y: Int32Array;
  b: number;
  t: number;
}

function checkSizes(op: string, what: string, n: number, b: number, t: number, need: number): void {
  if (!Number.isInteger(b) || b < 1) throw new DataError({ op, expected: 'batch size a positive integer', got: String(b) });
  if (!Number.isInteger(t) || t < 1) throw new DataError({ op, expected: 'sequence length a positive integer', got: String(t) });
  if (n < need) {
    throw new DataError({
      op, expected: `at least ${need} tokens in the ${what} (batch ${b} × (seqLen ${t} + 1))`, got: `${n}`,
      hint: 'use a longer text, or lower --batch / --seq-len',
    });
  }
}

export class ContiguousBatches {
  readonly b: number;
  readonly t: number;
  /** Tokens per stream. */
  readonly streamLength: number;
  /** Batches in one pass over the data. */
  readonly batchesPerEpoch: number;
  private readonly data: Int32Array;

  constructor(data: Int32Array, b: number, t: number, what = 'data') {
    checkSizes('ContiguousBatches', what, data.length, b, t, b * (t + 1));
    this.data = data;
    this.b = b;
    this.t = t;
    this.streamLength = Math.floor(data.length / b);
    this.batchesPerEpoch = Math.floor((this.streamLength - 1) / t);
  }

  /** Batch `k` (any k ≥ 0; it wraps around each epoch). `reset` is true on the first batch of an epoch. */
  at(k: number): LMBatch & { reset: boolean; epoch: number } {
    const { b, t, streamLength: L } = this;
    const j = k % this.batchesPerEpoch;
    const x = new Int32Array(b * t), y = new Int32Array(b * t);
    for (let r = 0; r < b; r++) {
      const start = r * L + j * t;
      x.set(this.data.subarray(start, start + t), r * t);
      y.set(this.data.subarray(start + 1, start + 1 + t), r * t);
    }
    return { x, y, b, t, reset: j === 0, epoch: Math.floor(k / this.batchesPerEpoch) };
  }
}

/** `b` windows at random offsets drawn from `rng` (nanoGPT's get_batch). */
export function randomWindows(data: Int32Array, b: number, t: number, rng: Generator): LMBatch {
  checkSizes('randomWindows', 'data', data.length, b, t, t + 1);
  const x = new Int32Array(b * t), y = new Int32Array(b * t);
  for (let r = 0; r < b; r++) {
    const i = rng.randint(data.length - t);
    x.set(data.subarray(i, i + t), r * t);
    y.set(data.subarray(i + 1, i + 1 + t), r * t);
  }
  return { x, y, b, t };
}
