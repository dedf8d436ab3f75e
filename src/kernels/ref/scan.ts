/**
 * Reference kernels of the state-space families, in plain loops: the causal depthwise convolution both
 * Mamba versions run before their SSM, Mamba-1's selective scan and Mamba-2's chunked SSD. Sums run in
 * doubles; states are stored in the arrays' own precision, as a float32 implementation would keep them.
 *
 * Glossary: b batch, t time, c channels, k conv width, di inner width, n state size, nh heads, hs head
 * size, g groups, q chunk length; A, B, C, D and Δ (`delta`) as in the Mamba papers.
 * Layouts (batch-first): see ScanKernels in ../types.ts.
 */
import {
  SCAN_CHECKPOINT_EVERY, ssdChunks, type ConvGrads, type ConvShape, type FloatArray, type ScanKernels, type SelectiveScanGrads,
  type SelectiveScanInputs, type SelectiveScanShape, type SSDGrads, type SSDInputs, type SSDShape,
} from '../types.js';

// ---------------------------------------------------------------- causal depthwise conv1d

/**
 * The extended input e = [window (k values), x (t values)] of channel ci in batch row bi, as one index j:
 * e[j] = window[j] for j < k, x[j − k] after.
 */
function extended(s: ConvShape, x: FloatArray, window: FloatArray) {
  const { t, c, k } = s;
  return (bi: number, j: number, ci: number): number =>
    j < k ? window[(bi * c + ci) * k + j]! : x[(bi * t + j - k) * c + ci]!;
}

export function causalConv1dForward(s: ConvShape, x: FloatArray, w: FloatArray, bias: FloatArray | null,
  window: FloatArray, y: FloatArray, windowOut: FloatArray): void {
  const { b, t, c, k } = s;
  const e = extended(s, x, window);
  for (let bi = 0; bi < b; bi++) {
    for (let ti = 0; ti < t; ti++) {
      for (let ci = 0; ci < c; ci++) {
        // y_t = bias + Σ_j w_j · x_{t−k+1+j}: the k latest inputs up to and including x_t.
        let acc = bias ? bias[ci]! : 0;
        for (let j = 0; j < k; j++) acc += w[ci * k + j]! * e(bi, ti + 1 + j, ci);
        y[(bi * t + ti) * c + ci] = acc;
      }
    }
    // The new window holds the k latest inputs: e[t .. t+k−1].
    for (let ci = 0; ci < c; ci++) {
      for (let j = 0; j < k; j++) windowOut[(bi * c + ci) * k + j] = e(bi, t + j, ci);
    }
  }
}

export function causalConv1dBackward(s: ConvShape, x: FloatArray, w: FloatArray, window: FloatArray,
  dy: FloatArray | null, dwindowOut: FloatArray | null, g: ConvGrads): void {
  const { b, t, c, k } = s;
  const e = extended(s, x, window);
  // de[j] goes to the window (j < k) or to x.
  const addDe = (bi: number, j: number, ci: number, v: number): void => {
    if (j < k) g.dwindow[(bi * c + ci) * k + j]! += v;
    else g.dx[(bi * t + j - k) * c + ci]! += v;
  };
  for (let bi = 0; bi < b; bi++) {
    if (dy) {
      for (let ti = 0; ti < t; ti++) {
        for (let ci = 0; ci < c; ci++) {
          const gy = dy[(bi * t + ti) * c + ci]!;
          if (gy === 0) continue;
          if (g.db) g.db[ci]! += gy;
          for (let j = 0; j < k; j++) {
            g.dw[ci * k + j]! += gy * e(bi, ti + 1 + j, ci);
            addDe(bi, ti + 1 + j, ci, gy * w[ci * k + j]!);
          }
        }
      }
    }
    if (dwindowOut) {
      for (let ci = 0; ci < c; ci++) {
        for (let j = 0; j < k; j++) addDe(bi, t + j, ci, dwindowOut[(bi * c + ci) * k + j]!);
      }
    }
  }
}

// ---------------------------------------------------------------- Mamba-1 selective scan

