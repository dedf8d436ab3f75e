/**
 * RWKV's token-shift mix, x + xx ⊙ (c + m), as one fused op: the RWKV-6 and RWKV-7 mixers compute it 7–8
 * times per block over [b, t, d], and as an add, a multiply and an add it cost three kernel calls, three
 * output arrays and their copies in forward and as many again in backward. The values and gradients are the
 * composed ops' bit for bit (the same roundings in the same order; test/ops/token-mix.test.ts).
 */
import { fusedOp } from '../autograd/tape.js';
import { kernels } from '../kernels/index.js';
import { ShapeError, fmtShape } from '../tensor/errors.js';
import { sameShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { empty, emptyOverwritten, resultDtype, sumToShape } from './primitives.js';

interface TokenMixSaved { xx: Tensor; c: Tensor; m: Tensor | null; rows: number; d: number }
const recordTokenMix = fusedOp<TokenMixSaved>('tokenMix', ({ xx, c, m, rows, d }, [g]) => {
  const gxx = emptyOverwritten(xx.shape, g!.dtype), gm = emptyOverwritten(xx.shape, g!.dtype);
  kernels().tokenMixBackward(g!.buf, xx.buf, c.buf, m?.buf ?? null, gxx.buf, gm.buf, rows, d);
  // ∂L/∂x = g as an add passes it on; ∂L/∂c = Σ over rows of g ⊙ xx, as the multiply's rule sums it.
  return [g!, gxx, sumToShape(gm, c.shape), m ? gm : null];
});

/**
 * out = x + xx ⊙ (c + m) over x, xx [..., d], with c holding d values (any shape of d values, [d] or
 * [1, 1, d]) and m of x's shape; without m, out = x + xx ⊙ c.
 */
export function tokenMix(x: Tensor, xx: Tensor, c: Tensor, m: Tensor | null = null): Tensor {
  const d = x.shape[x.ndim - 1] ?? 0;
  if (!sameShape(xx.shape, x.shape)) throw new ShapeError({ op: 'tokenMix', expected: `xx of shape ${fmtShape(x.shape)} (as x)`, got: fmtShape(xx.shape) });
  if (m && !sameShape(m.shape, x.shape)) throw new ShapeError({ op: 'tokenMix', expected: `m of shape ${fmtShape(x.shape)} (as x)`, got: fmtShape(m.shape) });
  if (x.ndim < 1 || c.size !== d || c.shape.some((n, i) => i < c.ndim - 1 && n !== 1)) {
    throw new ShapeError({ op: 'tokenMix', expected: `c of ${d} values, one per channel ([${d}] or [1, …, ${d}])`, got: fmtShape(c.shape) });
  }
  const dtype = resultDtype(x, xx, c, ...(m ? [m] : []));
  const out = empty(x.shape, dtype), rows = d === 0 ? 0 : x.size / d;
  kernels().tokenMix(x.buf, xx.buf, c.buf, m?.buf ?? null, out.buf, rows, d);
  recordTokenMix(m ? [x, xx, c, m] : [x, xx, c], [out], { xx, c, m, rows, d });
  return out;
}
