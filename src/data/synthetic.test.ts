import { describe, expect, it } from 'vitest';
import { Generator } from '../tensor/random.js';
import { IGNORE, syntheticBatch, syntheticVocabSize } from './synthetic.js';

describe('synthetic tasks', () => {
  it('copy: the targets after the delimiter are the first symbols', () => {
    const r = syntheticBatch('copy', new Generator(1), 3, { count: 4, length: 5, symbols: 6 });
    if (r.kind !== 'tokens') throw new Error('tokens expected');
    expect([r.t, r.vocabSize]).toEqual([4 + 5 + 4, 8]);
    for (let b = 0; b < 3; b++) {
      const x = Array.from(r.x.subarray(b * r.t, (b + 1) * r.t)), y = Array.from(r.y.subarray(b * r.t, (b + 1) * r.t));
      expect(x[9]).toBe(7);
      expect(y.slice(9)).toEqual(x.slice(0, 4));
      expect(y.slice(0, 9).every((v) => v === IGNORE)).toBe(true);
      expect(x.slice(0, 4).every((v) => v >= 1 && v <= 6)).toBe(true);
    }
  });

  it('selective copy: the symbols among the noise, in order, after the delimiters', () => {
    const r = syntheticBatch('selective-copy', new Generator(2), 2, { length: 12, count: 3, symbols: 5 });
    if (r.kind !== 'tokens') throw new Error('tokens expected');
    for (let b = 0; b < 2; b++) {
      const x = Array.from(r.x.subarray(b * 15, b * 15 + 15)), y = Array.from(r.y.subarray(b * 15, b * 15 + 15));
      expect(x.slice(12)).toEqual([6, 6, 6]);
      expect(y.slice(12)).toEqual(x.slice(0, 12).filter((v) => v !== 0));
    }
  });

  it('induction: the answer is the symbol after the first trigger', () => {
    const r = syntheticBatch('induction', new Generator(3), 4, { length: 10, symbols: 5 });
    if (r.kind !== 'tokens') throw new Error('tokens expected');
    expect(syntheticVocabSize('induction', { symbols: 5 })).toBe(6);
    for (let b = 0; b < 4; b++) {
      const x = Array.from(r.x.subarray(b * 10, b * 10 + 10));
      expect(x[9]).toBe(5);
      expect(r.y[b * 10 + 9]).toBe(x[x.indexOf(5) + 1]);
    }
  });

  it('adding: two markers, one per half; the target is the sum of the marked values', () => {
    const r = syntheticBatch('adding', new Generator(4), 5, { length: 20 });
    if (r.kind !== 'regression') throw new Error('regression expected');
    for (let b = 0; b < 5; b++) {
      const marks = [], vals = [];
      for (let i = 0; i < 20; i++) if (r.x[(b * 20 + i) * 2 + 1] === 1) { marks.push(i); vals.push(r.x[(b * 20 + i) * 2]!); }
      expect(marks.length).toBe(2);
      expect(marks[0]! < 10 && marks[1]! >= 10).toBe(true);
      expect(r.y[b]).toBeCloseTo(vals[0]! + vals[1]!, 6);
    }
  });

  it('is deterministic given the generator', () => {
    const a = syntheticBatch('copy', new Generator(9), 2), b = syntheticBatch('copy', new Generator(9), 2);
    expect(a).toEqual(b);
  });
});
