/**
 * RWKV's fused ops — the token-shift mix (src/ops/token-mix.ts) and relu² (src/ops/relu-square.ts) — against
 * the chains of primitives they replaced in the mixers: the same values and gradients bit for bit in float32
 * on every backend, float64 finite differences, and clear shape errors.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';
import { fusedOpNames } from '../../src/autograd/tape.js';
import { reluSquare } from '../../src/ops/relu-square.js';
import { tokenMix } from '../../src/ops/token-mix.js';
import { expectGradOk, leaf64 } from '../helpers.js';

const f32 = (shape: number[], seed: number, scale = 1): sl.Tensor => {
  const t = sl.randn(shape, { seed });
  for (let i = 0; i < t.size; i++) t.buf[i] = t.buf[i]! * scale;
  t.requiresGrad = true;
  return t;
};

const initial = sl.getBackend();
afterEach(() => sl.setBackend(initial));

describe.each(['ref', 'wasm'])('tokenMix on %s', (backend) => {
  // d = 258: not a multiple of 4 (the kernel's tail); rows × d above the wasm backend's minElements.
  for (const withM of [false, true]) {
    it(`equals x + xx ⊙ (c${withM ? ' + m' : ''}) bit for bit, values and gradients`, () => {
      sl.setBackend(backend);
      const x = f32([3, 5, 258], 1), xx = f32([3, 5, 258], 2), c = f32([1, 1, 258], 3, 0.5), m = withM ? f32([3, 5, 258], 4, 0.3) : null;
      const w = sl.randn([3, 5, 258], { seed: 5 });
      const leaves = m ? [x, xx, c, m] : [x, xx, c];
      const run = (f: () => sl.Tensor) => {
        for (const l of leaves) l.grad = null;
        const y = f();
        sl.sum(sl.mul(y, w)).backward();
        return [y, ...leaves.map((l) => l.grad!)].map((t) => Array.from(t.buf));
      };
      const fused = run(() => tokenMix(x, xx, c, m));
      const composed = run(() => sl.add(x, sl.mul(xx, m ? sl.add(c, m) : c)));
      expect(fused).toEqual(composed);
    });
  }
});

describe.each(['ref', 'wasm'])('reluSquare on %s', (backend) => {
  it('equals square(relu(x)) bit for bit, value and gradient (zeros, ±0 and NaN included)', () => {
    sl.setBackend(backend);
    const x = f32([4, 7, 97], 6, 2);
    [0, -0, NaN, Infinity, -Infinity].forEach((v, i) => { x.buf[i * 11] = v; });
    const w = sl.randn([4, 7, 97], { seed: 7 });
    const run = (f: () => sl.Tensor) => {
      x.grad = null;
      const y = f();
      sl.sum(sl.mul(y, w)).backward();
      return [y, x.grad!].map((t) => Array.from(t.buf));
    };
    expect(run(() => reluSquare(x))).toEqual(run(() => sl.square(sl.relu(x))));
  });
});

describe('reluSquare', () => {
  it('finite differences (float64) and registered on the tape', () => {
    const x = leaf64([3, 11], 8);
    for (let i = 0; i < x.size; i++) if (Math.abs(x.buf[i]!) < 0.05) x.buf[i] = 0.5; // away from the kink at 0
    expectGradOk(() => reluSquare(x), [x]);
    expect(fusedOpNames.has('reluSquare')).toBe(true);
  });
});

describe('tokenMix', () => {
  it('finite differences for x, xx, c and m (float64)', () => {
    const x = leaf64([2, 3, 5], 1), xx = leaf64([2, 3, 5], 2), c = leaf64([5], 3), m = leaf64([2, 3, 5], 4);
    expectGradOk(() => tokenMix(x, xx, c, m), [x, xx, c, m]);
    expectGradOk(() => tokenMix(x, xx, c), [x, xx, c]);
  });

  it('is registered on the tape', () => {
    expect(fusedOpNames.has('tokenMix')).toBe(true);
  });

  it('names the argument whose shape is wrong', () => {
    const x = sl.zeros([2, 3, 4]);
    expect(() => tokenMix(x, sl.zeros([2, 3, 5]), sl.zeros([4]))).toThrow(/xx of shape \[2, 3, 4\]/);
    expect(() => tokenMix(x, x, sl.zeros([4]), sl.zeros([2, 4]))).toThrow(/m of shape \[2, 3, 4\]/);
    expect(() => tokenMix(x, x, sl.zeros([5]))).toThrow(/c of 4 values/);
    expect(() => tokenMix(x, x, sl.zeros([2, 4]))).toThrow(/c of 4 values/);
  });
});
