/**
 * The WKV recurrences of RWKV-6 (x060) and RWKV-7 (x070) as fused ops: the whole sequence is one tape node
 * per call, with a hand-written backward (src/kernels/ref/wkv.ts), an initial state in and the final state
 * out, so chunked training (truncated BPTT) and chunked prefill continue exactly where the last chunk
 * stopped. Each has a composite twin built from primitives, one step at a time; tests prove the pairs agree.
 *
 * Shapes (batch-first, heads split): per-step inputs [B, T, H, N]; states [B, H, N, N]. RWKV-6's state is
 * key-major S[key, value] (ChatRWKV's layout), RWKV-7's value-major S[value, key] (rwkv_v7_demo_rnn.py's).
 * Decays are passed as factors w ∈ (0, 1); the models compute them from their logits (src/models/rwkv/mixer.ts).
 */
import { fusedOp, isGradEnabled } from '../autograd/tape.js';
import { kernels } from '../kernels/index.js';
import { wkvSavedSizes, type WkvSaved, type WkvShape } from '../kernels/types.js';
import { ShapeError, fmtShape } from '../tensor/errors.js';
import { sameShape } from '../tensor/shape.js';
import { allocFloat, type Tensor } from '../tensor/tensor.js';
import { add, empty, matmul, mul, narrow, reshape, resultDtype, stack } from './primitives.js';

export interface WkvResult {
  /** [B, T, H, N] */
  y: Tensor;
  /** The state after the last step, [B, H, N, N]. */
  state: Tensor;
}

function wkvShape(op: string, steps: Record<string, Tensor>, s0: Tensor, u: Tensor | null): WkvShape {
  const [first, ...rest] = Object.entries(steps);
  const x = first![1];
  if (x.ndim !== 4) throw new ShapeError({ op, expected: `${first![0]} [B, T, H, N]`, got: fmtShape(x.shape) });
  const [B, T, H, N] = x.shape as [number, number, number, number];
  for (const [name, t] of rest) {
    if (!sameShape(t.shape, x.shape)) throw new ShapeError({ op, expected: `${name} of shape ${fmtShape(x.shape)} (as ${first![0]})`, got: fmtShape(t.shape) });
  }
  if (u !== null && !sameShape(u.shape, [H, N])) throw new ShapeError({ op, expected: `u [H, N] = [${H}, ${N}]`, got: fmtShape(u.shape) });
  if (!sameShape(s0.shape, [B, H, N, N])) throw new ShapeError({ op, expected: `state [B, H, N, N] = [${B}, ${H}, ${N}, ${N}]`, got: fmtShape(s0.shape) });
  return { B, T, H, N };
}

/** Saved states for the backward pass, or null when no backward will run (the kernel keeps them as scratch). */
function allocSaved(dtype: Tensor['dtype'], s: WkvShape, inputs: readonly Tensor[]): WkvSaved | null {
  return isGradEnabled() && inputs.some((t) => t.requiresGrad) ? { states: allocFloat(dtype, wkvSavedSizes(s).states) } : null;
}

// ---------------------------------------------------------------- RWKV-6

interface Wkv6Saved { s: WkvShape; r: Tensor; k: Tensor; v: Tensor; w: Tensor; u: Tensor; s0: Tensor; saved: WkvSaved }
const recordWkv6 = fusedOp<Wkv6Saved>('wkv6', ({ s, r, k, v, w, u, s0, saved }, [dy, dsT]) => {
  const d = [r, k, v, w, u, s0].map((t) => empty(t.shape, t.dtype)) as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
  const [dr, dk, dv, dw, du, ds0] = d;
  kernels().wkv6Backward(s, { r: r.buf, k: k.buf, v: v.buf, w: w.buf, u: u.buf }, saved, dy?.buf ?? null, dsT?.buf ?? null,
    { dr: dr.buf, dk: dk.buf, dv: dv.buf, dw: dw.buf, du: du.buf, ds0: ds0.buf });
  return d;
});

/**
 * RWKV-6's WKV over whole sequences, per head with state S[key, value] starting from `s0`:
 *
 *   y_t = r_tᵀ (S_{t−1} + diag(u) k_t v_tᵀ),    S_t = diag(w_t) S_{t−1} + k_t v_tᵀ
 *
 * r, k, v and the decay factors w are [B, T, H, N]; the bonus u (`time_faaaa`) is [H, N]; s0 [B, H, N, N].
 */
export function wkv6(r: Tensor, k: Tensor, v: Tensor, w: Tensor, u: Tensor, s0: Tensor): WkvResult {
  const s = wkvShape('wkv6', { r, k, v, w }, s0, u);
  const dtype = resultDtype(r, k, v, w, u, s0);
  const inputs = [r, k, v, w, u, s0];
  const y = empty(r.shape, dtype), state = empty(s0.shape, dtype), saved = allocSaved(dtype, s, inputs);
  kernels().wkv6Forward(s, { r: r.buf, k: k.buf, v: v.buf, w: w.buf, u: u.buf }, s0.buf, y.buf, state.buf, saved);
  if (saved) recordWkv6(inputs, [y, state], { s, r, k, v, w, u, s0, saved });
  return { y, state };
}

