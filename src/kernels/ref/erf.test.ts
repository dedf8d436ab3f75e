import { describe, expect, it } from 'vitest';
import { erf, gelu, geluGrad } from './erf.js';

describe('erf (reference kernel)', () => {
  // Values of the C library's erf (Python `math.erf`), which is correct to ~1 ulp.
  const known: [number, number][] = [
    [0, 0], [1e-3, 0.0011283787909692365], [0.5, 0.5204998778130465], [1, 0.8427007929497149],
    [-2, -0.9953222650189527], [2.4999, 0.9995928300996666], [2.5, 0.9995930479825550], [3, 0.9999779095030014],
    [-4.5, -0.9999999998033839], [5.9, 0.9999999999999999], [6.5, 1],
  ];
  it('matches the C library to a few ulp in both regions', () => {
    for (const [x, want] of known) expect(Math.abs(erf(x) - want), `erf(${x})`).toBeLessThan(1.5e-15);
  });
  it('GELU and its derivative: PyTorch values and a central difference', () => {
    // torch.nn.GELU()(torch.tensor([-1., 0.5, 3.], dtype=torch.float64))
    expect(gelu(-1)).toBeCloseTo(-0.15865525393145702, 15);
    expect(gelu(0.5)).toBeCloseTo(0.34573123063700656, 15);
    expect(gelu(3)).toBeCloseTo(2.99595030590511, 14);
    for (const x of [-5, -1.3, 0, 0.7, 3.53, 4]) {
      const fd = (gelu(x + 1e-6) - gelu(x - 1e-6)) / 2e-6;
      expect(Math.abs(geluGrad(x) - fd), `gelu'(${x})`).toBeLessThan(1e-9);
    }
  });
});
