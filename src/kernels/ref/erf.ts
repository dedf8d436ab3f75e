/**
 * The error function, accurate to a few ulp in double precision (≤ 1.2e-15 absolute over the real line,
 * checked against the C library's erf), plus the exact (erf-based) GELU and its derivative.
 *
 * Why not Abramowitz–Stegun 7.1.26: its 1.5e-7 absolute error is fine for float32 outputs but ruins
 * float64 finite-difference gradient checks, which need the function smooth and exact to ~1e-12.
 *
 * Two regions, both analytic (so the result is smooth up to rounding):
 * - |x| < 2.5: the everywhere-convergent series with positive terms (A&S 7.1.6)
 *       erf(x) = 2/√π · e^{−x²} · Σ_{n≥0} 2ⁿ x^{2n+1} / (1·3·…·(2n+1)),
 *   which has no cancellation, unlike the alternating Taylor series (A&S 7.1.5) that loses ~3 digits at x = 3.
 * - |x| ≥ 2.5: erf = 1 − erfc with Laplace's continued fraction (A&S 7.1.14)
 *       erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …))))),
 *   evaluated bottom-up from 60 levels (converged to double precision from x = 2.5 on).
 * - |x| ≥ 6: erfc(x) < 2.2e-17, below half an ulp of 1, so erf = ±1 exactly.
 */
const TWO_OVER_SQRT_PI = 1.1283791670955126; // 2/√π
const INV_SQRT_PI = 0.5641895835477563; // 1/√π
const SQRT1_2 = Math.SQRT1_2; // 1/√2
const INV_SQRT_2PI = 0.3989422804014327; // 1/√(2π)

export function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 2.5) {
    const x2 = x * x;
    let term = x, sum = x;
    for (let n = 1; n < 100; n++) {
      term *= (2 * x2) / (2 * n + 1);
      sum += term;
      if (Math.abs(term) <= 1e-17 * Math.abs(sum)) break;
    }
    return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
  }
  if (a >= 6) return x > 0 ? 1 : -1;
  let f = a;
  for (let n = 60; n >= 1; n--) f = a + n / 2 / f;
  const erfc = (INV_SQRT_PI * Math.exp(-a * a)) / f;
  return x > 0 ? 1 - erfc : erfc - 1;
}

/** GELU(x) = x·Φ(x) = x/2 · (1 + erf(x/√2)) — PyTorch's `nn.GELU()` (approximate='none'). */
export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x * SQRT1_2));
}

/** d GELU/dx = Φ(x) + x·φ(x), with φ(x) = e^{−x²/2}/√(2π). */
export function geluGrad(x: number): number {
  return 0.5 * (1 + erf(x * SQRT1_2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}
