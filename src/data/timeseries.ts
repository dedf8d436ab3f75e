/**
 * Time-series forecasting data from a CSV table: pick feature and target columns, split the rows in time
 * order (train / val / test, default 70/10/20 like Autoformer's custom datasets), standardise every column
 * with a `Normalizer` fitted on the **training rows only** (no look-ahead into val/test statistics), and cut
 * windows: x = features of rows [i, i+window), y = targets of rows [i+window, i+window+horizon).
 *
 * A val or test window may read inputs from the rows just before its split (as Informer/Autoformer do), but
 * its targets always lie inside the split.
 */
import { columnIndex, numericColumn, numericColumnNames, type CSVTable } from './csv.js';
import { DataError } from './errors.js';

export interface NormalizerJSON {
  columns: string[];
  mean: number[];
  std: number[];
}

/** Per-column standardisation z = (v − mean) / std (population std; a constant column gets std 1). */
export class Normalizer {
  readonly columns: readonly string[];
  readonly mean: Float64Array;
  readonly std: Float64Array;

  constructor(json: NormalizerJSON) {
    if (json.mean.length !== json.columns.length || json.std.length !== json.columns.length) {
      throw new DataError({ op: 'Normalizer', expected: `mean and std for each of ${json.columns.length} columns`, got: `${json.mean.length} means, ${json.std.length} stds` });
    }
    this.columns = [...json.columns];
    this.mean = Float64Array.from(json.mean);
    this.std = Float64Array.from(json.std);
  }

  /** Fit on rows [0, rows) of each column (the training split). */
  static fit(columns: readonly string[], values: readonly Float64Array[], rows: number): Normalizer {
    const mean: number[] = [], std: number[] = [];
    for (const v of values) {
      let m = 0;
      for (let i = 0; i < rows; i++) m += v[i]!;
      m /= rows;
      let s = 0;
      for (let i = 0; i < rows; i++) s += (v[i]! - m) ** 2;
      const sd = Math.sqrt(s / rows);
      mean.push(m);
      std.push(sd > 0 ? sd : 1);
    }
    return new Normalizer({ columns: [...columns], mean, std });
  }

  index(column: string): number {
    const i = this.columns.indexOf(column);
    if (i < 0) throw new DataError({ op: 'Normalizer', expected: `one of the fitted columns ${this.columns.join(', ')}`, got: JSON.stringify(column) });
    return i;
  }

  normalize(column: number, v: number): number {
    return (v - this.mean[column]!) / this.std[column]!;
  }

  denormalize(column: number, z: number): number {
    return z * this.std[column]! + this.mean[column]!;
  }

  toJSON(): NormalizerJSON {
    return { columns: [...this.columns], mean: Array.from(this.mean), std: Array.from(this.std) };
  }
}

export interface ForecastOptions {
  /** Input columns (default: every numeric column). */
  features?: readonly string[];
  /** Predicted columns (default: the last numeric column, e.g. ETTh1's OT). */
  targets?: readonly string[];
  /** Input length in rows. */
  window: number;
  /** Rows predicted after the window. */
  horizon: number;
  /** Fractions of rows for train and val (test gets the rest); default [0.7, 0.1]. */
  split?: readonly [number, number];
  /** Use this (saved) normalisation instead of fitting one on the training rows — e.g. a checkpoint's. */
  normalizer?: NormalizerJSON;
}

export type SplitName = 'train' | 'val' | 'test';

export interface ForecastBatch {
  /** [b, window, features] normalised. */
  x: Float32Array;
  /** [b, horizon · targets] normalised, horizon-major (step 1's targets, then step 2's, …). */
  y: Float32Array;
  b: number;
}

export class ForecastDataset {
  readonly features: readonly string[];
  readonly targets: readonly string[];
  readonly window: number;
  readonly horizon: number;
  readonly normalizer: Normalizer;
  /** Row ranges [start, end) of each split's targets. */
  readonly ranges: Record<SplitName, [number, number]>;
  /** Normalised values by column (features ∪ targets in normalizer order), all rows. */
  private readonly z: Float64Array[];
  private readonly fIdx: number[];
  private readonly tIdx: number[];

