/**
 * Mamba's streaming state: per layer a conv window and an SSM state, both of fixed size, so the bytes held
 * never grow with the tokens seen (mamba_ssm's `conv_state` and `ssm_state`, same shapes and layouts).
 *
 *   Mamba-1   layers[l].conv [n, di, k]            the k latest x's entering the conv, oldest first
 *             layers[l].ssm  [n, di, dState]       h
 *   Mamba-2   layers[l].conv [n, di + 2·g·dState, k]   the k latest xBC's
 *             layers[l].ssm  [n, nh, hs, dState]   h per head
 *
 * (n streams, di inner width, k conv width, nh heads of hs channels, g groups.) Only the last k − 1 window
 * entries affect the next token; the oldest is kept because mamba_ssm's cache has that layout. States are
 * values: `forward`/`step` return new tensors and leave the old state untouched.
 */
import { zeros } from '../../tensor/creation.js';
import { ShapeError, fmtShape } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';

export interface MambaLayerState {
  conv: Tensor;
  ssm: Tensor;
}

export interface MambaState {
  layers: MambaLayerState[];
}

/** Per-stream shapes of one layer's state (without the leading n), and the number of layers. */
export interface MambaStateDims {
  nLayer: number;
  conv: readonly number[];
  ssm: readonly number[];
}

export function initMambaState(d: MambaStateDims, batch: number): MambaState {
  return { layers: Array.from({ length: d.nLayer }, () => ({ conv: zeros([batch, ...d.conv]), ssm: zeros([batch, ...d.ssm]) })) };
}

/** Bytes of a float32 state for `batch` streams: constant in the tokens seen. */
export function mambaStateBytes(d: MambaStateDims, batch: number): number {
  const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  return 4 * batch * d.nLayer * (size(d.conv) + size(d.ssm));
}

/** Check a state against the model and the batch, naming the first tensor that does not fit. */
/** t has shape [n, ...per]. */
function hasShape(t: Tensor | undefined, n: number, per: readonly number[]): boolean {
  if (t === undefined || t.ndim !== per.length + 1 || t.shape[0] !== n) return false;
  for (let i = 0; i < per.length; i++) if (t.shape[i + 1] !== per[i]) return false;
  return true;
}

export function checkMambaState(op: string, state: MambaState, d: MambaStateDims, n: number): void {
  const layers = (state as Partial<MambaState> | null)?.layers;
  if (!Array.isArray(layers) || layers.length !== d.nLayer) {
    throw new ShapeError({
      op, expected: `a Mamba state with ${d.nLayer} layers (nLayer=${d.nLayer})`,
      got: Array.isArray(layers) ? `${layers.length}` : 'no `layers` array', hint: 'create it with model.initState(batch)',
    });
  }
  // The common case first, without building anything (a streamed token checks its state every step).
  let fits = true;
  for (let l = 0; l < layers.length && fits; l++) {
    const s = layers[l] as Partial<MambaLayerState>;
    fits = hasShape(s.conv, n, d.conv) && hasShape(s.ssm, n, d.ssm);
  }
  if (fits) return;
  layers.forEach((s, l) => {
    for (const [name, per, dims] of [['conv', d.conv, '[n, channels, k]'], ['ssm', d.ssm, 'the SSM state']] as const) {
      const t = (s as Partial<MambaLayerState>)[name];
      const want = [n, ...per];
      if (t === undefined || t.ndim !== want.length || t.shape.some((v, i) => v !== want[i])) {
        throw new ShapeError({
          op, expected: `state.layers[${l}].${name} of shape ${fmtShape(want)} (${dims}, batch=${n})`,
          got: t === undefined ? 'no tensor' : fmtShape(t.shape),
        });
      }
    }
  });
}
