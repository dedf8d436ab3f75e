/**
 * allocFloat hands out small arrays as views into shared slabs (speed); these are the properties every
 * caller relies on: zeroed, the requested dtype and length, and never overlapping a live array.
 */
import { describe, expect, it } from 'vitest';
import { allocFloat } from '../src/tensor/tensor.js';

describe('allocFloat', () => {
  it('returns zeroed, disjoint arrays of the requested dtype and length, across slab boundaries', () => {
    const live: Float32Array[] = [];
    const sizes = [1, 3, 4, 16, 255, 256, 1023, 1024, 1025, 5000];
    for (let r = 0; r < 200; r++) {
      for (const n of sizes) {
        const a = allocFloat('float32', n) as Float32Array;
        expect(a).toBeInstanceOf(Float32Array);
        expect(a.length).toBe(n);
        expect(a.every((v) => v === 0)).toBe(true);
        a.fill(r + 1);
        live.push(a);
      }
    }
    // Every array still holds what was written into it: no two share bytes.
    let i = 0;
    for (let r = 0; r < 200; r++) for (const n of sizes) expect(live[i++]!.every((v) => v === r + 1), `round ${r} n ${n}`).toBe(true);
  });
  it('float64 arrays are 8-byte aligned views and zeroed; length 0 works', () => {
    allocFloat('float32', 3); // leave the slab at an odd offset
    const d = allocFloat('float64', 7) as Float64Array;
    expect(d).toBeInstanceOf(Float64Array);
    expect(d.byteOffset % 8).toBe(0);
    expect(Array.from(d)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(allocFloat('float32', 0).length).toBe(0);
  });
});
