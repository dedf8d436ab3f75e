/**
 * The state-space kernels' contract beyond values: saved buffers are what backward reads (every h_t for
 * the selective scan; the state entering each chunk for the SSD, so chunk c's entry is the final state of
 * the first c·q steps), the chunked SSD's result does not depend on the chunk length. The conformance
 * harness (scan-conformance.ts) runs from runKernelConformance, on ref and every wasm build.
 */
import { describe, expect, it } from 'vitest';
import { refKernels } from '../../src/kernels/ref/index.js';
import { ssdChunks, type SSDShape } from '../../src/kernels/types.js';
import { Generator } from '../../src/tensor/random.js';
import { expectConform } from './conformance.js';

describe('SSD: chunk states are prefix states; results do not depend on the chunk length', () => {
  const base: SSDShape = { b: 2, t: 11, nh: 2, hs: 3, g: 1, n: 4, q: 1, dPerChannel: false };
  const g = new Generator(3);
  const r = (n: number, lo: number, hi: number) => Float32Array.from({ length: n }, () => lo + (hi - lo) * g.uniform());
  const bt = base.b * base.t, hsz = base.hs * base.n;
  const p = { x: r(bt * 6, -1, 1), delta: r(bt * 2, 0.05, 1), A: r(2, -2, -0.2), B: r(bt * 4, -1, 1), C: r(bt * 4, -1, 1), D: r(2, -1, 1) };
  const h0 = r(base.b * 2 * hsz, -0.5, 0.5);
  const run = (q: number) => {
    const s = { ...base, q }, y = new Float32Array(p.x.length), hT = new Float32Array(h0.length);
    const chunks = new Float32Array(base.b * ssdChunks(s) * 2 * hsz);
    refKernels.ssdForward(s, p, h0, y, hT, chunks);
    return { y, hT, chunks };
  };
  it('every q gives the recurrence (q = 1) up to rounding', () => {
    const rec = run(1);
    for (const q of [2, 3, 4, 11, 64]) {
      const c = run(q);
      expectConform(c.y, rec.y, `y, q=${q}`);
      expectConform(c.hT, rec.hT, `final state, q=${q}`);
    }
  });
  it('with q = 4, chunk c holds the state after step 4c (the recurrence’s saved prefix)', () => {
    const rec = run(1), c4 = run(4);
    for (let bi = 0; bi < base.b; bi++) {
      for (let c = 0; c < 3; c++) {
        const got = c4.chunks.subarray((bi * 3 + c) * 2 * hsz, (bi * 3 + c + 1) * 2 * hsz);
        const want = rec.chunks.subarray((bi * 11 + 4 * c) * 2 * hsz, (bi * 11 + 4 * c + 1) * 2 * hsz);
        expectConform(got, want, `chunk ${c}`);
      }
    }
    expect(ssdChunks({ t: 11, q: 4 })).toBe(3);
  });
});
