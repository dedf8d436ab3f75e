/**
 * Row-wise kernels on [rows, cols] float32 matrices: softmax / log-softmax and their backward,
 * cross-entropy, LayerNorm and RMSNorm forward and backward. Each row is a few vectorised passes
 * (sums kept in 4 lanes, folded at the end); leftover columns run scalar. Formulas and conventions are
 * those of src/kernels/ref/index.ts.
 */
import { vexp } from './math';
import { hmax, hsum, splat } from './vec';

// @ts-ignore: decorator
@inline function f4(i: i32): usize { return <usize>i << 2; }
// @ts-ignore: decorator
@inline function sexp(x: f32): f32 { return f32x4.extract_lane(vexp(f32x4.splat(x)), 0); }
// vexp (not vexpCore) throughout: exp(−∞) must be exactly 0 for masked entries, and NaN must propagate.

/** max over a row. */
function rowMax(x: usize, cols: i32): f32 {
  let m = splat(-Infinity);
  let j = 0;
  for (; j + 4 <= cols; j += 4) m = f32x4.max(m, v128.load(x + f4(j)));
  let s = hmax(m);
  for (; j < cols; j++) s = max(s, load<f32>(x + f4(j)));
  return s;
}

/** Σ exp(x − m) over a row (m is the row max, so every term is ≤ 1). */
function rowSumExp(x: usize, cols: i32, m: f32): f32 {
  const mv = splat(m);
  let acc = splat(0);
  let j = 0;
  for (; j + 4 <= cols; j += 4) acc = f32x4.add(acc, vexp(f32x4.sub(v128.load(x + f4(j)), mv)));
  let s = hsum(acc);
  for (; j < cols; j++) s += sexp(load<f32>(x + f4(j)) - m);
  return s;
}

/** Softmax (log = false) or log-softmax over each row: out = x − lse or exp(x − lse). */
export function softmaxRows(x: usize, out: usize, rows: i32, cols: i32, log: bool): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + f4(r * cols), orow = out + f4(r * cols);
    const m = rowMax(xr, cols);
    if (m == -Infinity) {
      // A row of −∞ (fully masked): ref gives NaN (−∞ − −∞); keep that convention.
      for (let j = 0; j < cols; j++) store<f32>(orow + f4(j), NaN);
      continue;
    }
    const lse = m + <f32>Math.log(<f64>rowSumExp(xr, cols, m));
    const lv = splat(lse);
    let j = 0;
    if (log) {
      for (; j + 4 <= cols; j += 4) v128.store(orow + f4(j), f32x4.sub(v128.load(xr + f4(j)), lv));
      for (; j < cols; j++) store<f32>(orow + f4(j), load<f32>(xr + f4(j)) - lse);
    } else {
      for (; j + 4 <= cols; j += 4) v128.store(orow + f4(j), vexp(f32x4.sub(v128.load(xr + f4(j)), lv)));
      for (; j < cols; j++) store<f32>(orow + f4(j), sexp(load<f32>(xr + f4(j)) - lse));
    }
  }
}

