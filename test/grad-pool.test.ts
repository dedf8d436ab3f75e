// The backward pass's recycled buffers (src/autograd/grad-pool.ts): training with them gives the bits of
// training without them, on every backend and thread count, even when every buffer handed out uncleared is
// poisoned with NaN (so an op that reads an element of an "overwritten" output before writing it fails here);
// leaves' .grad never share a recycled buffer; a steady loop allocates nothing after its first pass.
import { afterEach, describe, expect, it } from 'vitest';
import * as sl from '../src/index.js';
import { GRAD_POOL_MIN, setGradBufferSource, setGradPoolEnabled, setGradPoolPoison } from '../src/autograd/grad-pool.js';
import { fusedOp } from '../src/autograd/tape.js';
import { registerBackend, releaseResident, residentZeros } from '../src/kernels/index.js';
import { setFloatScope } from '../src/tensor/tensor.js';
import { createWasmKernels, loadWasmModuleSync } from '../src/kernels/wasm/index.js';
import { tinyConfigs } from './tiny-configs.js';

const split = createWasmKernels(loadWasmModuleSync('relaxed-shared')!, { minGemmWork: 0, minElements: 0, threads: 2, minMacsPerThread: 1 });
await split.pool?.whenOnline();
registerBackend({ ...split, name: 'wasm-split-everything' });

// Wide enough that activations and gradients reach GRAD_POOL_MIN values (4 × 16 rows × 32 = 2,048).
const CONFIGS = tinyConfigs(32, 64);
const N = 4, T = 16;
const ids = (V: number, shift: number) => Array.from({ length: N }, (_, b) => Array.from({ length: T }, (_, i) => (i * 7 + b * 5 + shift) % V));

/** Losses, then every parameter and its last gradient, after three AdamW steps. */
function train(family: string): number[] {
  sl.manualSeed(5);
  const model = sl.models.createModel(family, CONFIGS[family as keyof typeof CONFIGS]);
  const opt = new sl.optim.AdamW(model.parameters(), { lr: 1e-2 });
  const V = model.vocabSize;
  const out: number[] = [];
  for (let step = 0; step < 3; step++) {
    opt.zeroGrad();
    const { logits } = model.forward(ids(V, step));
    const loss = sl.losses.crossEntropy(sl.reshape(logits, [-1, V]), ids(V, step + 1).flat());
    loss.backward();
    if (step < 2) opt.step();
    out.push(loss.item());
  }
  for (const p of model.parameters()) out.push(...p.data, ...(p.grad?.data ?? []));
  return out;
}

function firstDifference(a: number[], b: number[]): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

afterEach(() => {
  setGradPoolEnabled(true);
  setGradPoolPoison(false);
  split.setThreads(2);
});

describe('training with recycled gradient buffers equals training without, bit for bit', () => {
  const prev = sl.getBackend();
  for (const backend of ['ref', 'wasm', 'wasm-split-everything 1T', 'wasm-split-everything 2T']) {
    for (const family of Object.keys(CONFIGS)) {
      it(`${family} on ${backend}, uncleared buffers poisoned`, () => {
        const [name, threads] = backend.split(' ');
        sl.setBackend(name!);
        if (threads) split.setThreads(Number(threads[0]));
        try {
          setGradPoolEnabled(false);
          const plain = train(family);
          setGradPoolEnabled(true);
          setGradPoolPoison(true);
          const pooled = train(family);
          expect(plain.every(Number.isFinite)).toBe(true);
          const bad = firstDifference(plain, pooled);
          expect(bad, `first differing value at ${bad}: ${pooled[bad]} vs ${plain[bad]}`).toBe(-1);
        } finally {
          sl.setBackend(prev);
        }
      });
    }
  }
});

describe('the pool', () => {
  it("never hands a leaf's .grad a recycled buffer", () => {
    const w = sl.randn([64, 32], { requiresGrad: true });
    const loss = () => { const x = sl.randn([32, 64]); return sl.sum(sl.mul(sl.matmul(w, x), sl.matmul(w, x))); };
    loss().backward();
    const first = w.grad!, kept = Float32Array.from(first.data);
    w.grad = null;
    for (let i = 0; i < 3; i++) { loss().backward(); w.grad = null; }
    expect(Array.from(first.data)).toEqual(Array.from(kept));
  });

  it('allocates nothing after the first pass of a steady loop, and drops what a pass did not use', () => {
    let made = 0, dropped = 0;
    setGradBufferSource({
      alloc: (n) => { made++; return residentZeros(n); },
      release: (a) => { dropped++; releaseResident(a); },
    });
    try {
      const w = sl.randn([64, 48], { requiresGrad: true });
      const pass = (cols: number) => {
        const x = sl.randn([48, cols]);
        sl.sum(sl.tanh(sl.mul(sl.matmul(w, x), 2))).backward();
        w.grad = null;
      };
      pass(64);
      const afterFirst = made;
      expect(afterFirst).toBeGreaterThan(0); // 64 × 64 = 4,096 ≥ GRAD_POOL_MIN: the pass's gradients came from the pool
      expect(64 * 64).toBeGreaterThanOrEqual(GRAD_POOL_MIN);
      pass(64);
      pass(64);
      expect(made).toBe(afterFirst);
      expect(dropped).toBe(0);
      pass(80); // new shapes: new buffers, and the 64-column ones it did not use are released at its end
      expect(made).toBeGreaterThan(afterFirst);
      expect(dropped).toBeGreaterThan(0);
    } finally {
      setGradBufferSource({ alloc: residentZeros, release: (a) => { releaseResident(a); } });
    }
  });

  it('closes its scope when a backward rule throws', () => {
    const boom = fusedOp<null>('test.throwingRule', () => { throw new Error('rule failed'); });
    const x = sl.randn([64, 32], { requiresGrad: true });
    const y = sl.tanh(x), out = new sl.Tensor(new Float32Array(1), []);
    boom([y], [out], null);
    expect(() => out.backward()).toThrow('rule failed');
    expect(setFloatScope(null)).toBe(null); // no scope left open: allocation is ordinary again
    sl.sum(sl.tanh(x)).backward(); // and the next pass works
    expect(x.grad!.data.every(Number.isFinite)).toBe(true);
  });
});