export function selectiveScanForward(s: SelectiveScanShape, p: SelectiveScanInputs, h0: FloatArray, y: FloatArray,
  hT: FloatArray, hs: FloatArray | null): void {
  const { b, t, di, n } = s;
  const { x, delta, A, B, C, D } = p;
  const K = SCAN_CHECKPOINT_EVERY, S = Math.ceil(t / K);
  hT.set(h0); // hT is the running state h
  for (let bi = 0; bi < b; bi++) {
    for (let ti = 0; ti < t; ti++) {
      const xo = (bi * t + ti) * di, bo = (bi * t + ti) * n;
      // hs [b, S, di, n] keeps the state after the last step of each stretch of K (selectiveScanSavedSize)
      const so = (ti + 1) % K === 0 || ti === t - 1 ? (bi * S + Math.floor(ti / K)) * di * n : -1;
      for (let d = 0; d < di; d++) {
        const dl = delta[xo + d]!, xv = x[xo + d]!;
        let yv = D ? D[d]! * xv : 0;
        for (let j = 0; j < n; j++) {
          const hi = (bi * di + d) * n + j;
          // h ← exp(Δ A) h + Δ x B   (Ā = exp(ΔA); B̄x simplified to (Δx)B, as mamba_ssm)
          const h = Math.exp(dl * A[d * n + j]!) * hT[hi]! + dl * xv * B[bo + j]!;
          hT[hi] = h;
          if (hs && so >= 0) hs[so + d * n + j] = h;
          yv += h * C[bo + j]!; // y = C·h + D x
        }
        y[xo + d] = yv;
      }
    }
  }
}

export function selectiveScanBackward(s: SelectiveScanShape, p: SelectiveScanInputs, h0: FloatArray, hs: FloatArray,
  dy: FloatArray | null, dhT: FloatArray | null, g: SelectiveScanGrads): void {
  const { b, t, di, n } = s;
  const { x, delta, A, B, C, D } = p;
  const K = SCAN_CHECKPOINT_EVERY, S = Math.ceil(t / K);
  const dh = new Float64Array(n); // ∂L/∂h_t of one channel, carried backwards in time
  // The states h_t0 … h_t1−1 of one channel's stretch, recomputed in the precision forward stored them in.
  const hl = hs instanceof Float64Array ? new Float64Array(K * n) : new Float32Array(K * n);
  for (let bi = 0; bi < b; bi++) {
    for (let d = 0; d < di; d++) {
      const ho = (bi * di + d) * n;
      for (let j = 0; j < n; j++) dh[j] = dhT ? dhT[ho + j]! : 0;
      for (let st = S - 1; st >= 0; st--) {
        const t0 = st * K, t1 = Math.min(t, t0 + K);
        // The state before t0: the previous stretch's saved last state, or h0.
        const src = st > 0 ? hs : h0, so = st > 0 ? ((bi * S + st - 1) * di + d) * n : ho;
        for (let ti = t0; ti < t1; ti++) { // forward's update, the same operations
          const xo = (bi * t + ti) * di + d, bo = (bi * t + ti) * n, q = (ti - t0) * n;
          const dl = delta[xo]!, xv = x[xo]!;
          for (let j = 0; j < n; j++) {
            const prev = ti > t0 ? hl[q - n + j]! : src[so + j]!;
            hl[q + j] = Math.exp(dl * A[d * n + j]!) * prev + dl * xv * B[bo + j]!;
          }
        }
        for (let ti = t1 - 1; ti >= t0; ti--) {
          const xo = (bi * t + ti) * di + d, bo = (bi * t + ti) * n, q = (ti - t0) * n;
          const dl = delta[xo]!, xv = x[xo]!, gy = dy ? dy[xo]! : 0;
          let ddl = 0, dxv = 0;
          if (D) { g.dD![d]! += gy * xv; dxv += gy * D[d]!; } // y ∋ D x
          for (let j = 0; j < n; j++) {
            const h = hl[q + j]!;
            const hPrev = ti > t0 ? hl[q - n + j]! : src[so + j]!;
            const a = Math.exp(dl * A[d * n + j]!);
            g.dC[bo + j]! += gy * h;               // y ∋ C·h
            const gh = dh[j]! + gy * C[bo + j]!;  // total ∂L/∂h_t
            // h_t = a h_{t−1} + Δ x B,  a = exp(Δ A)
            const ga = gh * hPrev;
            ddl += ga * a * A[d * n + j]! + gh * xv * B[bo + j]!;
            g.dA[d * n + j]! += ga * a * dl;
            g.dB[bo + j]! += gh * dl * xv;
            dxv += gh * dl * B[bo + j]!;
            dh[j] = gh * a;                       // ∂L/∂h_{t−1}
          }
          g.ddelta[xo]! += ddl;
          g.dx[xo]! += dxv;
        }
      }
      for (let j = 0; j < n; j++) g.dh0[ho + j]! += dh[j]!;
    }
  }
}