/** Backward of softmax (y = p: dx = p ⊙ (dy − Σ p·dy)) or log-softmax (y = log p: dx = dy − p · Σ dy). */
export function softmaxBackwardRows(y: usize, dy: usize, dx: usize, rows: i32, cols: i32, log: bool): void {
  for (let r = 0; r < rows; r++) {
    const o = f4(r * cols);
    const yr = y + o, gr = dy + o, xr = dx + o;
    let acc = splat(0);
    let j = 0;
    if (log) {
      for (; j + 4 <= cols; j += 4) acc = f32x4.add(acc, v128.load(gr + f4(j)));
      let s = hsum(acc);
      for (; j < cols; j++) s += load<f32>(gr + f4(j));
      const sv = splat(s);
      j = 0;
      for (; j + 4 <= cols; j += 4) {
        v128.store(xr + f4(j), f32x4.sub(v128.load(gr + f4(j)), f32x4.mul(vexp(v128.load(yr + f4(j))), sv)));
      }
      for (; j < cols; j++) store<f32>(xr + f4(j), load<f32>(gr + f4(j)) - sexp(load<f32>(yr + f4(j))) * s);
    } else {
      for (; j + 4 <= cols; j += 4) acc = f32x4.add(acc, f32x4.mul(v128.load(yr + f4(j)), v128.load(gr + f4(j))));
      let s = hsum(acc);
      for (; j < cols; j++) s += load<f32>(yr + f4(j)) * load<f32>(gr + f4(j));
      const sv = splat(s);
      j = 0;
      for (; j + 4 <= cols; j += 4) {
        v128.store(xr + f4(j), f32x4.mul(v128.load(yr + f4(j)), f32x4.sub(v128.load(gr + f4(j)), sv)));
      }
      for (; j < cols; j++) store<f32>(xr + f4(j), load<f32>(yr + f4(j)) * (load<f32>(gr + f4(j)) - s));
    }
  }
}

/** Cross-entropy per row: logp = log-softmax(logits); loss = −logp[target] (0 for ignored rows). */
export function crossEntropyForwardRows(logits: usize, targets: usize, rows: i32, cols: i32, ignoreIndex: i32,
  loss: usize, logp: usize): void {
  softmaxRows(logits, logp, rows, cols, true);
  for (let r = 0; r < rows; r++) {
    const t = load<i32>(targets + f4(r));
    store<f32>(loss + f4(r), t == ignoreIndex ? 0 : -load<f32>(logp + f4(r * cols + t)));
  }
}

/** dlogits = dloss[row] · (softmax − onehot(target)) for kept rows, 0 for ignored rows. */
export function crossEntropyBackwardRows(logp: usize, targets: usize, rows: i32, cols: i32, ignoreIndex: i32,
  dloss: usize, dlogits: usize): void {
  for (let r = 0; r < rows; r++) {
    const t = load<i32>(targets + f4(r));
    const lr = logp + f4(r * cols), dr = dlogits + f4(r * cols);
    if (t == ignoreIndex) { memory.fill(dr, 0, f4(cols)); continue; }
    const g = load<f32>(dloss + f4(r));
    const gv = splat(g);
    let j = 0;
    for (; j + 4 <= cols; j += 4) v128.store(dr + f4(j), f32x4.mul(gv, vexp(v128.load(lr + f4(j)))));
    for (; j < cols; j++) store<f32>(dr + f4(j), g * sexp(load<f32>(lr + f4(j))));
    store<f32>(dr + f4(t), load<f32>(dr + f4(t)) - g);
  }
}

/** Σ over a row. */
// @ts-ignore: decorator
@inline function rowSum(x: usize, cols: i32): f32 {
  let acc = splat(0);
  let j = 0;
  for (; j + 4 <= cols; j += 4) acc = f32x4.add(acc, v128.load(x + f4(j)));
  let s = hsum(acc);
  for (; j < cols; j++) s += load<f32>(x + f4(j));
  return s;
}

