// The streaming step's attention (wasm/assembly/attention.ts, attentionDecodeBlocks): one query per stream over
// a KV cache laid out as the models' slabs ([n, cap, C], stream i at row i·cap). It reads the cache in another
// order than the whole-sequence kernel, but must give the bits of that kernel's last query row; and through
// gptStep, the same bits on 1 and 2 threads and for a stream alone or inside a batch. (Values against ref:
// step-conformance.ts on every build.)
import { describe, expect, it } from 'vitest';
import { createWasmKernels, loadWasmModuleSync, type WasmVariant } from '../../src/kernels/wasm/index.js';
import type { GptStepWeights } from '../../src/kernels/step.js';

const rnd = (n: number, seed: number, lo = -1, hi = 1) => Float32Array.from({ length: n }, (_, i) => lo + ((hi - lo) * (1 + Math.sin(i * 0.37 + seed * 1.7))) / 2);
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

for (const variant of ['relaxed-shared', 'simd-shared'] as WasmVariant[]) {
  describe(`attention decode (${variant})`, () => {
    const mod = loadWasmModuleSync(variant)!;
    const kernels = createWasmKernels(mod, { minGemmWork: 0, minElements: 0, threads: 2, minMacsPerThread: 1 });

    // T not a multiple of 4 (tail keys and −∞ pads), D not a multiple of 4 (scalar tail), cap > T (rows left alone).
    for (const { b, H, D, T, cap } of [{ b: 3, H: 3, D: 10, T: 45, cap: 50 }, { b: 1, H: 4, D: 16, T: 64, cap: 64 }, { b: 2, H: 2, D: 8, T: 1, cap: 3 }]) {
      it(`b=${b} H=${H} D=${D} T=${T} cap=${cap}: the last row of the whole-sequence kernel, bit for bit, on 1 and 2 threads`, async () => {
        await kernels.pool?.whenOnline();
        const C = H * D, scale = 1 / Math.sqrt(D);
        const q = rnd(b * T * C, 1), k = rnd(b * T * C, 2), v = rnd(b * T * C, 3);
        const want = new Float32Array(b * T * C);
        kernels.attentionForward({ B: b, H, Tq: T, Tk: T, D, scale }, q, k, v, want, new Float32Array(b * H * T));
        // The decode's inputs where a step has them: each stream's last query in a row of 3C (as in [q | k | v]),
        // keys and values in slabs of cap rows per stream, the rows past T filled with something else.
        const ldq = 3 * C, Q = kernels.resident(b * ldq)!, K = kernels.resident(b * cap * C)!, V = kernels.resident(b * cap * C)!;
        K.set(rnd(K.length, 4)); V.set(rnd(V.length, 5));
        for (let i = 0; i < b; i++) {
          Q.set(q.subarray((i * T + T - 1) * C, (i * T + T) * C), i * ldq);
          K.set(k.subarray(i * T * C, (i + 1) * T * C), i * cap * C);
          V.set(v.subarray(i * T * C, (i + 1) * T * C), i * cap * C);
        }
        const at = (a: Float32Array) => kernels.heap.addressOf(a);
        for (const threads of [1, 2]) {
          kernels.setThreads(threads);
          const Y = kernels.resident(b * C)!, ws = kernels.resident(Number(mod.exports.attentionDecodeScratch(H, T)) / 4)!;
          mod.exports.attentionDecode(b, H, T, D, scale, at(Q), ldq, at(K), at(V), cap, at(Y), at(ws));
          for (let i = 0; i < b; i++) {
            expect(bits(Y.subarray(i * C, (i + 1) * C)), `stream ${i}, ${threads} thread(s)`).toEqual(bits(want.subarray((i * T + T - 1) * C, (i * T + T) * C)));
          }
        }
      });
    }

    it('gptStep: the same bits on 1 and 2 threads, and for a stream alone as inside a batch of 3', async () => {
      await kernels.pool?.whenOnline();
      const C = 24, H = 3, p = 40, cap = 44, b = 3;
      const w: GptStepWeights = {
        ln1: { weight: rnd(C, 1, 0.5, 1.5), bias: rnd(C, 2) }, cAttn: rnd(3 * C * C, 3, -0.3, 0.3), cAttnBias: rnd(3 * C, 4),
        attnProj: rnd(C * C, 5, -0.3, 0.3), attnProjBias: rnd(C, 6), ln2: { weight: rnd(C, 7, 0.5, 1.5), bias: rnd(C, 8) },
        cFc: rnd(4 * C * C, 9, -0.3, 0.3), cFcBias: rnd(4 * C, 10), mlpProj: rnd(4 * C * C, 11, -0.2, 0.2), mlpProjBias: rnd(C, 12),
      };
      const x0 = rnd(b * C, 13, -2, 2), k0 = rnd(b * cap * C, 14), v0 = rnd(b * cap * C, 15);
      const run = (threads: number, streams: number[]) => {
        kernels.setThreads(threads);
        const n = streams.length, x = new Float32Array(n * C), k = new Float32Array(n * cap * C), v = new Float32Array(n * cap * C);
        streams.forEach((s, i) => {
          x.set(x0.subarray(s * C, (s + 1) * C), i * C);
          k.set(k0.subarray(s * cap * C, (s + 1) * cap * C), i * cap * C);
          v.set(v0.subarray(s * cap * C, (s + 1) * cap * C), i * cap * C);
        });
        kernels.gptStep({ b: n, C, H, p, cap, eps: 1e-5 }, w, x, k, v);
        return { x, k, v };
      };
      const one = run(1, [0, 1, 2]), two = run(2, [0, 1, 2]);
      expect(bits(two.x)).toEqual(bits(one.x));
      expect(bits(two.k)).toEqual(bits(one.k));
      expect(bits(two.v)).toEqual(bits(one.v));
      for (const threads of [1, 2]) {
        const alone = run(threads, [1]);
        expect(bits(alone.x), `stream 1 alone, ${threads} thread(s)`).toEqual(bits(one.x.subarray(C, 2 * C)));
      }
    });
  });
}
