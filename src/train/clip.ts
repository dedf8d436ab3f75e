/**
 * Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_: in place on each parameter's
 * `.grad`; parameters without a gradient are skipped.
 */
import { ConfigError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';

function grads(params: Iterable<Tensor>): Tensor[] {
  return [...params].flatMap((p) => (p.grad === null ? [] : [p.grad]));
}

/** ‖x‖_ord of one buffer (ord = Infinity: max |x|). */
function norm(x: ArrayLike<number>, ord: number): number {
  let s = 0;
  if (ord === Infinity) {
    for (let i = 0; i < x.length; i++) s = Math.max(s, Math.abs(x[i]!));
    return s;
  }
  for (let i = 0; i < x.length; i++) s += Math.abs(x[i]!) ** ord;
  return s ** (1 / ord);
}

/**
 * Scale all gradients together so their global norm is at most `maxNorm`. The total norm is the norm of the
 * per-tensor norms (= the norm of all gradients concatenated); the scale is maxNorm / (total + 1e-6), applied
 * only when below 1. Returns the total norm before clipping (NaN/Infinity pass through unless
 * `errorIfNonfinite`).
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number, normType = 2, opts: { errorIfNonfinite?: boolean } = {}): number {
  if (!(normType > 0)) throw new ConfigError({ op: 'clipGradNorm', expected: 'normType > 0 (or Infinity)', got: String(normType) });
  const gs = grads(params);
  if (gs.length === 0) return 0;
  const total = norm(gs.map((g) => norm(g.buf, normType)), normType);
  if (opts.errorIfNonfinite && !Number.isFinite(total)) {
    throw new ConfigError({
      op: 'clipGradNorm', expected: 'a finite total gradient norm', got: String(total),
      hint: 'a gradient overflowed; lower the learning rate or pass errorIfNonfinite: false',
    });
  }
  const coef = maxNorm / (total + 1e-6);
  if (coef < 1) for (const g of gs) for (let i = 0; i < g.size; i++) g.buf[i]! *= coef;
  return total;
}

/** Clamp every gradient value into [−clip, clip]. */
export function clipGradValue(params: Iterable<Tensor>, clip: number): void {
  if (!(clip >= 0)) throw new ConfigError({ op: 'clipGradValue', expected: 'clip ≥ 0', got: String(clip) });
  for (const g of grads(params)) for (let i = 0; i < g.size; i++) g.buf[i] = Math.min(clip, Math.max(-clip, g.buf[i]!));
}
