/**
 * Causal multi-head self-attention as one fused op over the whole block of queries (forward and a
 * hand-written backward, one tape node), and its composite twin built from primitives, which is nanoGPT's
 * "manual implementation of attention":
 *
 *   att = (q kᵀ) / √D;   att = masked_fill(att, future, −∞);   att = softmax(att);   y = att v
 *
 * Shapes (batch-first, heads side by side, as a fused QKV projection produces them):
 *   q [B, Tq, C], k and v [B, Tk, C] with C = H·D and Tk ≥ Tq; y [B, Tq, C].
 * The queries are the last Tq of the Tk positions: Tq = Tk is a whole sequence, Tq < Tk continues over a
 * KV cache holding the first Tk − Tq positions (the decode step is Tq = 1).
 */
import { fusedOp } from '../autograd/tape.js';
import { kernels } from '../kernels/index.js';
import type { AttentionShape } from '../kernels/types.js';
import { ConfigError, ShapeError, fmtShape } from '../tensor/errors.js';
import type { Generator } from '../tensor/random.js';
import { Tensor, allocFloat, type FloatArray } from '../tensor/tensor.js';
import { dropout } from './composite.js';
import { add, empty, matmul, mul, permute, reshape, resultDtype, softmax } from './primitives.js';

function attentionShape(op: string, q: Tensor, k: Tensor, v: Tensor, nHead: number): AttentionShape {
  if (q.ndim !== 3 || k.ndim !== 3 || v.ndim !== 3) {
    throw new ShapeError({ op, expected: 'q [B, Tq, C], k and v [B, Tk, C]', got: `${fmtShape(q.shape)}, ${fmtShape(k.shape)}, ${fmtShape(v.shape)}` });
  }
  const [B, Tq, C] = q.shape as [number, number, number];
  const Tk = k.shape[1]!;
  if (k.shape[0] !== B || k.shape[2] !== C || v.shape[0] !== B || v.shape[1] !== Tk || v.shape[2] !== C || Tk < Tq) {
    throw new ShapeError({
      op, expected: `k and v [${B}, Tk, ${C}] with Tk ≥ Tq = ${Tq} (q is ${fmtShape(q.shape)})`,
      got: `k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}`,
    });
  }
  if (!Number.isInteger(nHead) || nHead < 1 || C % nHead !== 0) {
    throw new ConfigError({ op, expected: `nHead a positive divisor of the width C = ${C}`, got: String(nHead) });
  }
  const D = C / nHead;
  return { B, H: nHead, Tq, Tk, D, scale: 1 / Math.sqrt(D) };
}

interface AttentionSaved { s: AttentionShape; q: Tensor; k: Tensor; v: Tensor; lse: FloatArray }
const recordAttention = fusedOp<AttentionSaved>('causalAttention', ({ s, q, k, v, lse }, [dy]) => {
  const dtype = resultDtype(q, k, v);
  const dq = empty(q.shape, dtype), dk = empty(k.shape, dtype), dv = empty(v.shape, dtype);
  kernels().attentionBackward(s, q.buf, k.buf, v.buf, lse, dy!.buf, dq.buf, dk.buf, dv.buf);
  return [dq, dk, dv];
});

/**
 * Causal multi-head attention, fused: y = softmax(q kᵀ/√D + causal mask) v per head, with queries at the
 * last Tq of the Tk key positions. Saves only the rows' log-sum-exp for backward (see kernels/ref/attention.ts).
 */
export function causalAttention(q: Tensor, k: Tensor, v: Tensor, nHead: number): Tensor {
  const s = attentionShape('causalAttention', q, k, v, nHead);
  const dtype = resultDtype(q, k, v);
  const y = empty(q.shape, dtype);
  const lse = allocFloat(dtype, s.B * s.H * s.Tq);
  kernels().attentionForward(s, q.buf, k.buf, v.buf, y.buf, lse);
  recordAttention([q, k, v], [y], { s, q, k, v, lse });
  return y;
}

/** The additive causal mask [Tq, Tk]: 0 where query i may see key j (j ≤ Tk − Tq + i), −∞ elsewhere. */
export function causalMask(Tq: number, Tk: number, dtype: Tensor['dtype'] = 'float32'): Tensor {
  const m = empty([Tq, Tk], dtype);
  for (let i = 0; i < Tq; i++) for (let j = Tk - Tq + i + 1; j < Tk; j++) m.buf[i * Tk + j] = -Infinity;
  return m;
}

export interface AttentionDropout {
  /** Probability of dropping an attention weight (nanoGPT's attn_dropout), applied only when `training`. */
  p: number;
  training: boolean;
  generator?: Generator;
}

/**
 * The composite twin of `causalAttention`, from matmul, softmax and an additive −∞ mask (gradients from
 * the primitives' rules). It also serves training with attention dropout, which the fused op leaves out.
 */
export function causalAttentionComposite(q: Tensor, k: Tensor, v: Tensor, nHead: number, drop?: AttentionDropout): Tensor {
  const { B, H, Tq, Tk, D, scale } = attentionShape('causalAttentionComposite', q, k, v, nHead);
  const heads = (x: Tensor, T: number) => permute(reshape(x, [B, T, H, D]), [0, 2, 1, 3]); // [B, H, T, D]
  const qh = heads(q, Tq), kh = heads(k, Tk), vh = heads(v, Tk);
  let att = mul(matmul(qh, kh, { transB: true }), scale); //   [B, H, Tq, Tk]
  att = softmax(add(att, causalMask(Tq, Tk, att.dtype)));
  if (drop) att = dropout(att, drop.p, drop.training, drop.generator);
  const y = matmul(att, vh); //                                   [B, H, Tq, D]
  return reshape(permute(y, [0, 2, 1, 3]), [B, Tq, H * D]);
}