// ---------------------------------------------------------------- Mamba-2 SSD, chunked

/**
 * Per chunk of l ≤ q steps, with the cumulative log-decay L_i = Σ_{j≤i} Δ_j A (i, j local to the chunk):
 *
 *   y_i   = Σ_{j≤i} exp(L_i − L_j) (C_i·B_j) Δ_j x_j   (1) intra-chunk, the causal decay mask
 *         + exp(L_i) S_in C_i                          (4) the state entering the chunk, read out
 *         + D x_i
 *   S_out = exp(L_{l−1}) S_in                          (3) inter-chunk state passing
 *         + Σ_j exp(L_{l−1} − L_j) Δ_j x_j ⊗ B_j        (2) the chunk's own contribution
 *
 * (numbers as in ssd_minimal_discrete). Every exponent is ≤ 0 because A < 0 and Δ > 0, so nothing can
 * overflow, and the sequence length need not be a multiple of q: the last chunk is just shorter.
 */
/** Offsets of one chunk for head h of group gi: rows of x/y, rows of B/C, and Δ per local step. */
interface ChunkView { l: number; xo: Int32Array; bo: Int32Array; dl: Float64Array }

function chunkView(s: SSDShape, p: SSDInputs, bi: number, t0: number, h: number, gi: number, v: ChunkView): void {
  v.l = Math.min(s.q, s.t - t0);
  for (let j = 0; j < v.l; j++) {
    const row = bi * s.t + t0 + j;
    v.xo[j] = (row * s.nh + h) * s.hs;
    v.bo[j] = (row * s.g + gi) * s.n;
    v.dl[j] = p.delta[row * s.nh + h]!;
  }
}

/** CB[i, j] = C_i · B_j for j ≤ i (shared by the heads of a group), and L_i = Σ_{j≤i} Δ_j A for one head. */
function chunkCB(s: SSDShape, p: SSDInputs, v: ChunkView, CB: Float64Array): void {
  for (let i = 0; i < v.l; i++) {
    for (let j = 0; j <= i; j++) {
      let acc = 0;
      for (let m = 0; m < s.n; m++) acc += p.C[v.bo[i]! + m]! * p.B[v.bo[j]! + m]!;
      CB[i * s.q + j] = acc;
    }
  }
}

function cumulativeDecay(v: ChunkView, A: number, L: Float64Array): void {
  let acc = 0;
  for (let i = 0; i < v.l; i++) L[i] = acc += v.dl[i]! * A;
}

const newView = (q: number): ChunkView => ({ l: 0, xo: new Int32Array(q), bo: new Int32Array(q), dl: new Float64Array(q) });

