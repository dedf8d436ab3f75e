/**
 * The fused recurrent layer op: one layer direction over a whole sequence, recorded as a single tape node
 * (never one node per timestep). Forward and backward run in the active kernel backend.
 */
import { fusedOp, isGradEnabled } from '../autograd/tape.js';
import {
  kernels, type RecurrentKind, type RecurrentSaved, type RecurrentShape, type RecurrentStepShape, type RecurrentWeights,
} from '../kernels/index.js';
import { GATES, recurrentSavedSizes } from '../kernels/types.js';
import { Tensor, allocFloat, type FloatArray } from '../tensor/tensor.js';
import { empty, resultDtype } from './primitives.js';

export interface RecurrentLayerWeights {
  wih: Tensor;
  whh: Tensor;
  bih: Tensor | null;
  bhh: Tensor | null;
  whr: Tensor | null;
}

export interface RecurrentLayerResult {
  /** [T, N, P], zeros past each sequence's length. */
  y: Tensor;
  /** [N, P] state after each sequence's last valid step. */
  hn: Tensor;
  /** [N, H] LSTM cell state, else null. */
  cn: Tensor | null;
}

interface Saved {
  shape: RecurrentShape;
  x: Tensor;
  w: RecurrentLayerWeights;
  h0: Tensor;
  c0: Tensor | null;
  buffers: RecurrentSaved;
}

const none = (): Tensor => empty([0]);

const recordRecurrent = fusedOp<Saved>('recurrentLayer', (s, [dy, dhn, dcn]) => {
  const { x, w, h0, c0, shape } = s;
  const dx = empty(x.shape, x.dtype);
  const dh0 = empty(h0.shape, x.dtype);
  const dc0 = c0 ? empty(c0.shape, x.dtype) : null;
  const zeroLike = (t: Tensor | null): Tensor | null => (t ? empty(t.shape, x.dtype) : null);
  const dwih = zeroLike(w.wih)!, dwhh = zeroLike(w.whh)!, dbih = zeroLike(w.bih), dbhh = zeroLike(w.bhh), dwhr = zeroLike(w.whr);
  kernels().recurrentBackward(shape, x.buf, wBufs(w), h0.buf, c0?.buf ?? null, s.buffers,
    dy?.buf ?? null, dhn?.buf ?? null, dcn?.buf ?? null,
    { dx: dx.buf, dh0: dh0.buf, dc0: dc0?.buf ?? null, dwih: dwih.buf, dwhh: dwhh.buf, dbih: dbih?.buf ?? null,
      dbhh: dbhh?.buf ?? null, dwhr: dwhr?.buf ?? null });
  return [dx, dwih, dwhh, dbih, dbhh, dwhr, dh0, dc0];
});

function wBufs(w: RecurrentLayerWeights) {
  return { wih: w.wih.buf, whh: w.whh.buf, bih: w.bih?.buf ?? null, bhh: w.bhh?.buf ?? null, whr: w.whr?.buf ?? null };
}

/** The kernel's shape record; H and P come from W_hh [gates·H, P]. */
function layerShape(kind: RecurrentKind, T: number, N: number, I: number, w: RecurrentLayerWeights,
  reverse: boolean, lengths: Int32Array | null): RecurrentShape {
  return { kind, T, N, I, H: w.whh.shape[0]! / GATES[kind], P: w.whh.shape[1]!, reverse, lengths };
}

/**
 * Run one layer direction. Inputs are validated by the calling module; here x is [T, N, I], h0 [N, P],
 * c0 [N, H] (LSTM only), lengths (if any) in [0, T].
 */
export function recurrentLayer(
  kind: RecurrentKind, x: Tensor, w: RecurrentLayerWeights, h0: Tensor, c0: Tensor | null,
  opts: { reverse: boolean; lengths: Int32Array | null },
): RecurrentLayerResult {
  const [T, N, I] = [x.shape[0]!, x.shape[1]!, x.shape[2]!];
  const shape = layerShape(kind, T, N, I, w, opts.reverse, opts.lengths);
  const { H, P } = shape;
  const dtype = resultDtype(x, w.wih, w.whh, h0);
  const sizes = recurrentSavedSizes(shape);
  const inputs = [x, w.wih, w.whh, w.bih ?? none(), w.bhh ?? none(), w.whr ?? none(), h0, c0 ?? none()];
  // Without a backward to feed (inference, streaming steps) the kernel keeps the saved values as scratch.
  const buffers: RecurrentSaved | null = isGradEnabled() && inputs.some((t) => t.requiresGrad)
    ? { gates: allocFloat(dtype, sizes.gates), h: allocFloat(dtype, sizes.h), c: allocFloat(dtype, sizes.c), aux: allocFloat(dtype, sizes.aux) }
    : null;
  const y = empty([T, N, P], dtype);
  const hn = empty([N, P], dtype);
  const cn = kind === 'lstm' ? empty([N, H], dtype) : null;
  kernels().recurrentForward(shape, x.buf, wBufs(w), h0.buf, c0?.buf ?? null, y.buf, hn.buf, cn?.buf ?? null, buffers);
  if (buffers) recordRecurrent(inputs, cn ? [y, hn, cn] : [y, hn], { shape, x, w, h0, c0, buffers });
  return { y, hn, cn };
}

/**
 * One timestep of one layer direction with nothing recorded, the state advanced in place: x [N, I] → y [N, P];
 * h [N, P] at element hOff of `h` and c [N, H] at cOff of `c` (LSTM) are read and overwritten. Streaming
 * inference calls this once per layer per token, so it must cost little beyond the kernel: no tensors, no tape,
 * no views. `shape` and `w` are the caller's (kept from token to token, their buffers current); the caller
 * checks that no gradient is wanted and that every buffer has one dtype.
 */
export function recurrentStepInto(shape: RecurrentStepShape, x: FloatArray, w: RecurrentWeights,
  h: FloatArray, hOff: number, c: FloatArray | null, cOff: number, y: FloatArray): void {
  kernels().recurrentStep(shape, x, w, h, hOff, c, cOff, y);
}
