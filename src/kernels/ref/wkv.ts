/**
 * Reference WKV recurrences of RWKV-6 (x060) and RWKV-7 (x070): one (sequence, head) at a time, one step at
 * a time, exactly the equations of src/kernels/types.ts (`WkvKernels`). Arithmetic is in doubles; the running
 * state is stored in the inputs' precision after every step (float32 for models, as the official CUDA
 * kernels keep it), so one call over T steps gives bit for bit what T one-step calls give — streaming equals
 * the parallel forward exactly, and backward's recomputed states equal the forward's. The tensor-form twins in
 * src/ops/wkv.ts (`wkv6Composite`, `wkv7Composite`) state the same equations with primitives; tests prove the
 * two agree in values and gradients.
 *
 * Symbols (per head): N head size; S the N×N state; r, k, v, w, u, a, b the per-step vectors of the
 * official kernels (w is the decay factor itself, in (0, 1)); i indexes values, j indexes keys.
 * RWKV-6 keeps S[j, i] (key-major, as ChatRWKV's state), RWKV-7 keeps S[i, j] (value-major, as
 * rwkv_v7_demo_rnn.py), so saved states load into the official RNN code unchanged.
 *
 * Backward walks time in reverse. It needs the state before each step; the forward pass saves it only every
 * WKV_CHECKPOINT_EVERY steps, and backward recomputes each stretch of states from its checkpoint.
 */
import {
  WKV_CHECKPOINT_EVERY as L, type FloatArray, type Wkv6Grads, type Wkv6Inputs, type Wkv7Grads, type Wkv7Inputs,
  type WkvSaved, type WkvShape,
} from '../types.js';

/** A buffer of the same precision as `like`. */
const alloc = (like: FloatArray, n: number): FloatArray => (like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n));

/** Offsets for sequence b, head h: `at(t)` of step t's vector in [B, T, H, N], `state` of its N×N state. */
function offsets(s: WkvShape, b: number, h: number) {
  const C = s.H * s.N, NN = s.N * s.N, stretches = Math.ceil(s.T / L);
  return {
    at: (t: number) => (b * s.T + t) * C + h * s.N,
    state: (b * s.H + h) * NN,
    /** The state saved before step c·L. */
    checkpoint: (c: number) => ((b * s.H + h) * stretches + c) * NN,
  };
}

/** One step of a version on the state at offset `so` of S, for step vector offset o of head h (writes y when given). */
type Step = (S: FloatArray, so: number, o: number, h: number, y: FloatArray | null) => void;
/**
 * One step backwards: with the states before (at P) and after (at Q) the step in `states`, write the step's
 * gradients and turn dS from ∂L/∂S_t into ∂L/∂S_{t−1}.
 */
type StepBack = (states: FloatArray, P: number, Q: number, o: number, h: number, dS: Float64Array) => void;

/** Run `step` over every (sequence, head) from s0, saving the state before every L-th step. */
function runForward(s: WkvShape, step: Step, s0: FloatArray, y: FloatArray, sT: FloatArray, saved: WkvSaved | null): void {
  const NN = s.N * s.N, S = alloc(y, NN);
  for (let b = 0; b < s.B; b++) {
    for (let h = 0; h < s.H; h++) {
      const at = offsets(s, b, h);
      S.set(s0.subarray(at.state, at.state + NN));
      for (let t = 0; t < s.T; t++) {
        if (saved && t % L === 0) saved.states.set(S, at.checkpoint(t / L));
        step(S, 0, at.at(t), h, y);
      }
      sT.set(S, at.state);
    }
  }
}

/**
 * Walk time backwards per (sequence, head), from dS = ∂L/∂S_T: each stretch of L steps has its states
 * recomputed from its checkpoint, then `back` runs from the stretch's last step to its first. Writes ds0.
 */
