/**
 * Composite twins of the fused state-space ops in scan.ts: the same equations built from primitives,
 * one timestep at a time, so autograd derives their gradients. They are the recurrent forms (what
 * mamba_ssm's `step` computes), slow but plainly right; tests check that the fused ops — including the
 * chunked SSD — equal them in value and gradient.
 */
import { add, concat, exp, expand, mul, narrow, permute, reshape, stack, sum } from './primitives.js';
import type { Tensor } from '../tensor/tensor.js';

/** Time step `i` of a batch-first tensor [b, t, ...] as [b, ...]. */
const at = (x: Tensor, i: number): Tensor => reshape(narrow(x, 1, i, 1), [x.shape[0]!, ...x.shape.slice(2)]);

/** Twin of `causalConv1d`: y_t = bias + Σ_j w[:, j] ⊙ e_{t+1+j} over e = [window, x]. */
export function causalConv1dComposite(x: Tensor, weight: Tensor, bias: Tensor | null, window: Tensor): { y: Tensor; window: Tensor } {
  const [b, t, c] = x.shape as [number, number, number];
  const k = weight.shape[weight.ndim - 1]!;
  const w = reshape(weight, [c, k]);
  const e = concat([permute(window, [0, 2, 1]), x], 1); // [b, k + t, c]
  let y: Tensor | null = null;
  for (let j = 0; j < k; j++) {
    const term = mul(narrow(e, 1, 1 + j, t), reshape(narrow(w, 1, j, 1), [c]));
    y = y === null ? term : add(y, term);
  }
  if (bias) y = add(y!, bias);
  return { y: y ?? reshape(x, [b, t, c]), window: permute(narrow(e, 1, t, k), [0, 2, 1]) };
}

/** Twin of `selectiveScan`: h ← exp(Δ_t A) ⊙ h + (Δ_t x_t) ⊗ B_t; y_t = h·C_t + D x_t, step by step. */
export function selectiveScanComposite(x: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | null,
  h0: Tensor): { y: Tensor; h: Tensor } {
  const [b, t, di] = x.shape as [number, number, number];
  const n = A.shape[1]!;
  let h = h0;
  const ys: Tensor[] = [];
  for (let i = 0; i < t; i++) {
    const dl = reshape(at(delta, i), [b, di, 1]), xi = at(x, i);
    const Bi = reshape(at(B, i), [b, 1, n]), Ci = reshape(at(C, i), [b, 1, n]);
    h = add(mul(exp(mul(dl, A)), h), mul(mul(dl, reshape(xi, [b, di, 1])), Bi));
    let y = sum(mul(h, Ci), 2);
    if (D) y = add(y, mul(D, xi));
    ys.push(y);
  }
  return { y: t ? stack(ys, 1) : reshape(x, [b, 0, di]), h };
}

/** Twin of `ssd`: the recurrent (chunk length 1) form with one scalar decay exp(Δ_t A) per head. */
export function ssdComposite(x: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | null,
  h0: Tensor): { y: Tensor; h: Tensor } {
  const [b, t, nh, hs] = x.shape as [number, number, number, number];
  const [g, n] = [B.shape[2]!, B.shape[3]!];
  // B and C per head: group ⌊i·g/nh⌋ serves head i.
  const perHead = (m: Tensor): Tensor => reshape(expand(reshape(m, [b, g, 1, 1, n]), [b, g, nh / g, 1, n]), [b, nh, 1, n]);
  const Dh = D === null ? null : D.size === nh ? reshape(D, [nh, 1]) : reshape(D, [nh, hs]);
  let h = h0;
  const ys: Tensor[] = [];
  for (let i = 0; i < t; i++) {
    const dl = at(delta, i), xi = at(x, i); // [b, nh], [b, nh, hs]
    const a = reshape(exp(mul(dl, A)), [b, nh, 1, 1]);
    const dx = reshape(mul(reshape(dl, [b, nh, 1]), xi), [b, nh, hs, 1]);
    h = add(mul(a, h), mul(dx, perHead(at(B, i))));
    let y = sum(mul(h, perHead(at(C, i))), 3); // [b, nh, hs]
    if (Dh) y = add(y, mul(Dh, xi));
    ys.push(y);
  }
  return { y: t ? stack(ys, 1) : reshape(x, [b, 0, nh, hs]), h };
}