/** One time step of a [B, T, H, N] input as [B, H, rows, cols] (a column N×1 or a row 1×N per head). */
const stepAt = (x: Tensor, t: number, rows: number, cols: number): Tensor => {
  const [B, , H] = x.shape as [number, number, number];
  return reshape(narrow(x, 1, t, 1), [B, H, rows, cols]);
};

/** The composite twin of `wkv6`: the same recurrence, one step at a time, from primitives. */
export function wkv6Composite(r: Tensor, k: Tensor, v: Tensor, w: Tensor, u: Tensor, s0: Tensor): WkvResult {
  const { B, T, H, N } = wkvShape('wkv6Composite', { r, k, v, w }, s0, u);
  const uCol = reshape(u, [H, N, 1]);
  let S = s0;
  const ys: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const kv = matmul(stepAt(k, t, N, 1), stepAt(v, t, 1, N)); // k_t v_tᵀ  [B, H, N, N]
    ys.push(reshape(matmul(stepAt(r, t, 1, N), add(S, mul(uCol, kv))), [B, H, N]));
    S = add(mul(stepAt(w, t, N, 1), S), kv);
  }
  return { y: T === 0 ? empty([B, 0, H, N], S.dtype) : stack(ys, 1), state: S };
}

// ---------------------------------------------------------------- RWKV-7

interface Wkv7Saved { s: WkvShape; r: Tensor; w: Tensor; k: Tensor; v: Tensor; a: Tensor; b: Tensor; s0: Tensor; saved: WkvSaved }
const recordWkv7 = fusedOp<Wkv7Saved>('wkv7', ({ s, r, w, k, v, a, b, s0, saved }, [dy, dsT]) => {
  const d = [r, w, k, v, a, b, s0].map((t) => empty(t.shape, t.dtype)) as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
  const [dr, dw, dk, dv, da, db, ds0] = d;
  kernels().wkv7Backward(s, { r: r.buf, w: w.buf, k: k.buf, v: v.buf, a: a.buf, b: b.buf }, saved, dy?.buf ?? null, dsT?.buf ?? null,
    { dr: dr.buf, dw: dw.buf, dk: dk.buf, dv: dv.buf, da: da.buf, db: db.buf, ds0: ds0.buf });
  return d;
});

/**
 * RWKV-7's WKV over whole sequences ("generalised delta rule"), per head with state S[value, key]:
 *
 *   S_t = S_{t−1} diag(w_t) + (S_{t−1} a_t) b_tᵀ + v_t k_tᵀ,    y_t = S_t r_t
 *
 * r, w (decay factors), k, v, a, b are [B, T, H, N]; s0 [B, H, N, N]. The model passes a = −k̂ and
 * b = k̂ ⊙ a_icl (the official `RWKV7_OP(r, w, k, v, -kk, kk*a)`).
 */
export function wkv7(r: Tensor, w: Tensor, k: Tensor, v: Tensor, a: Tensor, b: Tensor, s0: Tensor): WkvResult {
  const s = wkvShape('wkv7', { r, w, k, v, a, b }, s0, null);
  const dtype = resultDtype(r, w, k, v, a, b, s0);
  const inputs = [r, w, k, v, a, b, s0];
  const y = empty(r.shape, dtype), state = empty(s0.shape, dtype), saved = allocSaved(dtype, s, inputs);
  kernels().wkv7Forward(s, { r: r.buf, w: w.buf, k: k.buf, v: v.buf, a: a.buf, b: b.buf }, s0.buf, y.buf, state.buf, saved);
  if (saved) recordWkv7(inputs, [y, state], { s, r, w, k, v, a, b, s0, saved });
  return { y, state };
}

/** The composite twin of `wkv7`: the same recurrence, one step at a time, from primitives. */
export function wkv7Composite(r: Tensor, w: Tensor, k: Tensor, v: Tensor, a: Tensor, b: Tensor, s0: Tensor): WkvResult {
  const { B, T, H, N } = wkvShape('wkv7Composite', { r, w, k, v, a, b }, s0, null);
  let S = s0;
  const ys: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const sa = matmul(S, stepAt(a, t, N, 1)); // S a  [B, H, N, 1]
    S = add(add(mul(S, stepAt(w, t, 1, N)), matmul(sa, stepAt(b, t, 1, N))), matmul(stepAt(v, t, N, 1), stepAt(k, t, 1, N)));
    ys.push(reshape(matmul(S, stepAt(r, t, N, 1)), [B, H, N]));
  }
  return { y: T === 0 ? empty([B, 0, H, N], S.dtype) : stack(ys, 1), state: S };
}