function runBackward(s: WkvShape, step: Step, back: StepBack, saved: WkvSaved, dsT: FloatArray | null, ds0: FloatArray): void {
  const NN = s.N * s.N;
  const dS = new Float64Array(NN);
  const states = alloc(saved.states, (L + 1) * NN); // before each step of the stretch, and after its last
  for (let b = 0; b < s.B; b++) {
    for (let h = 0; h < s.H; h++) {
      const at = offsets(s, b, h);
      if (dsT === null) dS.fill(0); else dS.set(dsT.subarray(at.state, at.state + NN));
      for (let c = Math.ceil(s.T / L) - 1; c >= 0; c--) {
        const t0 = c * L, len = Math.min(L, s.T - t0);
        states.set(saved.states.subarray(at.checkpoint(c), at.checkpoint(c) + NN));
        for (let m = 1; m <= len; m++) {
          states.copyWithin(m * NN, (m - 1) * NN, m * NN);
          step(states, m * NN, at.at(t0 + m - 1), h, null);
        }
        for (let m = len - 1; m >= 0; m--) back(states, m * NN, (m + 1) * NN, at.at(t0 + m), h, dS);
      }
      ds0.set(dS, at.state);
    }
  }
}

// ---------------------------------------------------------------- RWKV-6

/** y = rᵀ(S + diag(u) k vᵀ) (when y is given), then S ← diag(w) S + k vᵀ, on S[j, i] at offset `so`. */
function step6(S: FloatArray, so: number, N: number, x: Wkv6Inputs, o: number, uo: number, y: FloatArray | null, acc: Float64Array): void {
  const { r, k, v, w, u } = x;
  if (y !== null) {
    let ruk = 0; // Σ_j r_j u_j k_j: the bonus term's weight on v
    for (let j = 0; j < N; j++) ruk += r[o + j]! * u[uo + j]! * k[o + j]!;
    for (let i = 0; i < N; i++) acc[i] = ruk * v[o + i]!;
  }
  // Row j of S only meets r_j, w_j, k_j: read it into y, then update it, in one pass.
  for (let j = 0; j < N; j++) {
    const rj = r[o + j]!, wj = w[o + j]!, kj = k[o + j]!, row = so + j * N;
    for (let i = 0; i < N; i++) {
      if (y !== null) acc[i]! += rj * S[row + i]!;
      S[row + i] = S[row + i]! * wj + kj * v[o + i]!;
    }
  }
  if (y !== null) for (let i = 0; i < N; i++) y[o + i] = acc[i]!;
}

export function wkv6Forward(s: WkvShape, x: Wkv6Inputs, s0: FloatArray, y: FloatArray, sT: FloatArray, saved: WkvSaved | null): void {
  const acc = new Float64Array(s.N);
  runForward(s, (S, so, o, h, yy) => step6(S, so, s.N, x, o, h * s.N, yy, acc), s0, y, sT, saved);
}

export function wkv6Backward(s: WkvShape, x: Wkv6Inputs, saved: WkvSaved, dy: FloatArray | null, dsT: FloatArray | null, g: Wkv6Grads): void {
  const { N } = s;
  const { r, k, v, w, u } = x;
  const acc = new Float64Array(N);
  const dyAt = (o: number) => (dy === null ? 0 : dy[o]!);
  const back: StepBack = (prev, P, _Q, o, h, dS) => {
    const uo = h * N; // S_{t−1} = prev[P + j·N + i]
    let dyv = 0, ruk = 0;
    for (let i = 0; i < N; i++) dyv += dyAt(o + i) * v[o + i]!;
    for (let j = 0; j < N; j++) ruk += r[o + j]! * u[uo + j]! * k[o + j]!;
    // dv_i = dy_i Σ_j r_j u_j k_j + Σ_j dS[j, i] k_j
    for (let i = 0; i < N; i++) acc[i] = dyAt(o + i) * ruk;
    // One pass per row j (everything below reads and writes row j only).
    for (let j = 0; j < N; j++) {
      const rj = r[o + j]!, kj = k[o + j]!, uj = u[uo + j]!, wj = w[o + j]!, row = j * N;
      let dr = uj * kj * dyv, dk = rj * uj * dyv, dw = 0;
      for (let i = 0; i < N; i++) {
        const sPrev = prev[P + row + i]!, ds = dS[row + i]!, dyi = dyAt(o + i);
        dr += dyi * sPrev; // y_i = Σ_j r_j S_{t−1}[j, i] + …
        dk += ds * v[o + i]!; // S_t[j, i] = w_j S_{t−1}[j, i] + k_j v_i
        dw += ds * sPrev;
        acc[i]! += ds * kj;
        dS[row + i] = ds * wj + rj * dyi; // ∂L/∂S_{t−1}[j, i] = w_j ∂L/∂S_t[j, i] + r_j dy_i
      }
      g.dr[o + j] = dr;
      g.dk[o + j] = dk;
      g.dw[o + j] = dw;
      g.du[uo + j]! += rj * kj * dyv;
    }
    for (let i = 0; i < N; i++) g.dv[o + i] = acc[i]!;
  };
  runBackward(s, (S, so, o, h) => step6(S, so, N, x, o, h * N, null, acc), back, saved, dsT, g.ds0);
}

