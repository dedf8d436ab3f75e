// Backend selection and resident storage through the public API (the default backend in Node is wasm).
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';
import { kernels } from '../../src/kernels/index.js';
import type { WasmKernels } from '../../src/kernels/wasm/index.js';

const forced = process.env.SEQLAB_BACKEND;

describe.skipIf(forced !== undefined)('backend selection', () => {
  it('wasm is the default in Node, ref stays selectable, ready() keeps an explicit choice', async () => {
    expect(sl.getBackend()).toBe('wasm');
    expect(sl.listBackends()).toEqual(expect.arrayContaining(['ref', 'wasm']));
    sl.setBackend('ref');
    expect(await sl.ready()).toBe('ref');
    sl.setBackend('wasm');
    expect(await sl.ready()).toBe('wasm');
  });

  it('an unknown backend is refused with the list of known ones', () => {
    expect(() => sl.setBackend('webgpu')).toThrow(/setBackend: expected one of 'ref', 'wasm', got 'webgpu'/);
  });

  it('parameters and optimiser state live in wasm memory; values and training are unchanged', () => {
    sl.setBackend('wasm');
    const heap = (kernels() as WasmKernels).heap;
    const lin = new sl.nn.Linear({ inFeatures: 64, outFeatures: 32 });
    expect(heap.addressOf(lin.weight.buf as Float32Array)).toBeGreaterThan(0);
    const x = sl.randn([4, 64], { seed: 1 });
    const opt = new sl.optim.Adam(lin.parameters(), { lr: 1e-2 });
    const loss = () => sl.mean(sl.mul(lin.forward(x), lin.forward(x)));
    const l0 = loss().item();
    for (let i = 0; i < 3; i++) { opt.zeroGrad(); loss().backward(); opt.step(); }
    expect(loss().item()).toBeLessThan(l0);
    expect(sl.setThreads(1)).toBe(1);
  });

  it('setThreads refuses a count below 1 and threadInfo reports the pool', () => {
    expect(() => sl.setThreads(0)).toThrow(/setThreads: expected an integer from 1 to 256.*got 0/s);
    const info = sl.threadInfo();
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(info.max).toBeGreaterThanOrEqual(info.threads);
    // Node on shared memory always has a pool; its only limit is its size.
    if (sl.getBackend() === 'wasm' && info.max > 1) expect(info.reason).toBeNull();
  });
});
