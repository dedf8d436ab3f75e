/**
 * The GPT's streaming state: a KV cache, per layer the keys and values of every token seen so far.
 *
 *   layers[l].k, layers[l].v   [n, p, C]   (n streams, p tokens seen, C = nEmbd; heads side by side)
 *
 * Unlike the recurrent families' fixed-size state, it grows by 2·nLayer·C floats per stream with every
 * token: after p tokens it holds 4 · 2 · nLayer · n · p · C bytes. The position counter is the cache length
 * p (the next token's position), read with `gptPosition`; it is not stored separately, so the two can never
 * disagree and the state stays a plain tree of tensors that `serializeState` writes as it is.
 *
 * States are values: `forward`/`step` return a new state and leave the old one untouched, so one prefix can
 * be continued several ways.
 */
import { concat } from '../../ops/index.js';
import { zeros } from '../../tensor/creation.js';
import { ShapeError, fmtShape } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { slabRows } from './kv-cache.js';

/** Keys and values of one layer, [n, p, C]. */
export interface GPTLayerCache {
  k: Tensor;
  v: Tensor;
}

export interface GPTState {
  layers: GPTLayerCache[];
}

type Dims = { nLayer: number; nEmbd: number };

/** An empty cache (p = 0) for `batch` streams. */
export function initGPTState(cfg: Dims, batch: number): GPTState {
  return { layers: Array.from({ length: cfg.nLayer }, () => ({ k: zeros([batch, 0, cfg.nEmbd]), v: zeros([batch, 0, cfg.nEmbd]) })) };
}

/** Tokens held by the cache: the position of the next token. */
export function gptPosition(state: GPTState): number {
  const l = state.layers[0];
  return l === undefined ? 0 : slabRows(l)?.p ?? l.k.shape[1] ?? 0;
}

/** Bytes of a float32 cache for `batch` streams after `tokens` tokens: linear in tokens. */
export function gptStateBytes(cfg: Dims, batch: number, tokens: number): number {
  return 4 * 2 * cfg.nLayer * batch * tokens * cfg.nEmbd;
}

/** The cache extended by this call's keys and values [n, t, C] along the time axis. */
export function appendKV(past: GPTLayerCache, k: Tensor, v: Tensor): GPTLayerCache {
  if (past.k.shape[1] === 0) return { k, v };
  return { k: concat([past.k, k], 1), v: concat([past.v, v], 1) };
}

/** A plain layer cache's k and v against [n, p, C] (apart, so the per-token check above allocates nothing). */
function checkLayerTensors(op: string, c: GPTLayerCache, l: number, want: number[]): void {
  for (const [name, t] of [['k', c.k], ['v', c.v]] as const) {
    if (t === undefined || t.ndim !== 3 || t.shape.some((d, i) => d !== want[i])) {
      throw new ShapeError({
        op, expected: `state.layers[${l}].${name} of shape ${fmtShape(want)} [n, p, nEmbd] (batch=${want[0]})`,
        got: t === undefined ? 'no tensor' : fmtShape(t.shape),
      });
    }
  }
}

/** Check a state against the model and batch; returns its position p. */
export function checkGPTState(op: string, state: GPTState, cfg: Dims, n: number): number {
  const layers = (state as Partial<GPTState>).layers;
  if (!Array.isArray(layers) || layers.length !== cfg.nLayer) {
    throw new ShapeError({
      op, expected: `a GPT state with ${cfg.nLayer} layer caches (nLayer=${cfg.nLayer})`,
      got: Array.isArray(layers) ? `${layers.length}` : 'no `layers` array', hint: 'create it with model.initState(batch)',
    });
  }
  const p = gptPosition(state);
  for (let l = 0; l < layers.length; l++) {
    const c = layers[l]!, s = slabRows(c); // a fused step's cache: its shape without making its tensors
    if (s === undefined || s.slab.n !== n || s.p !== p || s.slab.C !== cfg.nEmbd) checkLayerTensors(op, c, l, [n, p, cfg.nEmbd]);
  }
  return p;
}
