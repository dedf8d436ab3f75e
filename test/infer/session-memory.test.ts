/**
 * A StreamSession frees its state's wasm memory itself (session.ts): wasm memory is invisible to V8, so a
 * service whose JS heap stays small would otherwise hold every dropped GPT KV slab until some rare major GC.
 * Measured on the wasm heap's own count of bytes in use, within one synchronous run (where no
 * FinalizationRegistry callback can run, so nothing is freed unless the session frees it).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';
import { kernels } from '../../src/kernels/index.js';
import type { WasmKernels } from '../../src/kernels/wasm/index.js';

const GPT = { nEmbd: 64, nLayer: 2, nHead: 4, vocabSize: 13, blockSize: 128 };
const heap = () => (kernels() as WasmKernels).heap;
const ids = (t: number, n: number) => Array.from({ length: n }, (_, i) => (t * 5 + i * 3 + 1) % 13);

describe('StreamSession frees its wasm memory (GPT KV slabs)', () => {
  let before = '';
  beforeEach(() => { before = sl.getBackend(); sl.setBackend('wasm'); });
  afterEach(() => sl.setBackend(before));

  it('the heap frees a whole resident array at once, and nothing else', () => {
    const h = heap();
    expect(h.shared, 'these tests need resident arrays (shared wasm memory)').toBe(true);
    const a = h.residentF32(4096)!, used = h.inUse;
    expect(h.release(a.subarray(0, 1024)), 'a view').toBe(false);
    expect(h.release(new Float32Array(4096)), 'an ordinary array').toBe(false);
    expect(h.inUse).toBe(used);
    expect(h.release(a)).toBe(true);
    expect(h.inUse).toBe(used - 4096 * 4);
    expect(h.release(a), 'twice').toBe(false);
  });

  it('steps in place equal to model.step, past the slab growing, for 2 streams', () => {
    sl.manualSeed(3);
    const model = sl.models.createModel('gpt', GPT);
    const session = new sl.StreamSession(model, { batch: 2 });
    let state = model.initState(2);
    sl.noGrad(() => {
      for (let t = 0; t < 70; t++) { // slabs start at 64 rows and move to 128
        const r = model.step(ids(t, 2), state);
        state = r.state;
        expect(Array.from(session.step(ids(t, 2)).data), `token ${t}`).toEqual(Array.from(r.logits.data));
      }
    });
    expect(Array.from(sl.serializeState(session.state))).toEqual(Array.from(sl.serializeState(state)));
    session.dispose();
  });

  it('stepInPlace never frees a slab a value state still reads (model.step on the same state)', () => {
    sl.manualSeed(7);
    const model = sl.models.createModel('gpt', GPT);
    const state = model.initState(1), release = (kernels() as WasmKernels).heap.release;
    let freed = 0;
    (kernels() as WasmKernels).heap.release = function (a) { const r = release.call(this, a); if (r) freed++; return r; };
    try {
      sl.noGrad(() => {
        for (let t = 0; t < 10; t++) model.stepInPlace!(ids(t, 1), state);
        // A value continuation of the in-place state: it takes row 10 of the state's own slab.
        const branch = model.step(ids(10, 1), state).state;
        const before = Array.from(sl.serializeState(branch));
        for (let t = 10; t < 120; t++) model.stepInPlace!(ids(t, 1), state); // moves to new slabs (64 → 130 rows)
        expect(Array.from(sl.serializeState(branch)), 'the branch reads what it wrote').toEqual(before);
        // Arrays freed (k and v of 2 layers per slab): the shared slab is left to the collector, the 64-row
        // slab the state outgrew at token 64 is freed, and releaseState frees the one it holds.
        expect(freed, 'the shared slab is left to the collector; the one outgrown later is freed').toBe(4);
        model.releaseState!(state);
        expect(freed).toBe(8);
      });
    } finally {
      (kernels() as WasmKernels).heap.release = release;
    }
  });

  it('reset frees the old state: the bytes in use are the same after every window of blockSize tokens', () => {
    sl.manualSeed(4);
    const model = sl.models.createModel('gpt', GPT);
    const session = new sl.StreamSession(model, { batch: 2, reuseLogits: true });
    const used: number[] = [];
    sl.noGrad(() => {
      for (let w = 0; w < 5; w++) {
        for (let t = 0; t < GPT.blockSize; t++) session.step(ids(t, 2));
        used.push(heap().inUse);
        session.reset();
      }
    });
    // Two streams, two layers, K and V of 128 rows × 64 floats: 256 KB live at the end of every window.
    expect(used[0]! - heap().inUse).toBeGreaterThanOrEqual(2 * 2 * 2 * 128 * 64 * 4);
    expect(new Set(used).size, `bytes in use after each window: ${used.join(', ')}`).toBe(1);
    session.dispose();
  });

  it('dispose frees the state; a disposed session refuses to step', () => {
    sl.manualSeed(5);
    const model = sl.models.createModel('gpt', GPT);
    const warm = new sl.StreamSession(model);
    sl.noGrad(() => { for (let t = 0; t < 100; t++) warm.step(ids(t, 1)); });
    warm.dispose();
    const base = heap().inUse;
    for (let round = 0; round < 3; round++) {
      const s = new sl.StreamSession(model, { batch: 3 });
      sl.noGrad(() => { for (let t = 0; t < 100; t++) s.step(ids(t, 3)); });
      expect(heap().inUse).toBeGreaterThan(base);
      const saved = s.state;
      s.dispose();
      s.dispose();
      expect(heap().inUse, `round ${round}`).toBe(base);
      expect((saved as { layers: { k: sl.Tensor }[] }).layers[0]!.k.shape, 'a state read before dispose stays a value').toEqual([3, 100, 64]);
      expect(() => s.step([1, 2, 3])).toThrow(/StreamSession\.step.*disposed/);
    }
  });

  it('generate frees its session, also when the caller stops early', () => {
    sl.manualSeed(6);
    const model = sl.models.createModel('gpt', GPT);
    const run = (n: number, stopAt: number) => {
      let k = 0;
      for (const _ of sl.generate(model, [1, 2, 3], { maxTokens: n, temperature: 1, seed: 1 })) if (++k === stopAt) break;
    };
    run(300, 300); // warm: the arena and parameter caches reach their size
    const base = heap().inUse;
    run(300, 300); // crosses the 128-token context twice (a reset each time)
    expect(heap().inUse).toBe(base);
    run(300, 40);
    expect(heap().inUse).toBe(base);
  });
});