/** y = (x − μ)·rstd ⊙ w + b per row (w, b may be 0 = absent); saves mean and rstd. Biased variance. */
export function layerNormForwardRows(x: usize, w: usize, b: usize, y: usize, mean: usize, rstd: usize,
  rows: i32, cols: i32, eps: f32): void {
  const inv: f32 = cols > 0 ? <f32>1 / <f32>cols : 0;
  for (let r = 0; r < rows; r++) {
    const xr = x + f4(r * cols), yr = y + f4(r * cols);
    const mu = rowSum(xr, cols) * inv;
    const mv = splat(mu);
    let acc = splat(0);
    let j = 0;
    for (; j + 4 <= cols; j += 4) { const d = f32x4.sub(v128.load(xr + f4(j)), mv); acc = f32x4.add(acc, f32x4.mul(d, d)); }
    let v = hsum(acc);
    for (; j < cols; j++) { const d = load<f32>(xr + f4(j)) - mu; v += d * d; }
    const rs = <f32>(1 / Math.sqrt(<f64>(v * inv) + <f64>eps));
    store<f32>(mean + f4(r), mu);
    store<f32>(rstd + f4(r), rs);
    const rv = splat(rs);
    j = 0;
    for (; j + 4 <= cols; j += 4) {
      let o = f32x4.mul(f32x4.sub(v128.load(xr + f4(j)), mv), rv);
      if (w) o = f32x4.mul(o, v128.load(w + f4(j)));
      if (b) o = f32x4.add(o, v128.load(b + f4(j)));
      v128.store(yr + f4(j), o);
    }
    for (; j < cols; j++) {
      let o = (load<f32>(xr + f4(j)) - mu) * rs;
      if (w) o *= load<f32>(w + f4(j));
      if (b) o += load<f32>(b + f4(j));
      store<f32>(yr + f4(j), o);
    }
  }
}

/** dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂)), ĝ = dy ⊙ w; dw += Σ dy ⊙ x̂, db += Σ dy (when given). */
export function layerNormBackwardRows(x: usize, w: usize, mean: usize, rstd: usize, dy: usize, dx: usize,
  dw: usize, db: usize, rows: i32, cols: i32): void {
  const inv: f32 = cols > 0 ? <f32>1 / <f32>cols : 0;
  for (let r = 0; r < rows; r++) {
    const o = f4(r * cols);
    const xr = x + o, gr = dy + o, dxr = dx + o;
    const mu = load<f32>(mean + f4(r)), rs = load<f32>(rstd + f4(r));
    const mv = splat(mu), rv = splat(rs);
    let ag = splat(0), agx = splat(0);
    let j = 0;
    for (; j + 4 <= cols; j += 4) {
      const xh = f32x4.mul(f32x4.sub(v128.load(xr + f4(j)), mv), rv);
      const d = v128.load(gr + f4(j));
      const g = w ? f32x4.mul(d, v128.load(w + f4(j))) : d;
      ag = f32x4.add(ag, g);
      agx = f32x4.add(agx, f32x4.mul(g, xh));
      if (dw) v128.store(dw + f4(j), f32x4.add(v128.load(dw + f4(j)), f32x4.mul(d, xh)));
      if (db) v128.store(db + f4(j), f32x4.add(v128.load(db + f4(j)), d));
    }
    let mg = hsum(ag), mgx = hsum(agx);
    for (; j < cols; j++) {
      const xh = (load<f32>(xr + f4(j)) - mu) * rs;
      const d = load<f32>(gr + f4(j));
      const g = w ? d * load<f32>(w + f4(j)) : d;
      mg += g;
      mgx += g * xh;
      if (dw) store<f32>(dw + f4(j), load<f32>(dw + f4(j)) + d * xh);
      if (db) store<f32>(db + f4(j), load<f32>(db + f4(j)) + d);
    }
    mg *= inv;
    mgx *= inv;
    const mgv = splat(mg), mgxv = splat(mgx);
    j = 0;
    for (; j + 4 <= cols; j += 4) {
      const xh = f32x4.mul(f32x4.sub(v128.load(xr + f4(j)), mv), rv);
      const d = v128.load(gr + f4(j));
      const g = w ? f32x4.mul(d, v128.load(w + f4(j))) : d;
      v128.store(dxr + f4(j), f32x4.mul(rv, f32x4.sub(f32x4.sub(g, mgv), f32x4.mul(xh, mgxv))));
    }
    for (; j < cols; j++) {
      const xh = (load<f32>(xr + f4(j)) - mu) * rs;
      const d = load<f32>(gr + f4(j));
      const g = w ? d * load<f32>(w + f4(j)) : d;
      store<f32>(dxr + f4(j), rs * (g - mg - xh * mgx));
    }
  }
}

