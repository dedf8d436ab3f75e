/**
 * RWKV's streaming state: per layer, the time-mix's previous (normalised) token, its WKV state per head,
 * and the channel-mix's previous token. Its size is fixed — it never grows with the tokens seen.
 *
 *   attXPrev [b, d]          ln1(x) of the last token (token shift of the time-mix)
 *   wkv      [b, nh, hs, hs] RWKV-6: S[key, value]; RWKV-7: S[value, key] — each version's official layout
 *   ffnXPrev [b, d]          ln2(x) of the last token (token shift of the channel-mix)
 *
 * These are the three per-layer tensors of the official RNN code (ChatRWKV's `state[i*3+0..2]`,
 * rwkv_v7_demo_rnn.py), as named fields instead of a flat list with computed offsets.
 */
import { zeros } from '../../tensor/creation.js';
import { ShapeError, WeightImportError, fmtShape } from '../../tensor/errors.js';
import { sameShape } from '../../tensor/shape.js';
import { Tensor, type DType } from '../../tensor/tensor.js';

export interface RWKVLayerState {
  attXPrev: Tensor;
  wkv: Tensor;
  ffnXPrev: Tensor;
}

export interface RWKVState {
  layers: RWKVLayerState[];
}

export interface RWKVStateDims {
  numLayers: number;
  dModel: number;
  headSize: number;
}

/** The state before any token: all zeros, as the official code starts. */
export function initRWKVState(c: RWKVStateDims, batch: number, dtype: DType = 'float32'): RWKVState {
  const nh = c.dModel / c.headSize, hs = c.headSize;
  return {
    layers: Array.from({ length: c.numLayers }, () => ({
      attXPrev: zeros([batch, c.dModel], { dtype }),
      wkv: zeros([batch, nh, hs, hs], { dtype }),
      ffnXPrev: zeros([batch, c.dModel], { dtype }),
    })),
  };
}

/** Bytes of float32 state for `batch` streams: constant in the number of tokens. */
export function rwkvStateBytes(c: RWKVStateDims, batch: number): number {
  return 4 * batch * c.numLayers * (2 * c.dModel + c.dModel * c.headSize);
}

/** Check a caller's state against the model and batch once, at the model boundary. */
/** t has shape [a, b] (c = 0) or [a, b, c, e]. */
function is(t: Tensor | undefined, a: number, b: number, c: number, e: number): boolean {
  if (t === undefined || t.ndim !== (c === 0 ? 2 : 4) || t.shape[0] !== a || t.shape[1] !== b) return false;
  return c === 0 || (t.shape[2] === c && t.shape[3] === e);
}

export function checkRWKVState(op: string, state: RWKVState, c: RWKVStateDims, batch: number): void {
  const nh = c.dModel / c.headSize, hs = c.headSize;
  const layers = (state as Partial<RWKVState> | null)?.layers;
  if (!Array.isArray(layers) || layers.length !== c.numLayers) {
    throw new ShapeError({ op, expected: `a state with ${c.numLayers} layers (from initState)`, got: Array.isArray(layers) ? `${layers.length} layers` : 'no layers array' });
  }
  // The common case first, without building anything (a streamed token checks its state every step).
  let fits = true;
  for (let i = 0; i < layers.length && fits; i++) {
    const l = layers[i] as Partial<RWKVLayerState>;
    fits = is(l.attXPrev, batch, c.dModel, 0, 0) && is(l.wkv, batch, nh, hs, hs) && is(l.ffnXPrev, batch, c.dModel, 0, 0);
  }
  if (fits) return;
  const want: Record<keyof RWKVLayerState, number[]> = { attXPrev: [batch, c.dModel], wkv: [batch, nh, hs, hs], ffnXPrev: [batch, c.dModel] };
  layers.forEach((l, i) => {
    for (const key of Object.keys(want) as (keyof RWKVLayerState)[]) {
      const t = l[key];
      if (t === undefined || !sameShape(t.shape, want[key])) {
        throw new ShapeError({
          op, expected: `state.layers[${i}].${key} ${fmtShape(want[key])} for batch ${batch}`, got: t === undefined ? 'nothing' : fmtShape(t.shape),
          hint: 'a state belongs to one model and one batch size; create it with initState(batch)',
        });
      }
    }
  });
}

/**
 * Official state files (RWKV state tuning, loaded by ChatRWKV / the rwkv pip package / RWKV-Runner) hold one
 * tensor per layer, `blocks.{i}.att.time_state` [nh, hs, hs], stored S[value, key] for both versions: the
 * x060 loaders transpose it into their key-major runtime state, the x070 ones use it as it is. The token-shift
 * parts are not stored and start at zero, as in those loaders.
 */
export function rwkvStateFromTimeState(dict: Record<string, Tensor>, c: RWKVStateDims & { version: 6 | 7 }, batch = 1): RWKVState {
  const nh = c.dModel / c.headSize, hs = c.headSize, want = [nh, hs, hs];
  const bad = Array.from({ length: c.numLayers }, (_, i) => `blocks.${i}.att.time_state`)
    .filter((k) => dict[k] === undefined || !sameShape(dict[k].shape, want));
  if (bad.length > 0) {
    throw new WeightImportError({
      op: 'RWKV.stateFromTimeState', expected: `'blocks.{i}.att.time_state' ${fmtShape(want)} for each of ${c.numLayers} layers`,
      got: bad.map((k) => `${k}: ${dict[k] ? fmtShape(dict[k].shape) : 'missing'}`).join(', '),
    });
  }
  const state = initRWKVState(c, batch);
  state.layers.forEach((l, i) => {
    const src = dict[`blocks.${i}.att.time_state`]!.buf;
    for (let b = 0; b < batch; b++) copyHeads(src, 0, l.wkv.buf, b * nh * hs * hs, nh, hs, c.version === 6);
  });
  return state;
}

/** The `time_state` tensors of stream `stream` of a state, as an official state file stores them. */
export function rwkvTimeStateDict(state: RWKVState, c: RWKVStateDims & { version: 6 | 7 }, stream = 0): Record<string, Tensor> {
  const nh = c.dModel / c.headSize, hs = c.headSize;
  const out: Record<string, Tensor> = {};
  state.layers.forEach((l, i) => {
    const t = zeros([nh, hs, hs]);
    copyHeads(l.wkv.buf, stream * nh * hs * hs, t.buf, 0, nh, hs, c.version === 6);
    out[`blocks.${i}.att.time_state`] = t;
  });
  return out;
}

/** Copy nh hs×hs matrices, transposing each when `transpose` (the x060 key-major ↔ value-major swap). */
function copyHeads(src: Tensor['buf'], so: number, dst: Tensor['buf'], dOff: number, nh: number, hs: number, transpose: boolean): void {
  for (let h = 0; h < nh; h++) {
    for (let r = 0; r < hs; r++) {
      for (let q = 0; q < hs; q++) dst[dOff + (h * hs + r) * hs + q] = src[so + (h * hs + (transpose ? q : r)) * hs + (transpose ? r : q)]!;
    }
  }
}
