/**
 * Fused state-space ops (Mamba): the causal depthwise convolution, Mamba-1's selective scan and Mamba-2's
 * chunked SSD. Each is ONE tape node over the whole sequence (never one per timestep), takes the state
 * before the sequence and returns the state after it, so chunked training (truncated BPTT) and chunked
 * prefill continue exactly, and gradients flow through the carried state. Their composite twins, built
 * from primitives one timestep at a time, are in scan-composite.ts; tests prove the pairs agree.
 *
 * Glossary: b batch, t time, c channels, k conv width, di inner width, n state size, nh heads, hs head
 * size, g groups, q chunk length; A, B, C, D and Δ (`delta`) as in the Mamba papers.
 */
import { fusedOp, isGradEnabled } from '../autograd/tape.js';
import { kernels } from '../kernels/index.js';
import { selectiveScanSavedSize, ssdChunks, type ConvShape, type SelectiveScanShape, type SSDShape } from '../kernels/types.js';
import { ConfigError, ShapeError, fmtShape } from '../tensor/errors.js';
import { sameShape } from '../tensor/shape.js';
import { Tensor, allocFloat, type FloatArray } from '../tensor/tensor.js';
import { empty, resultDtype } from './primitives.js';

const none = (): Tensor => empty([0]);
/** True when a tape node will be recorded, i.e. when saving activations for a backward pass is worth it. */
const recording = (...inputs: (Tensor | null)[]): boolean => isGradEnabled() && inputs.some((t) => t?.requiresGrad);
const zerosLike = (t: Tensor | null, dtype: Tensor['dtype']): Tensor | null => (t ? empty(t.shape, dtype) : null);

function expectShape(op: string, name: string, t: Tensor, shape: readonly number[], dims: string): void {
  if (!sameShape(t.shape, shape)) {
    throw new ShapeError({ op, expected: `${name} of shape ${fmtShape(shape)} ${dims}`, got: fmtShape(t.shape) });
  }
}

function rank(op: string, name: string, t: Tensor, r: number, dims: string): void {
  if (t.ndim !== r) throw new ShapeError({ op, expected: `${name} ${dims}`, got: fmtShape(t.shape) });
}

// ---------------------------------------------------------------- causal depthwise conv1d

interface ConvSaved { s: ConvShape; x: Tensor; w: Tensor; bias: Tensor | null; window: Tensor }
const recordConv = fusedOp<ConvSaved>('causalConv1d', ({ s, x, w, bias, window }, [dy, dwin]) => {
  const dt = x.dtype === 'float64' || w.dtype === 'float64' ? 'float64' : 'float32';
  const dx = empty(x.shape, dt), dw = empty(w.shape, dt), db = zerosLike(bias, dt), dwindow = empty(window.shape, dt);
  kernels().causalConv1dBackward(s, x.buf, w.buf, window.buf, dy?.buf ?? null, dwin?.buf ?? null,
    { dx: dx.buf, dw: dw.buf, db: db?.buf ?? null, dwindow: dwindow.buf });
  return [dx, dw, db, dwindow];
});

/**
 * Depthwise causal convolution over time, like mamba_ssm's `causal_conv1d_fn` without activation:
 * y[b, t, c] = bias[c] + Σ_j weight[c, j] · x[b, t − k + 1 + j, c], where inputs before t = 0 come from
 * `window` [b, c, k] (the k latest inputs of the previous chunk, oldest first; zeros when omitted).
 * x is [b, t, c]; weight is nn.Conv1d's depthwise [c, 1, k] (or [c, k]). Returns y [b, t, c] and the new
 * window [b, c, k] (mamba_ssm's conv_state).
 */
