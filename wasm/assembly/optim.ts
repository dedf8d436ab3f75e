/**
 * Optimiser updates over n contiguous parameters, in place, 4 lanes at a time: PyTorch's SGD (momentum,
 * dampening, Nesterov, weight decay) and Adam / AdamW (amsgrad). Scalars that depend only on the step
 * (bias corrections) are computed once by the caller in float64 and passed in. The leftover n mod 4
 * values run the same formulas in scalar code.
 */
import { splat } from './vec';

// @ts-ignore: decorator
@inline function f4(i: i32): usize { return <usize>i << 2; }

/**
 * Adam: g' = g (+ wd·p, or p ← p·(1 − lr·wd) when decoupled); m ← β1 m + (1−β1) g'; v ← β2 v + (1−β2) g'²;
 * v̂ = max(vmax, v) with amsgrad; p ← p − stepSize · m / (√v̂ / bc2Sqrt + eps).
 */
export function adamUpdate(p: usize, g: usize, m: usize, v: usize, vmax: usize, n: i32,
  stepSize: f32, beta1: f32, beta2: f32, eps: f32, bc2Sqrt: f32, wd: f32, decoupled: bool, decay: f32): void {
  const b1 = splat(beta1), b2 = splat(beta2), c1 = splat(1 - beta1), c2 = splat(1 - beta2);
  const ss = splat(stepSize), ep = splat(eps), bc = splat(bc2Sqrt), wdv = splat(wd), dec = splat(decay);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const q = f4(i);
    let pv = v128.load(p + q), gv = v128.load(g + q);
    if (wd != 0) {
      if (decoupled) pv = f32x4.mul(pv, dec);
      else gv = f32x4.add(gv, f32x4.mul(wdv, pv));
    }
    const mv = f32x4.add(f32x4.mul(b1, v128.load(m + q)), f32x4.mul(c1, gv));
    const vv = f32x4.add(f32x4.mul(b2, v128.load(v + q)), f32x4.mul(c2, f32x4.mul(gv, gv)));
    v128.store(m + q, mv);
    v128.store(v + q, vv);
    let vh = vv;
    if (vmax) { vh = f32x4.max(v128.load(vmax + q), vv); v128.store(vmax + q, vh); }
    const den = f32x4.add(f32x4.div(f32x4.sqrt(vh), bc), ep);
    v128.store(p + q, f32x4.sub(pv, f32x4.div(f32x4.mul(ss, mv), den)));
  }
  for (; i < n; i++) {
    const q = f4(i);
    let pv = load<f32>(p + q), gv = load<f32>(g + q);
    if (wd != 0) {
      if (decoupled) pv *= decay;
      else gv += wd * pv;
    }
    const mv = beta1 * load<f32>(m + q) + (1 - beta1) * gv;
    const vv = beta2 * load<f32>(v + q) + (1 - beta2) * gv * gv;
    store<f32>(m + q, mv);
    store<f32>(v + q, vv);
    let vh = vv;
    if (vmax) { vh = max(load<f32>(vmax + q), vv); store<f32>(vmax + q, vh); }
    store<f32>(p + q, pv - (stepSize * mv) / (Mathf.sqrt(vh) / bc2Sqrt + eps));
  }
}

/** SGD: d = g + wd·p; with momentum b ← first ? d : μ b + (1 − dampening) d, d = nesterov ? d + μ b : b; p ← p − lr·d. */
export function sgdUpdate(p: usize, g: usize, buf: usize, n: i32, lr: f32, momentum: f32, dampening: f32,
  wd: f32, nesterov: bool, first: bool): void {
  const lrv = splat(lr), mu = splat(momentum), damp = splat(1 - dampening), wdv = splat(wd);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const q = f4(i);
    const pv = v128.load(p + q);
    let d = f32x4.add(v128.load(g + q), f32x4.mul(wdv, pv));
    if (buf) {
      const b = first ? d : f32x4.add(f32x4.mul(mu, v128.load(buf + q)), f32x4.mul(damp, d));
      v128.store(buf + q, b);
      d = nesterov ? f32x4.add(d, f32x4.mul(mu, b)) : b;
    }
    v128.store(p + q, f32x4.sub(pv, f32x4.mul(lrv, d)));
  }
  for (; i < n; i++) {
    const q = f4(i);
    const pv = load<f32>(p + q);
    let d = load<f32>(g + q) + wd * pv;
    if (buf) {
      const b = first ? d : momentum * load<f32>(buf + q) + (1 - dampening) * d;
      store<f32>(buf + q, b);
      d = nesterov ? d + momentum * b : b;
    }
    store<f32>(p + q, pv - lr * d);
  }
}