export function ssdForward(s: SSDShape, p: SSDInputs, h0: FloatArray, y: FloatArray, hT: FloatArray, chunkStates: FloatArray | null): void {
  const { b, nh, hs, g, n, q } = s;
  const { x, A, B, C, D } = p;
  const nc = ssdChunks(s), hpg = nh / g, hsz = hs * n;
  const L = new Float64Array(q), CB = new Float64Array(q * q), yi = new Float64Array(hs), v = newView(q);
  hT.set(h0); // hT is the running state S, [b, nh, hs, n]
  for (let bi = 0; bi < b; bi++) {
    for (let c = 0; c < nc; c++) {
      const t0 = c * q;
      chunkStates?.set(hT.subarray(bi * nh * hsz, (bi + 1) * nh * hsz), (bi * nc + c) * nh * hsz);
      for (let gi = 0; gi < g; gi++) {
        for (let h = gi * hpg; h < (gi + 1) * hpg; h++) {
          chunkView(s, p, bi, t0, h, gi, v);
          if (h === gi * hpg) chunkCB(s, p, v, CB);
          cumulativeDecay(v, A[h]!, L);
          const { l, xo, bo, dl } = v, S = (bi * nh + h) * hsz;
          for (let i = 0; i < l; i++) {
            const decayIn = Math.exp(L[i]!);
            for (let e = 0; e < hs; e++) {                                // (4) exp(L_i) S_in C_i
              let acc = 0;
              for (let m = 0; m < n; m++) acc += hT[S + e * n + m]! * C[bo[i]! + m]!;
              yi[e] = decayIn * acc;
            }
            for (let j = 0; j <= i; j++) {                                // (1) Σ_j exp(L_i − L_j) CB_ij Δ_j x_j
              const M = Math.exp(L[i]! - L[j]!) * CB[i * q + j]! * dl[j]!;
              for (let e = 0; e < hs; e++) yi[e]! += M * x[xo[j]! + e]!;
            }
            for (let e = 0; e < hs; e++) {                                // + D x_i
              const dSkip = D ? (s.dPerChannel ? D[h * hs + e]! : D[h]!) : 0;
              y[xo[i]! + e] = yi[e]! + dSkip * x[xo[i]! + e]!;
            }
          }
          const last = L[l - 1]!, decayAll = Math.exp(last);
          for (let e = 0; e < hsz; e++) hT[S + e] = decayAll * hT[S + e]!; // (3)
          for (let j = 0; j < l; j++) {                                    // (2)
            const f = Math.exp(last - L[j]!) * dl[j]!;
            for (let e = 0; e < hs; e++) {
              const fx = f * x[xo[j]! + e]!;
              for (let m = 0; m < n; m++) hT[S + e * n + m]! += fx * B[bo[j]! + m]!;
            }
          }
        }
      }
    }
  }
}

