import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCSV } from './csv.js';
import { ForecastDataset, Normalizer } from './timeseries.js';

const ETTH1 = new URL('../../../shared/data/ETTh1.csv', import.meta.url);

describe('ForecastDataset', () => {
  // 100 rows: a = i, b = 10·i for the first 70 (train) rows; val/test rows are huge, so any leak shows.
  const n = 100;
  const a = Float64Array.from({ length: n }, (_, i) => (i < 70 ? i : 1e6 + i));
  const b = Float64Array.from({ length: n }, (_, i) => (i < 70 ? 10 * i : -1e6));

  it('fits the normalisation on the training rows only', () => {
    const ds = new ForecastDataset({ a, b }, { window: 5, horizon: 2 });
    const mean = (69 * 70) / 2 / 70; // mean of 0..69
    const std = Math.sqrt(Array.from({ length: 70 }, (_, i) => (i - mean) ** 2).reduce((s, v) => s + v, 0) / 70);
    expect(ds.normalizer.columns).toEqual(['a', 'b']);
    expect(ds.normalizer.mean[0]).toBeCloseTo(mean, 10);
    expect(ds.normalizer.std[0]).toBeCloseTo(std, 10);
    expect(ds.normalizer.mean[1]).toBeCloseTo(10 * mean, 8);
    expect(ds.normalizer.std[1]).toBeCloseTo(10 * std, 8);
    // Saved and restored exactly.
    const back = new Normalizer(JSON.parse(JSON.stringify(ds.normalizer.toJSON())));
    expect(Array.from(back.mean)).toEqual(Array.from(ds.normalizer.mean));
  });

  it('cuts windows: inputs before the targets, targets inside their split', () => {
    const ds = new ForecastDataset({ a, b }, { features: ['a', 'b'], targets: ['a'], window: 3, horizon: 2 });
    expect(ds.ranges).toEqual({ train: [3, 70], val: [70, 80], test: [80, 100] });
    expect(ds.count('train')).toBe(66);
    expect(ds.count('val')).toBe(9);
    const { x, y } = ds.batch('train', [0, 10]);
    const den = (z: number, c: number): number => ds.normalizer.denormalize(c, z);
    expect(Array.from(x.subarray(0, 6), (z, i) => Math.round(den(z, i % 2)) + 0)).toEqual([0, 0, 1, 10, 2, 20]);
    expect(Array.from(y, (z) => Math.round(den(z, 0)))).toEqual([3, 4, 13, 14]);
    const v = ds.batch('val', [0]); // inputs rows 67..69 (train), targets rows 70, 71 (val)
    expect(Array.from(v.y, (z) => Math.round(den(z, 0)))).toEqual([1e6 + 70, 1e6 + 71]);
  });

  it('errors: too few rows, bad window', () => {
    expect(() => new ForecastDataset({ a }, { window: 80, horizon: 1 }, 'x.csv')).toThrow(
      'x.csv: expected at least window + horizon = 81 training rows, got 70 (of 100 rows). Hint: lower --window or --horizon',
    );
    expect(() => new ForecastDataset({ a }, { window: 0, horizon: 1 })).toThrow('forecast: expected window a positive integer, got 0.');
  });

  it.skipIf(!existsSync(ETTH1))('reads ETTh1 (../shared/data) without altering it: 7 numeric columns, OT the default target', () => {
    const ds = ForecastDataset.fromTable(parseCSV(readFileSync(ETTH1, 'utf8'), 'ETTh1.csv'), { window: 96, horizon: 24 });
    expect(ds.features).toEqual(['HUFL', 'HULL', 'MUFL', 'MULL', 'LUFL', 'LULL', 'OT']);
    expect(ds.targets).toEqual(['OT']);
    expect(ds.ranges.train[1]).toBe(Math.floor(17420 * 0.7));
  });
  if (!existsSync(ETTH1)) console.log('skipping the ETTh1 test: ../shared/data/ETTh1.csv is not present');
});
