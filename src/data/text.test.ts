import { describe, expect, it } from 'vitest';
import { Generator } from '../tensor/random.js';
import { ContiguousBatches, randomWindows, splitTrainVal } from './text.js';

describe('LM batching', () => {
  const data = Int32Array.from({ length: 103 }, (_, i) => i);

  it('splits 90/10 like nanoGPT (int(n · 0.9))', () => {
    const { train, val } = splitTrainVal(data);
    expect([train.length, val.length, val[0]]).toEqual([92, 11, 92]);
  });

  it('contiguous: row r of batch k+1 continues row r of batch k; y is x shifted by one', () => {
    const c = new ContiguousBatches(data, 2, 5);
    expect([c.streamLength, c.batchesPerEpoch]).toEqual([51, 10]);
    const b0 = c.at(0), b1 = c.at(1);
    expect(Array.from(b0.x)).toEqual([0, 1, 2, 3, 4, 51, 52, 53, 54, 55]);
    expect(Array.from(b0.y)).toEqual([1, 2, 3, 4, 5, 52, 53, 54, 55, 56]);
    expect(Array.from(b1.x)).toEqual([5, 6, 7, 8, 9, 56, 57, 58, 59, 60]);
    expect([b0.reset, b1.reset, c.at(10).reset, c.at(10).epoch]).toEqual([true, false, true, 1]);
    expect(c.at(9).y[9]).toBe(101); // never reads past a stream's end
  });

  it('random windows are seeded and in range; too little data is a clear error', () => {
    const w = randomWindows(data, 4, 8, new Generator(0));
    expect(w.x).toEqual(randomWindows(data, 4, 8, new Generator(0)).x);
    for (let r = 0; r < 4; r++) expect(w.y[r * 8]).toBe(w.x[r * 8]! + 1);
    expect(() => new ContiguousBatches(data.subarray(0, 10), 4, 8, 'training split')).toThrow(
      'ContiguousBatches: expected at least 36 tokens in the training split (batch 4 × (seqLen 8 + 1)), got 10. Hint: use a longer text, or lower --batch / --seq-len',
    );
  });
});
