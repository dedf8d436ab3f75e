/**
 * Finite-difference gradient checking in float64. The scalar objective is L = Σ fn(inputs) ⊙ w with a
 * fixed pseudo-random weighting w, so every output element contributes with a distinct weight.
 * Central differences: ∂L/∂x ≈ (L(x + ε) − L(x − ε)) / 2ε.
 */
import { Generator } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { backward, noGrad } from './tape.js';

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  seed?: number;
}

export interface GradcheckMismatch {
  input: number;
  index: number;
  analytic: number;
  numeric: number;
}

function objective(outs: Tensor | Tensor[], weights: Float64Array[]): number {
  const list = Array.isArray(outs) ? outs : [outs];
  let s = 0;
  list.forEach((o, k) => {
    for (let i = 0; i < o.size; i++) s += o.buf[i]! * weights[k]![i]!;
  });
  return s;
}

/**
 * Returns the mismatches (empty when the analytic gradient agrees). Inputs must be float64 leaves;
 * those with requiresGrad are checked. `fn` may return one tensor or several.
 */
export function gradcheck(fn: () => Tensor | Tensor[], inputs: readonly Tensor[], opts: GradcheckOptions = {}): GradcheckMismatch[] {
  const eps = opts.eps ?? 1e-6, atol = opts.atol ?? 1e-6, rtol = opts.rtol ?? 1e-5;
  for (const x of inputs) {
    if (x.dtype !== 'float64') throw new Error(`gradcheck: inputs must be float64, got ${x.dtype} for ${x}`);
    x.grad = null;
  }
  const g = new Generator(opts.seed ?? 1234);
  const outs0 = fn();
  const list0 = Array.isArray(outs0) ? outs0 : [outs0];
  const weights = list0.map((o) => Float64Array.from({ length: o.size }, () => g.normal()));
  // Analytic: backprop each output with its weights as the upstream gradient.
  list0.forEach((o, k) => {
    if (o.requiresGrad) backward(o, new Tensor(weights[k]!, o.shape));
  });
  const bad: GradcheckMismatch[] = [];
  noGrad(() => {
    inputs.forEach((x, xi) => {
      if (!x.requiresGrad) return;
      for (let i = 0; i < x.size; i++) {
        const orig = x.buf[i]!;
        x.buf[i] = orig + eps;
        const lp = objective(fn(), weights);
        x.buf[i] = orig - eps;
        const lm = objective(fn(), weights);
        x.buf[i] = orig;
        const numeric = (lp - lm) / (2 * eps);
        const analytic = x.grad ? x.grad.buf[i]! : 0;
        if (!(Math.abs(analytic - numeric) <= atol + rtol * Math.abs(numeric))) bad.push({ input: xi, index: i, analytic, numeric });
      }
    });
  });
  return bad;
}
