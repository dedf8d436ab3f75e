// The tape sums a tensor's gradients in place once the sum is its own (a buffer this backward pass
// allocated and handed to nobody yet). These graphs make every path of that bookkeeping matter: fan-out
// to one leaf and to one intermediate, a rule that hands one gradient to two inputs (add's [g, g]), a
// caller's upstream gradient passed straight through, and .grad from an earlier backward, which must
// stay as it was. Expected values are closed forms, exact in float32 (small integers).
import { describe, expect, it } from 'vitest';
import * as sl from '../src/index.js';

const leaf = (vals: number[]) => sl.tensor(vals, undefined, { requiresGrad: true });
const values = (t: sl.Tensor | null) => Array.from(t!.data);

describe('gradient accumulation on the tape', () => {
  it('a leaf used five times (add hands one gradient to both inputs)', () => {
    const x = leaf([1, -2, 3, 0.5]);
    const y = sl.sum(sl.add(sl.add(sl.add(x, x), sl.mul(x, 3)), sl.sub(x, sl.neg(x))));
    y.backward();
    expect(values(x.grad)).toEqual([7, 7, 7, 7]); // 2 + 3 + 1 + 1
  });

  it('an intermediate with fan-out, and an upstream gradient that must not change', () => {
    const x = leaf([1, 2, 3]);
    const h = sl.mul(x, 2); // dL/dh collects from four uses, two of them one tensor from add
    const y = sl.add(sl.add(sl.add(h, h), sl.mul(h, h)), h);
    const up = sl.tensor([1, 10, 100]);
    y.backward(up);
    // dy/dh = 3 + 2h, dh/dx = 2.
    expect(values(x.grad)).toEqual([1 * 2 * (3 + 4), 10 * 2 * (3 + 8), 100 * 2 * (3 + 12)]);
    expect(values(up)).toEqual([1, 10, 100]);
  });

  it('a passed-through upstream gradient shared by two inputs is not summed into', () => {
    const a = leaf([1, 2]), b = leaf([3, 4]);
    const s = sl.add(a, b); // add's rule returns [g, g]: a.grad and b.grad start from one tensor
    const y = sl.add(sl.add(s, a), b); // …and both then receive a second gradient
    const up = sl.tensor([5, 7]);
    y.backward(up);
    expect(values(a.grad)).toEqual([10, 14]);
    expect(values(b.grad)).toEqual([10, 14]);
    expect(values(up)).toEqual([5, 7]);
  });

  it('a second backward adds into a new tensor; the first .grad keeps its values', () => {
    const x = leaf([1, 2, 3]);
    const f = () => sl.sum(sl.add(sl.mul(x, x), x));
    f().backward();
    const first = x.grad!;
    expect(values(first)).toEqual([3, 5, 7]);
    f().backward();
    expect(values(x.grad)).toEqual([6, 10, 14]);
    expect(values(first)).toEqual([3, 5, 7]);
  });

  it('large gradients (the backend\'s add) sum exactly as the reference backend does', () => {
    const n = 70_000;
    const grad = () => {
      const x = sl.tensor(Array.from({ length: n }, (_, i) => Math.sin(i)), undefined, { requiresGrad: true });
      const w = sl.tensor(Array.from({ length: n }, (_, i) => Math.cos(i)));
      sl.sum(sl.add(sl.add(sl.mul(x, w), sl.mul(x, sl.mul(w, 3))), sl.mul(x, x))).backward();
      return x.grad!.data;
    };
    const prev = sl.getBackend();
    sl.setBackend('ref');
    const want = grad();
    sl.setBackend(prev);
    const got = grad();
    let bad = -1;
    for (let i = 0; i < n && bad < 0; i++) if (got[i] !== want[i]) bad = i;
    expect(bad, `first differing x.grad[${bad}]: ${got[bad]} vs ref ${want[bad]}`).toBe(-1);
  });

  it('a broadcast weight\'s gradient is right below and above the reused product buffer\'s cap (2^20 elements)', () => {
    for (const rows of [3, 1100, 5]) { // 5 after 1100: the small path must not see the large one's leftovers
      const d = 1000;
      const x = sl.randn([rows, d], { seed: rows });
      const up = sl.randn([rows, d], { seed: rows + 1 });
      const w = sl.randn([d], { seed: 7, requiresGrad: true });
      sl.sum(sl.mul(sl.mul(x, w), up)).backward();
      const [xs, us, g] = [x.data, up.data, w.grad!.data];
      let worst = 0;
      for (let j = 0; j < d; j++) {
        let want = 0, scale = 0;
        for (let i = 0; i < rows; i++) { want += Math.fround(us[i * d + j]!) * xs[i * d + j]!; scale += Math.abs(us[i * d + j]! * xs[i * d + j]!); }
        worst = Math.max(worst, Math.abs(g[j]! - want) / (scale + 1e-30));
      }
      expect(worst, `rows ${rows}`).toBeLessThan(1e-5);
    }
  });
});