export function causalConv1d(x: Tensor, weight: Tensor, bias: Tensor | null, window?: Tensor | null): { y: Tensor; window: Tensor } {
  const op = 'causalConv1d';
  rank(op, 'x', x, 3, '[b, t, c]');
  const [b, t, c] = x.shape as [number, number, number];
  const k = weight.shape[weight.ndim - 1]!;
  if (!(weight.ndim === 2 || (weight.ndim === 3 && weight.shape[1] === 1)) || weight.shape[0] !== c) {
    throw new ShapeError({ op, expected: `weight [${c}, 1, k] or [${c}, k] (one filter per channel)`, got: fmtShape(weight.shape) });
  }
  if (bias) expectShape(op, 'bias', bias, [c], '[c]');
  const win = window ?? empty([b, c, k], x.dtype);
  expectShape(op, 'window', win, [b, c, k], '[b, c, k]');
  const dtype = resultDtype(x, weight, win, ...(bias ? [bias] : []));
  const s: ConvShape = { b, t, c, k };
  const y = empty([b, t, c], dtype), windowOut = empty([b, c, k], dtype);
  kernels().causalConv1dForward(s, x.buf, weight.buf, bias?.buf ?? null, win.buf, y.buf, windowOut.buf);
  recordConv([x, weight, bias ?? none(), win], [y, windowOut], { s, x, w: weight, bias, window: win });
  return { y, window: windowOut };
}

// ---------------------------------------------------------------- Mamba-1 selective scan

interface ScanTensors { x: Tensor; delta: Tensor; A: Tensor; B: Tensor; C: Tensor; D: Tensor | null }
const bufs = (p: ScanTensors) => ({ x: p.x.buf, delta: p.delta.buf, A: p.A.buf, B: p.B.buf, C: p.C.buf, D: p.D?.buf ?? null });

function scanGrads(p: ScanTensors, h0: Tensor, dtype: Tensor['dtype']) {
  const t = { dx: empty(p.x.shape, dtype), ddelta: empty(p.delta.shape, dtype), dA: empty(p.A.shape, dtype),
    dB: empty(p.B.shape, dtype), dC: empty(p.C.shape, dtype), dD: zerosLike(p.D, dtype), dh0: empty(h0.shape, dtype) };
  const raw = { dx: t.dx.buf, ddelta: t.ddelta.buf, dA: t.dA.buf, dB: t.dB.buf, dC: t.dC.buf, dD: t.dD?.buf ?? null, dh0: t.dh0.buf };
  return { list: [t.dx, t.ddelta, t.dA, t.dB, t.dC, t.dD, t.dh0], raw };
}

interface SelectiveScanSaved { s: SelectiveScanShape; p: ScanTensors; h0: Tensor; hs: FloatArray | null }
const recordScan = fusedOp<SelectiveScanSaved>('selectiveScan', ({ s, p, h0, hs }, [dy, dhT]) => {
  const g = scanGrads(p, h0, resultDtype(p.x, p.delta, p.A));
  kernels().selectiveScanBackward(s, bufs(p), h0.buf, hs!, dy?.buf ?? null, dhT?.buf ?? null, g.raw);
  return g.list;
});

/**
 * Mamba-1's selective SSM over a whole sequence (`selective_scan_ref` of mamba_ssm, with Δ already
 * passed through softplus, and without the z gate):
 *
 *   h_t = exp(Δ_t A) ⊙ h_{t−1} + (Δ_t x_t) ⊗ B_t,   y_t = h_t · C_t + D ⊙ x_t
 *
 * x, delta [b, t, di]; A [di, n]; B, C [b, t, n]; D [di] or null; h0 [b, di, n] (zeros when omitted).
 * Returns y [b, t, di] and h [b, di, n], the state after the last step.
 */
export function selectiveScan(x: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | null,
  h0?: Tensor | null): { y: Tensor; h: Tensor } {
  const op = 'selectiveScan';
  rank(op, 'x', x, 3, '[b, t, di]');
  rank(op, 'A', A, 2, '[di, n]');
  const [b, t, di] = x.shape as [number, number, number];
  const n = A.shape[1]!;
  expectShape(op, 'delta', delta, [b, t, di], '[b, t, di]');
  expectShape(op, 'A', A, [di, n], '[di, n]');
  expectShape(op, 'B', B, [b, t, n], '[b, t, n]');
  expectShape(op, 'C', C, [b, t, n], '[b, t, n]');
  if (D) expectShape(op, 'D', D, [di], '[di]');
  const h0t = h0 ?? empty([b, di, n], x.dtype);
  expectShape(op, 'h0', h0t, [b, di, n], '[b, di, n]');
  const p: ScanTensors = { x, delta, A, B, C, D };
  const dtype = resultDtype(x, delta, A, B, C, h0t, ...(D ? [D] : []));
  const s: SelectiveScanShape = { b, t, di, n };
  const y = empty([b, t, di], dtype), h = empty([b, di, n], dtype);
  const hs = recording(x, delta, A, B, C, D, h0t) ? allocFloat(dtype, selectiveScanSavedSize(s)) : null;
  kernels().selectiveScanForward(s, bufs(p), h0t.buf, y.buf, h.buf, hs);
  recordScan([x, delta, A, B, C, D ?? none(), h0t], [y, h], { s, p, h0: h0t, hs });
  return { y, h };
}

