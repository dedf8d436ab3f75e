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
import { ShapeError, fmtShape } from '../../tensor/errors.js';
import { sameShape } from '../../tensor/shape.js';
import type { DType, Tensor } from '../../tensor/tensor.js';

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
export function checkRWKVState(op: string, state: RWKVState, c: RWKVStateDims, batch: number): void {
  const nh = c.dModel / c.headSize, hs = c.headSize;
  const layers = (state as Partial<RWKVState> | null)?.layers;
  if (!Array.isArray(layers) || layers.length !== c.numLayers) {
    throw new ShapeError({ op, expected: `a state with ${c.numLayers} layers (from initState)`, got: Array.isArray(layers) ? `${layers.length} layers` : 'no layers array' });
  }
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
