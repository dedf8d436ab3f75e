/**
 * relu(x)², RWKV's channel-mix activation, as one fused op. As `square(relu(x))` it was a relu, a multiply
 * and, in backward, the multiply's two products, their sum and relu's mask: five passes over the
 * channel mix's widest activation ([b, t, 3.5·d]) and four arrays. Values and gradients are the composed
 * ops' bit for bit (test/ops/token-mix.test.ts).
 */
import { fusedOp } from '../autograd/tape.js';
import { kernels } from '../kernels/index.js';
import type { Tensor } from '../tensor/tensor.js';
import { empty, emptyOverwritten } from './primitives.js';

const recordReluSquare = fusedOp<{ x: Tensor }>('reluSquare', ({ x }, [g]) => {
  const dx = emptyOverwritten(x.shape, g!.dtype);
  kernels().reluSquareBackward(x.buf, g!.buf, dx.buf, x.size);
  return [dx];
});

/** relu(x)² elementwise. */
export function reluSquare(x: Tensor): Tensor {
  const out = empty(x.shape, x.dtype);
  kernels().reluSquare(x.buf, out.buf, x.size);
  recordReluSquare([x], [out], { x });
  return out;
}
