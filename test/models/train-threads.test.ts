// A whole training step (forward, cross-entropy, backward through the tape, AdamW) of every family on the
// wasm backend with every split threshold at its minimum: 2 threads must give the bits of 1 thread — the
// loss and every parameter after the update. Kernel-level splits are test/kernels/threads-blocks.test.ts;
// this checks that nothing between them (the tape's in-place sums, rules, reductions) depends on threads.
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';
import { registerBackend } from '../../src/kernels/index.js';
import { createWasmKernels, loadWasmModuleSync } from '../../src/kernels/wasm/index.js';
import { tinyConfigs } from '../tiny-configs.js';

const split = createWasmKernels(loadWasmModuleSync('relaxed-shared')!, { minGemmWork: 0, minElements: 0, threads: 2, minMacsPerThread: 1 });
await split.pool?.whenOnline();
registerBackend({ ...split, name: 'wasm-split-everything' });

const CONFIGS: Record<string, Record<string, unknown>> = tinyConfigs(16, 32);

function trainStep(family: string, threads: number): number[] {
  split.setThreads(threads);
  sl.manualSeed(3);
  const model = sl.models.createModel(family, CONFIGS[family]!);
  const opt = new sl.optim.AdamW(model.parameters(), { lr: 1e-2 });
  const n = 3, t = 11, V = model.vocabSize;
  const ids = (shift: number) => Array.from({ length: n }, (_, b) => Array.from({ length: t }, (_, i) => (i * 7 + b * 5 + shift) % V));
  const out: number[] = [];
  for (let step = 0; step < 2; step++) {
    opt.zeroGrad();
    const { logits } = model.forward(ids(0));
    const loss = sl.losses.crossEntropy(sl.reshape(logits, [-1, V]), ids(1).flat());
    loss.backward();
    opt.step();
    out.push(loss.item());
  }
  for (const p of model.parameters()) out.push(...p.data);
  return out;
}

describe('a training step on 2 threads equals 1 thread bit for bit (every kernel split)', () => {
  const prev = sl.getBackend();
  for (const family of Object.keys(CONFIGS)) {
    it(family, () => {
      sl.setBackend('wasm-split-everything');
      try {
        const one = trainStep(family, 1), two = trainStep(family, 2);
        expect(two.length).toBe(one.length);
        let bad = -1;
        for (let i = 0; i < one.length && bad < 0; i++) if (!Object.is(one[i], two[i])) bad = i;
        expect(bad, `first differing value at ${bad}: ${two[bad]} vs ${one[bad]}`).toBe(-1);
      } finally {
        sl.setBackend(prev);
      }
    });
  }
});
