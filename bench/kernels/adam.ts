/** One Adam step on 1M parameters through `Kernels.adamUpdate` (checked against ref on a slice first). */
import { refKernels } from '../../src/kernels/ref/index.js';
import type { Kernels } from '../../src/kernels/types.js';
import { measure, type Row } from '../harness.js';

export function benchAdam(k: Kernels, quick: boolean): Row[] {
  const n = 1 << 20;
  const p = new Float32Array(n), g = new Float32Array(n), m = new Float32Array(n), v = new Float32Array(n);
  for (let i = 0; i < n; i++) { p[i] = Math.sin(i); g[i] = Math.cos(i * 0.37) * 0.01; }
  const o = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true, step: 3, amsgrad: false };
  const check = [p.slice(0, 4099), g.slice(0, 4099), m.slice(0, 4099), v.slice(0, 4099)] as const;
  const want = check.map((a) => a.slice());
  k.adamUpdate(check[0], check[1], check[2], check[3], null, 4099, o);
  refKernels.adamUpdate(want[0]!, want[1]!, want[2]!, want[3]!, null, 4099, o);
  for (let i = 0; i < 4099; i++) {
    if (Math.abs(check[0][i]! - want[0]![i]!) > 1e-6) throw new Error(`adam on ${k.name}: p[${i}] = ${check[0][i]}, ref ${want[0]![i]}`);
  }
  const timing = measure(() => k.adamUpdate(p, g, m, v, null, n, o), { warmup: 2, minRuns: 5, minTime: quick ? 300 : 1500 });
  return [{ group: 'optim', workload: 'AdamW step, 1M params', backend: k.name, timing, value: timing.median, unit: 'ms' }];
}
