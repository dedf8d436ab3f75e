/**
 * The fused state-space ops (causal conv1d, selective scan, chunked SSD): float64 finite-difference
 * checks of every input including the initial state and through the final state, fused == composite
 * twin (values and gradients), and the SSD's chunked form equal to its recurrence for chunk lengths that
 * do and do not divide the sequence.
 */
import { describe, expect, it } from 'vitest';
import { Tensor, add, exp, neg, softplus, sum, mul } from '../../src/index.js';
import { causalConv1d, selectiveScan, ssd } from '../../src/ops/scan.js';
import { causalConv1dComposite, selectiveScanComposite, ssdComposite } from '../../src/ops/scan-composite.js';
import { fusedOpNames } from '../../src/autograd/tape.js';
import { expectClose, expectGradOk, leaf64 } from '../helpers.js';

/** Δ > 0 and A < 0, as the models produce them. */
const positive = (t: Tensor) => softplus(t);
const negative = (t: Tensor) => neg(exp(t));

describe('causalConv1d', () => {
  it('finite differences for x, weight, bias and the window, through y and the new window', () => {
    const x = leaf64([2, 5, 3], 1), w = leaf64([3, 1, 4], 2), b = leaf64([3], 3), win = leaf64([2, 3, 4], 4);
    expectGradOk(() => { const r = causalConv1d(x, w, b, win); return [r.y, r.window]; }, [x, w, b, win]);
  });
  it('sequences shorter than the window, and t = 0, carry the window through', () => {
    const x = leaf64([1, 2, 2], 5), w = leaf64([2, 4], 6), win = leaf64([1, 2, 4], 7);
    expectGradOk(() => { const r = causalConv1d(x, w, null, win); return [r.y, r.window]; }, [x, w, win]);
    const empty = causalConv1d(new Tensor(new Float64Array(0), [1, 0, 2]), w, null, win);
    expect(Array.from(empty.window.buf)).toEqual(Array.from(win.buf));
  });
  it('equals its composite twin', () => {
    const x = leaf64([2, 6, 3], 8), w = leaf64([3, 1, 4], 9), b = leaf64([3], 10), win = leaf64([2, 3, 4], 11);
    compareTwins([x, w, b, win], () => causalConv1d(x, w, b, win), () => causalConv1dComposite(x, w, b, win), (r) => [r.y, r.window]);
  });
});

describe('selectiveScan', () => {
  const inputs = (b: number, t: number, di: number, n: number, seed: number) => ({
    x: leaf64([b, t, di], seed), dr: leaf64([b, t, di], seed + 1, 0.5, -1), Alog: leaf64([di, n], seed + 2, 0.5),
    B: leaf64([b, t, n], seed + 3), C: leaf64([b, t, n], seed + 4), D: leaf64([di], seed + 5), h0: leaf64([b, di, n], seed + 6),
  });
  // t = 35 spans three saved-state stretches (states saved after steps 15, 31, 34; the rest recomputed).
  for (const [b, t, di, n, seed] of [[2, 4, 3, 2, 20], [2, 35, 2, 2, 40]] as const) {
    it(`finite differences for x, Δ, A, B, C, D and h0, through y and the final state (t = ${t})`, () => {
      const p = inputs(b, t, di, n, seed);
      expectGradOk(() => {
        const r = selectiveScan(p.x, positive(p.dr), negative(p.Alog), p.B, p.C, p.D, p.h0);
        return [r.y, r.h];
      }, [p.x, p.dr, p.Alog, p.B, p.C, p.D, p.h0]);
    });
  }
  it('equals its composite twin (the step-by-step recurrence), without D too, over one and several stretches', () => {
    for (const p of [inputs(2, 5, 4, 3, 30), inputs(1, 33, 3, 2, 50)]) {
      for (const D of [p.D, null]) {
        const args = [p.x, positive(p.dr), negative(p.Alog), p.B, p.C, D] as const;
        compareTwins([p.x, p.dr, p.Alog, p.B, p.C, p.h0, ...(D ? [D] : [])],
          () => selectiveScan(...args, p.h0), () => selectiveScanComposite(...args, p.h0), (r) => [r.y, r.h]);
      }
    }
  });
});