  constructor(columns: Record<string, Float64Array>, opts: ForecastOptions, source = 'data') {
    const names = Object.keys(columns);
    const features = [...(opts.features ?? names)];
    const targets = [...(opts.targets ?? [names[names.length - 1]!])];
    for (const [what, v] of [['window', opts.window], ['horizon', opts.horizon]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new DataError({ op: 'forecast', expected: `${what} a positive integer`, got: String(v) });
    }
    const [fTrain, fVal] = opts.split ?? [0.7, 0.1];
    if (!(fTrain > 0 && fVal >= 0 && fTrain + fVal < 1)) {
      throw new DataError({ op: 'forecast', expected: 'split fractions train > 0, val ≥ 0, train + val < 1', got: `${fTrain}, ${fVal}` });
    }
    const n = columns[names[0]!]!.length;
    const nTrain = Math.floor(n * fTrain), nVal = Math.floor(n * fVal);
    this.ranges = { train: [opts.window, nTrain], val: [nTrain, nTrain + nVal], test: [nTrain + nVal, n] };
    if (nTrain < opts.window + opts.horizon) {
      throw new DataError({
        op: source, expected: `at least window + horizon = ${opts.window + opts.horizon} training rows`, got: `${nTrain} (of ${n} rows)`,
        hint: 'lower --window or --horizon',
      });
    }
    const used = [...new Set([...features, ...targets])];
    this.features = features;
    this.targets = targets;
    this.window = opts.window;
    this.horizon = opts.horizon;
    this.normalizer = opts.normalizer ? new Normalizer(opts.normalizer) : Normalizer.fit(used, used.map((c) => columns[c]!), nTrain);
    const col = used.map((c) => this.normalizer.index(c));
    this.z = used.map((c, j) => Float64Array.from(columns[c]!, (v) => this.normalizer.normalize(col[j]!, v)));
    this.fIdx = features.map((c) => used.indexOf(c));
    this.tIdx = targets.map((c) => used.indexOf(c));
  }

  /** Read the columns from a parsed CSV (errors name line and column). */
  static fromTable(table: CSVTable, opts: ForecastOptions): ForecastDataset {
    const numeric = numericColumnNames(table);
    const features = opts.features ?? numeric;
    const targets = opts.targets ?? numeric.slice(-1);
    if (features.length === 0 || targets.length === 0) {
      throw new DataError({ op: table.source, expected: 'numeric columns to forecast', got: `columns ${table.header.join(', ')} with no number in the first row` });
    }
    for (const c of [...features, ...targets]) columnIndex(table, c); // every name first, then the cells
    const columns: Record<string, Float64Array> = {};
    for (const c of [...features, ...targets]) columns[c] ??= numericColumn(table, c);
    return new ForecastDataset(columns, { ...opts, features, targets }, table.source);
  }

  /** Number of windows whose targets start in the split. */
  count(split: SplitName): number {
    const [a, b] = this.ranges[split];
    return Math.max(0, b - a - this.horizon + 1);
  }

  /** The windows `indices` (0 ≤ i < count(split)) of a split as one batch. */
  batch(split: SplitName, indices: readonly number[]): ForecastBatch {
    const { window: w, horizon: h } = this;
    const F = this.fIdx.length, Tg = this.tIdx.length, b = indices.length;
    const x = new Float32Array(b * w * F), y = new Float32Array(b * h * Tg);
    indices.forEach((i, r) => {
      const t0 = this.ranges[split][0] + i; // first target row
      for (let s = 0; s < w; s++) for (let f = 0; f < F; f++) x[(r * w + s) * F + f] = this.z[this.fIdx[f]!]![t0 - w + s]!;
      for (let s = 0; s < h; s++) for (let g = 0; g < Tg; g++) y[(r * h + s) * Tg + g] = this.z[this.tIdx[g]!]![t0 + s]!;
    });
    return { x, y, b };
  }
}