/** y = x · rstd ⊙ w with rstd = 1/√(mean(x²) + eps) per row (w may be 0). */
export function rmsNormForwardRows(x: usize, w: usize, y: usize, rstd: usize, rows: i32, cols: i32, eps: f32): void {
  const inv: f32 = cols > 0 ? <f32>1 / <f32>cols : 0;
  for (let r = 0; r < rows; r++) {
    const xr = x + f4(r * cols), yr = y + f4(r * cols);
    let acc = splat(0);
    let j = 0;
    for (; j + 4 <= cols; j += 4) { const v = v128.load(xr + f4(j)); acc = f32x4.add(acc, f32x4.mul(v, v)); }
    let ms = hsum(acc);
    for (; j < cols; j++) { const v = load<f32>(xr + f4(j)); ms += v * v; }
    const rs = <f32>(1 / Math.sqrt(<f64>(ms * inv) + <f64>eps));
    store<f32>(rstd + f4(r), rs);
    const rv = splat(rs);
    j = 0;
    for (; j + 4 <= cols; j += 4) {
      let o = f32x4.mul(v128.load(xr + f4(j)), rv);
      if (w) o = f32x4.mul(o, v128.load(w + f4(j)));
      v128.store(yr + f4(j), o);
    }
    for (; j < cols; j++) {
      let o = load<f32>(xr + f4(j)) * rs;
      if (w) o *= load<f32>(w + f4(j));
      store<f32>(yr + f4(j), o);
    }
  }
}

/** dx = rstd · ĝ − x · rstd³ · mean(ĝ ⊙ x), ĝ = dy ⊙ w; dw += Σ dy ⊙ x · rstd (when given). */
export function rmsNormBackwardRows(x: usize, w: usize, rstd: usize, dy: usize, dx: usize, dw: usize, rows: i32, cols: i32): void {
  const inv: f32 = cols > 0 ? <f32>1 / <f32>cols : 0;
  for (let r = 0; r < rows; r++) {
    const o = f4(r * cols);
    const xr = x + o, gr = dy + o, dxr = dx + o;
    const rs = load<f32>(rstd + f4(r));
    const rv = splat(rs);
    let acc = splat(0);
    let j = 0;
    for (; j + 4 <= cols; j += 4) {
      const xv = v128.load(xr + f4(j)), d = v128.load(gr + f4(j));
      const g = w ? f32x4.mul(d, v128.load(w + f4(j))) : d;
      acc = f32x4.add(acc, f32x4.mul(g, xv));
      if (dw) v128.store(dw + f4(j), f32x4.add(v128.load(dw + f4(j)), f32x4.mul(f32x4.mul(d, xv), rv)));
    }
    let s = hsum(acc);
    for (; j < cols; j++) {
      const xv = load<f32>(xr + f4(j)), d = load<f32>(gr + f4(j));
      const g = w ? d * load<f32>(w + f4(j)) : d;
      s += g * xv;
      if (dw) store<f32>(dw + f4(j), load<f32>(dw + f4(j)) + d * xv * rs);
    }
    const c = rs * rs * rs * s * inv;
    const cv = splat(c);
    j = 0;
    for (; j + 4 <= cols; j += 4) {
      const xv = v128.load(xr + f4(j)), d = v128.load(gr + f4(j));
      const g = w ? f32x4.mul(d, v128.load(w + f4(j))) : d;
      v128.store(dxr + f4(j), f32x4.sub(f32x4.mul(rv, g), f32x4.mul(xv, cv)));
    }
    for (; j < cols; j++) {
      const xv = load<f32>(xr + f4(j)), d = load<f32>(gr + f4(j));
      const g = w ? d * load<f32>(w + f4(j)) : d;
      store<f32>(dxr + f4(j), rs * g - xv * c);
    }
  }
}