describe('ssd (chunked)', () => {
  const inputs = (b: number, t: number, nh: number, hs: number, g: number, n: number, seed: number, dLen = nh) => ({
    x: leaf64([b, t, nh, hs], seed), dr: leaf64([b, t, nh], seed + 1, 0.5, -1), Alog: leaf64([nh], seed + 2, 0.5),
    B: leaf64([b, t, g, n], seed + 3), C: leaf64([b, t, g, n], seed + 4), D: leaf64([dLen], seed + 5),
    h0: leaf64([b, nh, hs, n], seed + 6),
  });
  it('finite differences of every input through y and the final state (t = 5, chunks of 2: 2 + 2 + 1)', () => {
    const p = inputs(2, 5, 2, 2, 1, 3, 40);
    expectGradOk(() => {
      const r = ssd(p.x, positive(p.dr), negative(p.Alog), p.B, p.C, p.D, p.h0, { chunkSize: 2 });
      return [r.y, r.h];
    }, [p.x, p.dr, p.Alog, p.B, p.C, p.D, p.h0]);
  });
  it('finite differences with groups (4 heads, 2 groups) and D per channel', () => {
    const p = inputs(1, 4, 4, 2, 2, 2, 50, 8);
    expectGradOk(() => {
      const r = ssd(p.x, positive(p.dr), negative(p.Alog), p.B, p.C, p.D, p.h0, { chunkSize: 3 });
      return [r.y, r.h];
    }, [p.x, p.dr, p.Alog, p.B, p.C, p.D, p.h0]);
  });
  it('the chunked form equals the recurrence for every chunk length, dividing t or not', () => {
    const p = inputs(2, 7, 4, 3, 2, 4, 60);
    const args = () => [p.x, positive(p.dr), negative(p.Alog), p.B, p.C, p.D] as const;
    for (const q of [1, 2, 3, 7, 16]) {
      compareTwins([p.x, p.dr, p.Alog, p.B, p.C, p.D, p.h0],
        () => ssd(...args(), p.h0, { chunkSize: q }), () => ssdComposite(...args(), p.h0), (r) => [r.y, r.h]);
    }
  });
  it('equals Mamba-1’s selective scan when A and Δ are tied across each head (hs = 1 per channel view)', () => {
    // With hs = 1 and one group, SSD is the selective scan with A[d, :] = A_h and B, C shared.
    const p = inputs(1, 6, 3, 1, 1, 2, 70);
    const dl = positive(p.dr), A = negative(p.Alog);
    const r2 = ssd(p.x, dl, A, p.B, p.C, p.D, p.h0, { chunkSize: 4 });
    const Arows = new Tensor(Float64Array.from({ length: 6 }, (_, i) => A.buf[Math.floor(i / 2)]!), [3, 2]);
    const r1 = selectiveScan(new Tensor(p.x.buf, [1, 6, 3]), dl, Arows, new Tensor(p.B.buf, [1, 6, 2]),
      new Tensor(p.C.buf, [1, 6, 2]), p.D, new Tensor(p.h0.buf, [1, 3, 2]));
    expectClose(r2.y, r1.y, 1e-12, 1e-10, 'y');
    expectClose(r2.h, r1.h, 1e-12, 1e-10, 'h');
  });
});

it('every fused scan op is registered on the tape', () => {
  for (const name of ['causalConv1d', 'selectiveScan', 'ssd']) expect(fusedOpNames.has(name)).toBe(true);
});

/** Values and gradients (for a fixed weighting of every output) of two implementations agree in f64. */
function compareTwins<R>(leaves: Tensor[], fused: () => R, composite: () => R, outs: (r: R) => Tensor[]): void {
  const run = (f: () => R) => {
    for (const l of leaves) l.grad = null;
    const o = outs(f());
    let loss: Tensor | null = null;
    o.forEach((t, k) => {
      const w = new Tensor(Float64Array.from({ length: t.size }, (_, i) => Math.sin(1 + i * 0.7 + k)), t.shape);
      const term = sum(mul(t, w));
      loss = loss === null ? term : add(loss, term);
    });
    loss!.backward();
    return { vals: o.map((t) => Float64Array.from(t.buf)), grads: leaves.map((l) => Float64Array.from(l.grad?.buf ?? [])) };
  };
  const a = run(fused), b = run(composite);
  a.vals.forEach((v, i) => expectClose(v, b.vals[i]!, 1e-11, 1e-9, `output ${i}`));
  a.grads.forEach((g, i) => expectClose(g, b.grads[i]!, 1e-11, 1e-9, `gradient of input ${i}`));
}
