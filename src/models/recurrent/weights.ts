/**
 * PyTorch's parameter names and shapes for stacked, possibly bidirectional recurrent layers:
 * `weight_ih_l{k}[_reverse]` [G·H, in], `weight_hh_l{k}` [G·H, P], `bias_ih_l{k}`, `bias_hh_l{k}` [G·H],
 * `weight_hr_l{k}` [P, H] (LSTM projSize). Layers above the first take D·P inputs. A PyTorch state_dict
 * saved as safetensors therefore loads with no renaming.
 */
export interface StackDims {
  /** Gates per cell: 1 (RNN), 3 (GRU), 4 (LSTM). */
  gates: number;
  inputSize: number;
  hiddenSize: number;
  /** Output width of h: projSize for a projected LSTM, else hiddenSize. */
  outSize: number;
  numLayers: number;
  directions: 1 | 2;
  bias: boolean;
  proj: boolean;
}

export function paramSuffix(layer: number, dir: number): string {
  return `_l${layer}${dir === 1 ? '_reverse' : ''}`;
}

/** Every parameter of the stack with its shape, in PyTorch's order. */
export function stackParamShapes(d: StackDims): [string, number[]][] {
  const out: [string, number[]][] = [];
  const GH = d.gates * d.hiddenSize;
  for (let l = 0; l < d.numLayers; l++) {
    for (let dir = 0; dir < d.directions; dir++) {
      const s = paramSuffix(l, dir);
      out.push([`weight_ih${s}`, [GH, l === 0 ? d.inputSize : d.directions * d.outSize]]);
      out.push([`weight_hh${s}`, [GH, d.outSize]]);
      if (d.bias) {
        out.push([`bias_ih${s}`, [GH]]);
        out.push([`bias_hh${s}`, [GH]]);
      }
      if (d.proj) out.push([`weight_hr${s}`, [d.outSize, d.hiddenSize]]);
    }
  }
  return out;
}

/**
 * Infer the stack's dimensions from a state dict's shapes (PyTorch naming), so `fromStateDict` needs no
 * config. Returns null when the dict has no `weight_ih_l0`.
 */
export function inferStackDims(dict: Record<string, { shape: readonly number[] }>, gates: number): StackDims | null {
  const w0 = dict['weight_ih_l0'], h0 = dict['weight_hh_l0'];
  if (!w0 || !h0) return null;
  let numLayers = 0;
  while (dict[`weight_ih_l${numLayers}`]) numLayers++;
  const hiddenSize = w0.shape[0]! / gates;
  const hr = dict['weight_hr_l0'];
  return {
    gates,
    inputSize: w0.shape[1]!,
    hiddenSize,
    outSize: h0.shape[1]!,
    numLayers,
    directions: dict['weight_ih_l0_reverse'] ? 2 : 1,
    bias: dict['bias_ih_l0'] !== undefined,
    proj: hr !== undefined,
  };
}