export function ssdBackward(s: SSDShape, p: SSDInputs, chunkStates: FloatArray, dy: FloatArray | null,
  dhT: FloatArray | null, g: SSDGrads): void {
  const { b, t, nh, hs, n, q } = s;
  const { x, A, B, C, D } = p;
  const nc = ssdChunks(s), hpg = nh / s.g, hsz = hs * n;
  const L = new Float64Array(q), dL = new Float64Array(q), CB = new Float64Array(q * q), dCB = new Float64Array(q * q);
  const dSin = new Float64Array(hsz), v = newView(q);
  // dS: ∂L/∂(state at the end of the current chunk), per batch row and head; starts at dhT.
  const dS = new Float64Array(b * nh * hsz);
  if (dhT) dS.set(dhT);
  for (let bi = 0; bi < b; bi++) {
    for (let c = nc - 1; c >= 0; c--) {
      const t0 = c * q;
      for (let gi = 0; gi < s.g; gi++) {
        dCB.fill(0);
        for (let h = gi * hpg; h < (gi + 1) * hpg; h++) {
          chunkView(s, p, bi, t0, h, gi, v);
          if (h === gi * hpg) chunkCB(s, p, v, CB);
          cumulativeDecay(v, A[h]!, L);
          dL.fill(0);
          const { l, xo, bo, dl } = v;
          const Sin = ((bi * nc + c) * nh + h) * hsz, dSo = (bi * nh + h) * hsz;
          const dDelta = (j: number, val: number) => { g.ddelta[(bi * t + t0 + j) * nh + h]! += val; };
          // (3) S_out ∋ exp(L_last) S_in
          const last = L[l - 1]!, decayAll = Math.exp(last);
          let dLast = 0;
          for (let e = 0; e < hsz; e++) {
            dSin[e] = decayAll * dS[dSo + e]!;
            dLast += decayAll * dS[dSo + e]! * chunkStates[Sin + e]!;
          }
          // (2) S_out ∋ F_j x_j ⊗ B_j with F_j = exp(L_last − L_j) Δ_j
          for (let j = 0; j < l; j++) {
            const ej = Math.exp(last - L[j]!), F = ej * dl[j]!;
            let qj = 0; // x_jᵀ dS_out B_j
            for (let e = 0; e < hs; e++) {
              const xe = x[xo[j]! + e]!;
              let vb = 0;
              for (let m = 0; m < n; m++) {
                const ds = dS[dSo + e * n + m]!;
                vb += ds * B[bo[j]! + m]!;
                g.dB[bo[j]! + m]! += F * ds * xe;
              }
              qj += xe * vb;
              g.dx[xo[j]! + e]! += F * vb;
            }
            dDelta(j, qj * ej);
            dLast += qj * F;
            dL[j]! -= qj * F;
          }
          dL[l - 1]! += dLast;
          if (dy) {
            for (let i = 0; i < l; i++) {
              const decayIn = Math.exp(L[i]!);
              for (let e = 0; e < hs; e++) {
                const gy = dy[xo[i]! + e]!;
                if (gy === 0) continue;
                if (D) { // y ∋ D x
                  const di = s.dPerChannel ? h * hs + e : h;
                  g.dD![di]! += gy * x[xo[i]! + e]!;
                  g.dx[xo[i]! + e]! += gy * D[di]!;
                }
                // (4) y_i ∋ exp(L_i) S_in C_i
                const ge = decayIn * gy;
                let sc = 0;
                for (let m = 0; m < n; m++) {
                  const sv = chunkStates[Sin + e * n + m]!;
                  sc += sv * C[bo[i]! + m]!;
                  g.dC[bo[i]! + m]! += ge * sv;
                  dSin[e * n + m]! += ge * C[bo[i]! + m]!;
                }
                dL[i]! += ge * sc;
              }
              // (1) y_i ∋ Σ_{j≤i} M_ij x_j with M_ij = exp(L_i − L_j) CB_ij Δ_j
              for (let j = 0; j <= i; j++) {
                const E = Math.exp(L[i]! - L[j]!), Mij = E * CB[i * q + j]! * dl[j]!;
                let dM = 0;
                for (let e = 0; e < hs; e++) {
                  const gy = dy[xo[i]! + e]!;
                  dM += gy * x[xo[j]! + e]!;
                  g.dx[xo[j]! + e]! += Mij * gy;
                }
                dCB[i * q + j]! += dM * E * dl[j]!;
                dDelta(j, dM * E * CB[i * q + j]!);
                dL[i]! += dM * Mij;
                dL[j]! -= dM * Mij;
              }
            }
          }
          // L_i = Σ_{k≤i} Δ_k A: each Δ_k and A receive the suffix sums of ∂L/∂L_i.
          let suffix = 0;
          for (let k = l - 1; k >= 0; k--) {
            suffix += dL[k]!;
            dDelta(k, suffix * A[h]!);
            g.dA[h]! += suffix * dl[k]!;
          }
          dS.set(dSin, dSo); // now ∂L/∂(state entering chunk c)
        }
        // CB_ij = C_i · B_j (v still describes this chunk's rows, shared by the group)
        for (let i = 0; i < v.l; i++) {
          for (let j = 0; j <= i; j++) {
            const val = dCB[i * q + j]!;
            if (val === 0) continue;
            for (let m = 0; m < n; m++) {
              g.dC[v.bo[i]! + m]! += val * B[v.bo[j]! + m]!;
              g.dB[v.bo[j]! + m]! += val * C[v.bo[i]! + m]!;
            }
          }
        }
      }
    }
  }
  for (let e = 0; e < dS.length; e++) g.dh0[e]! += dS[e]!;
}

export const scanKernels: ScanKernels = {
  causalConv1dForward, causalConv1dBackward, selectiveScanForward, selectiveScanBackward, ssdForward, ssdBackward,
};

