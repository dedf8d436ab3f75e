/**
 * Synthetic sequence tasks that probe memory, as generators of fresh batches from a seeded `Generator`.
 * Token tasks return ids x [b, t] and targets y [b, t] with IGNORE (−100, crossEntropy's default
 * ignoreIndex) where nothing is scored; the adding problem returns real inputs [b, t, 2] and targets [b, 1].
 *
 * - copy (Hochreiter & Schmidhuber 1997; the "copy memory" task of Arjovsky et al. 2016, §4.1): n symbols,
 *   `delay` blanks, a delimiter, then reproduce the n symbols.   x = s₁…sₙ 0…0 D 0…0,  y = ·…· s₁…sₙ
 * - adding (Hochreiter & Schmidhuber 1997, exp. 4; Le et al. 2015): pairs (uₜ ~ U(0,1), mₜ ∈ {0,1}) with
 *   one marker in each half; predict the sum of the two marked values. Predicting 1 gives MSE 1/6.
 * - selective-copy (Gu & Dao 2023, Mamba §3.1, Fig. 2): n symbols at random positions in a run of noise
 *   tokens; after n delimiters, reproduce them in order — content-aware, not time-aware, memory.
 * - induction (Olsson et al. 2022; Mamba §4.1.2): random symbols with a trigger token followed by a target
 *   symbol somewhere; the sequence ends with the trigger, and the target symbol must be recalled.
 */
import type { Generator } from '../tensor/random.js';
import { DataError } from './errors.js';

/** crossEntropy's default ignoreIndex. */
export const IGNORE = -100;

export type SyntheticName = 'copy' | 'adding' | 'selective-copy' | 'induction';
export const syntheticNames: readonly SyntheticName[] = ['copy', 'adding', 'selective-copy', 'induction'];

export interface SyntheticOptions {
  /** copy: the delay; selective-copy: the noisy region; adding, induction: the sequence length. */
  length?: number;
  /** Distinct symbols (copy, selective-copy, induction). */
  symbols?: number;
  /** Symbols to remember (copy, selective-copy). */
  count?: number;
}

export interface TokenTaskBatch {
  kind: 'tokens';
  x: Int32Array;
  y: Int32Array;
  b: number;
  t: number;
  vocabSize: number;
}

export interface RegressionBatch {
  kind: 'regression';
  /** [b, t, features] */
  x: Float32Array;
  /** [b, outputs] */
  y: Float32Array;
  b: number;
  t: number;
  features: number;
  outputs: number;
}

const DEFAULTS: Record<SyntheticName, Required<SyntheticOptions>> = {
  copy: { length: 10, symbols: 8, count: 5 },
  adding: { length: 50, symbols: 0, count: 2 },
  'selective-copy': { length: 32, symbols: 8, count: 4 },
  induction: { length: 32, symbols: 16, count: 1 },
};

/** The vocabulary of a token task (ids 0 … vocabSize−1). */
export function syntheticVocabSize(name: SyntheticName, opts: SyntheticOptions = {}): number {
  const k = { ...DEFAULTS[name], ...opts }.symbols;
  return name === 'induction' ? k + 1 : name === 'adding' ? 0 : k + 2;
}

function tokenBatch(b: number, t: number, vocabSize: number): TokenTaskBatch {
  return { kind: 'tokens', x: new Int32Array(b * t), y: new Int32Array(b * t).fill(IGNORE), b, t, vocabSize };
}

/** A fresh batch of `b` examples of task `name`, drawn from `rng`. */
export function syntheticBatch(name: SyntheticName, rng: Generator, b: number, opts: SyntheticOptions = {}): TokenTaskBatch | RegressionBatch {
  const o = { ...DEFAULTS[name], ...opts };
  const { length: L, symbols: k, count: n } = o;
  if (![L, n].every((v) => Number.isInteger(v) && v >= 1) || (name !== 'adding' && !(Number.isInteger(k) && k >= 2))) {
    throw new DataError({ op: `synthetic:${name}`, expected: 'length and count positive integers, symbols an integer ≥ 2', got: JSON.stringify(o) });
  }
  switch (name) {
    case 'copy': {
      // ids: 0 blank, 1..k symbols, k+1 delimiter
      const t = n + L + n, out = tokenBatch(b, t, k + 2);
      for (let r = 0; r < b; r++) {
        for (let i = 0; i < n; i++) {
          const s = 1 + rng.randint(k);
          out.x[r * t + i] = s;
          out.y[r * t + n + L + i] = s;
        }
        out.x[r * t + n + L] = k + 1;
      }
      return out;
    }
    case 'selective-copy': {
      // ids: 0 noise, 1..k symbols, k+1 delimiter; the n symbols sit at sorted random positions of the region
      if (n > L) throw new DataError({ op: 'synthetic:selective-copy', expected: `count ≤ length (${L})`, got: String(n) });
      const t = L + n, out = tokenBatch(b, t, k + 2);
      for (let r = 0; r < b; r++) {
        const pos = new Set<number>();
        while (pos.size < n) pos.add(rng.randint(L));
        [...pos].sort((a, c) => a - c).forEach((p, i) => {
          const s = 1 + rng.randint(k);
          out.x[r * t + p] = s;
          out.y[r * t + L + i] = s;
        });
        for (let i = 0; i < n; i++) out.x[r * t + L + i] = k + 1;
      }
      return out;
    }
    case 'induction': {
      // ids: 0..k−1 symbols, k trigger; trigger at p < L−2 followed by the answer, and again at the end
      if (L < 4) throw new DataError({ op: 'synthetic:induction', expected: 'length ≥ 4', got: String(L) });
      const t = L, out = tokenBatch(b, t, k + 1);
      for (let r = 0; r < b; r++) {
        for (let i = 0; i < t; i++) out.x[r * t + i] = rng.randint(k);
        const p = rng.randint(t - 3), answer = out.x[r * t + p + 1]!;
        out.x[r * t + p] = k;
        out.x[r * t + t - 1] = k;
        out.y[r * t + t - 1] = answer;
      }
      return out;
    }
    case 'adding': {
      if (L < 2) throw new DataError({ op: 'synthetic:adding', expected: 'length ≥ 2', got: String(L) });
      const t = L, x = new Float32Array(b * t * 2), y = new Float32Array(b);
      for (let r = 0; r < b; r++) {
        for (let i = 0; i < t; i++) x[(r * t + i) * 2] = rng.uniform();
        const half = Math.floor(t / 2), i1 = rng.randint(Math.max(1, half)), i2 = half + rng.randint(t - half);
        x[(r * t + i1) * 2 + 1] = 1;
        x[(r * t + i2) * 2 + 1] = 1;
        y[r] = x[(r * t + i1) * 2]! + x[(r * t + i2) * 2]!;
      }
      return { kind: 'regression', x, y, b, t, features: 2, outputs: 1 };
    }
    default:
      throw new DataError({ op: 'synthetic', expected: `one of ${syntheticNames.join(', ')}`, got: JSON.stringify(name satisfies never) });
  }
}
