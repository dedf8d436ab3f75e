// The fused Mamba steps compute channels in vector groups (the conv window four channels at a time, the SSD
// update four, two or one channel at a time, Δ by blocks of 8 with a softplus per vector) and the rest one by
// one. Two channels given the same weights and state must come out the same bit for bit, whichever group each
// falls in: here channel 0 (a vector group) and the last channel (a leftover) of a width that is not a multiple
// of 4. Their state rows are compared after six tokens on 1 and 2 threads.
import { describe, expect, it } from 'vitest';
import { derivedCache, type MambaStepShape, type Mamba2StepShape } from '../../src/kernels/step.js';
import { createWasmKernels, loadWasmModuleSync } from '../../src/kernels/wasm/index.js';
import type { FloatArray } from '../../src/kernels/arrays.js';
import { Generator } from '../../src/tensor/random.js';
import { mamba2Weights, mambaWeights, rand } from './step-conformance.js';

const kernels = createWasmKernels(loadWasmModuleSync('relaxed-shared')!, { minGemmWork: 0, minElements: 0, threads: 2, minMacsPerThread: 1 });
await kernels.pool?.whenOnline();

/** Copy row `from` of a [rows, len] block onto row `to`, in each of `reps` consecutive blocks. */
function copyRow(a: FloatArray | null, len: number, from: number, to: number, rows: number, reps = 1): void {
  if (a === null) return;
  for (let r = 0; r < reps; r++) a.copyWithin((r * rows + to) * len, (r * rows + from) * len, (r * rows + from + 1) * len);
}
const row = (a: Float32Array, len: number, i: number): number[] => Array.from(a.subarray(i * len, (i + 1) * len));

describe('fused Mamba steps: a channel in a vector group equals the same channel as a leftover, bit for bit', () => {
  for (const threads of [1, 2]) {
    it(`mambaStep, di = 7 (channels 0 and 6), ${threads} thread${threads > 1 ? 's' : ''}`, () => {
      kernels.setThreads(threads);
      const g = new Generator(21), s: MambaStepShape = { b: 5, d: 6, di: 7, n: 6, r: 2, k: 4, eps: 1e-5 }, { b, d, di, n, k } = s;
      const w = mambaWeights(g, s, true), last = di - 1;
      copyRow(w.inProj, d, 0, last, 2 * di); copyRow(w.inProj, d, di, di + last, 2 * di);
      copyRow(w.inProjBias, 1, 0, last, 2 * di); copyRow(w.inProjBias, 1, di, di + last, 2 * di);
      copyRow(w.convWeight, k, 0, last, di); copyRow(w.convBias, 1, 0, last, di);
      copyRow(w.dtProj, s.r, 0, last, di); copyRow(w.dtProjBias, 1, 0, last, di); copyRow(w.ALog, n, 0, last, di); copyRow(w.D, 1, 0, last, di);
      const x = rand(g, b * d, -2, 2), conv = rand(g, b * di * k), ssm = rand(g, b * di * n);
      copyRow(conv, k, 0, last, di, b); copyRow(ssm, n, 0, last, di, b);
      const A = derivedCache(di * n);
      for (let t = 0; t < 6; t++) kernels.mambaStep(s, w, A, x, { conv, ssm });
      for (let i = 0; i < b; i++) {
        expect(row(ssm, n, i * di + last), `stream ${i}: ssm rows`).toEqual(row(ssm, n, i * di));
        expect(row(conv, k, i * di + last), `stream ${i}: conv rows`).toEqual(row(conv, k, i * di));
      }
      expect(row(ssm, n, 0)).not.toEqual(row(ssm, n, 1)); // the copied rows are not all alike
    });

    it(`mamba2Step, one head of 5 channels (channels 0 and 4), ${threads} thread${threads > 1 ? 's' : ''}`, () => {
      kernels.setThreads(threads);
      const g = new Generator(22), s: Mamba2StepShape = { b: 5, d: 6, nh: 1, hs: 5, g: 1, n: 7, k: 4, eps: 1e-5, normEps: 1e-5, dPerChannel: true };
      const { b, d, nh, hs, n, k } = s, di = nh * hs, cd = di + 2 * n, rows = di + cd + nh, last = hs - 1;
      const w = mamba2Weights(g, s, true);
      copyRow(w.inProj, d, 0, last, rows); copyRow(w.inProj, d, di, di + last, rows);
      copyRow(w.inProjBias, 1, 0, last, rows); copyRow(w.inProjBias, 1, di, di + last, rows);
      copyRow(w.convWeight, k, 0, last, cd); copyRow(w.convBias, 1, 0, last, cd); copyRow(w.D, 1, 0, last, di);
      const x = rand(g, b * d, -2, 2), conv = rand(g, b * cd * k), ssm = rand(g, b * di * n);
      copyRow(conv, k, 0, last, cd, b); copyRow(ssm, n, 0, last, di, b);
      const A = derivedCache(nh);
      for (let t = 0; t < 6; t++) kernels.mamba2Step(s, w, A, x, { conv, ssm });
      for (let i = 0; i < b; i++) expect(row(ssm, n, i * di + last), `stream ${i}: ssm rows`).toEqual(row(ssm, n, i * di));
      expect(row(ssm, n, 0)).not.toEqual(row(ssm, n, 1));
    });
  }
});