// ---------------------------------------------------------------- RWKV-7

/** S ← S diag(w) + (S a) bᵀ + v kᵀ, then y = S r (when y is given), on S[i, j] at offset `so`. */
function step7(S: FloatArray, so: number, N: number, x: Wkv7Inputs, o: number, y: FloatArray | null, sa: Float64Array): void {
  const { r, w, k, v, a, b } = x;
  // Row i of S only meets v_i and its own sa_i: update it and read y_i from it, row by row.
  for (let i = 0; i < N; i++) {
    const row = so + i * N, vi = v[o + i]!;
    let sai = 0;
    for (let j = 0; j < N; j++) sai += S[row + j]! * a[o + j]!;
    sa[i] = sai;
    let yi = 0;
    for (let j = 0; j < N; j++) {
      S[row + j] = S[row + j]! * w[o + j]! + sai * b[o + j]! + vi * k[o + j]!;
      yi += S[row + j]! * r[o + j]!; // the stored (rounded) state, as a later step would read it
    }
    if (y !== null) y[o + i] = yi;
  }
}

export function wkv7Forward(s: WkvShape, x: Wkv7Inputs, s0: FloatArray, y: FloatArray, sT: FloatArray, saved: WkvSaved | null): void {
  const sa = new Float64Array(s.N);
  runForward(s, (S, so, o, _h, yy) => step7(S, so, s.N, x, o, yy, sa), s0, y, sT, saved);
}

export function wkv7Backward(s: WkvShape, x: Wkv7Inputs, saved: WkvSaved, dy: FloatArray | null, dsT: FloatArray | null, g: Wkv7Grads): void {
  const { N } = s;
  const { r, w, k, v, a, b } = x;
  const sa = new Float64Array(N);
  const dyAt = (o: number) => (dy === null ? 0 : dy[o]!);
  const dr = new Float64Array(N), dw = new Float64Array(N), dk = new Float64Array(N), da = new Float64Array(N), db = new Float64Array(N);
  const back: StepBack = (states, P, Q, o, _h, dS) => {
    for (const acc of [dr, dw, dk, da, db]) acc.fill(0);
    // S_{t−1} at P, S_t at Q, both [i, j]. Everything below reads and writes row i only, so one pass per row.
    for (let i = 0; i < N; i++) {
      const row = i * N, dyi = dyAt(o + i), vi = v[o + i]!;
      let sai = 0; // (S_{t−1} a)_i, recomputed
      for (let j = 0; j < N; j++) sai += states[P + row + j]! * a[o + j]!;
      // y_i = Σ_j S_t[i, j] r_j: dr_j gains dy_i S_t[i, j] and ∂L/∂S_t[i, j] gains dy_i r_j
      let dvi = 0, dsai = 0;
      for (let j = 0; j < N; j++) {
        dr[j]! += dyi * states[Q + row + j]!;
        const ds = (dS[row + j]! += dyi * r[o + j]!);
        dvi += ds * k[o + j]!; // S_t = S_{t−1} diag(w) + sa bᵀ + v kᵀ
        dsai += ds * b[o + j]!;
      }
      g.dv[o + i] = dvi;
      for (let j = 0; j < N; j++) {
        const ds = dS[row + j]!, sPrev = states[P + row + j]!;
        dw[j]! += ds * sPrev;
        db[j]! += ds * sai;
        dk[j]! += ds * vi;
        da[j]! += dsai * sPrev;
        dS[row + j] = ds * w[o + j]! + dsai * a[o + j]!; // ∂L/∂S_{t−1}[i, j] = ∂L/∂S_t[i, j] w_j + dsa_i a_j
      }
    }
    for (let j = 0; j < N; j++) {
      g.dr[o + j] = dr[j]!; g.dw[o + j] = dw[j]!; g.dk[o + j] = dk[j]!; g.da[o + j] = da[j]!; g.db[o + j] = db[j]!;
    }
  };
  runBackward(s, (S, so, o) => step7(S, so, N, x, o, null, sa), back, saved, dsT, g.ds0);
}