// ---------------------------------------------------------------- Mamba-2 SSD

interface SSDSaved { s: SSDShape; p: ScanTensors; h0: Tensor; chunkStates: FloatArray | null }
const recordSSD = fusedOp<SSDSaved>('ssd', ({ s, p, h0, chunkStates }, [dy, dhT]) => {
  const g = scanGrads(p, h0, resultDtype(p.x, p.delta, p.A));
  kernels().ssdBackward(s, bufs(p), chunkStates!, dy?.buf ?? null, dhT?.buf ?? null, g.raw);
  return g.list;
});

/**
 * Mamba-2's SSD over a whole sequence in the chunked form (ssd_minimal_discrete, with initial and final
 * states, and any length): per head a scalar decay,
 *
 *   h_t = exp(Δ_t A) h_{t−1} + Δ_t x_t ⊗ B_t,   y_t = h_t C_t + D x_t
 *
 * x [b, t, nh, hs]; delta [b, t, nh] (after softplus); A [nh]; B, C [b, t, g, n] (g divides nh; head i
 * reads group ⌊i·g/nh⌋); D [nh], [nh·hs] or null; h0 [b, nh, hs, n] (zeros when omitted). `chunkSize` is
 * the chunk length q (the result does not depend on it beyond rounding). Returns y [b, t, nh, hs] and h.
 */
export function ssd(x: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | null,
  h0: Tensor | null | undefined, opts: { chunkSize: number }): { y: Tensor; h: Tensor } {
  const op = 'ssd';
  rank(op, 'x', x, 4, '[b, t, nh, hs]');
  rank(op, 'B', B, 4, '[b, t, g, n]');
  const [b, t, nh, hs] = x.shape as [number, number, number, number];
  const [g, n] = [B.shape[2]!, B.shape[3]!];
  const q = opts.chunkSize;
  if (!Number.isInteger(q) || q < 1) throw new ConfigError({ op, expected: 'chunkSize a positive integer', got: String(q) });
  if (g < 1 || nh % g !== 0) throw new ShapeError({ op, expected: `a number of groups that divides nh=${nh}`, got: `B ${fmtShape(B.shape)}` });
  expectShape(op, 'delta', delta, [b, t, nh], '[b, t, nh]');
  expectShape(op, 'A', A, [nh], '[nh]');
  expectShape(op, 'B', B, [b, t, g, n], '[b, t, g, n]');
  expectShape(op, 'C', C, [b, t, g, n], '[b, t, g, n]');
  if (D && !(sameShape(D.shape, [nh]) || sameShape(D.shape, [nh * hs]))) {
    throw new ShapeError({ op, expected: `D of shape [${nh}] (per head) or [${nh * hs}] (per channel)`, got: fmtShape(D.shape) });
  }
  const h0t = h0 ?? empty([b, nh, hs, n], x.dtype);
  expectShape(op, 'h0', h0t, [b, nh, hs, n], '[b, nh, hs, n]');
  const p: ScanTensors = { x, delta, A, B, C, D };
  const dtype = resultDtype(x, delta, A, B, C, h0t, ...(D ? [D] : []));
  const s: SSDShape = { b, t, nh, hs, g, n, q, dPerChannel: D !== null && D.size === nh * hs && nh * hs !== nh };
  const y = empty([b, t, nh, hs], dtype), h = empty([b, nh, hs, n], dtype);
  const chunkStates = recording(x, delta, A, B, C, D, h0t) ? allocFloat(dtype, b * ssdChunks(s) * nh * hs * n) : null;
  kernels().ssdForward(s, bufs(p), h0t.buf, y.buf, h.buf, chunkStates);
  recordSSD([x, delta, A, B, C, D ?? none(), h0t], [y, h], { s, p, h0: h0t, chunkStates });
  return { y, h };
}
