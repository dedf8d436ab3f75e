/**
 * ONNX `RNN`, `GRU` and `LSTM` operators (one layer each, https://onnx.ai/onnx/operators/onnx__LSTM.html),
 * computed with seqlab's layers, plus the gate-order tables and weight conversions between ONNX's W/R/B
 * layout and PyTorch's state-dict names that ONNX import/export reuse.
 *
 * ONNX conventions (see also /shared/reference/conventions.md §2.4–2.5):
 *   X [seq, batch, input] (layout 1: [batch, seq, input]);  G = 1 (RNN), 3 (GRU), 4 (LSTM)
 *   W [dirs, G·H, input], R [dirs, G·H, H], B [dirs, 2·G·H] = [Wb | Rb], P [dirs, 3·H] (LSTM peepholes)
 *   gate blocks: LSTM i, o, f, c; GRU z, r, h; peepholes i, o, f. PyTorch: LSTM i, f, g, o; GRU r, z, n.
 *   Y [seq, dirs, batch, H] (layout 1: [batch, seq, dirs, H]); Y_h, Y_c, initial_h, initial_c [dirs, batch, H]
 *   (layout 1: [batch, dirs, H]). Direction 0 is forward, 1 the reverse direction of a bidirectional node.
 *
 * Equations (f, g, h = the activations; clip(x) = min(max(x, −clip), clip) or x when no clip):
 *   RNN   H_t = f(clip(X_t Wᵀ + H_{t−1} Rᵀ + Wb + Rb))
 *   GRU   z = f(clip(X Wzᵀ + H Rzᵀ + Wbz + Rbz)),  r = f(clip(X Wrᵀ + H Rrᵀ + Wbr + Rbr))
 *         ĥ = g(clip(X Whᵀ + (r ⊙ H) Rhᵀ + Rbh + Wbh))          linear_before_reset = 0 (default)
 *         ĥ = g(clip(X Whᵀ + r ⊙ (H Rhᵀ + Rbh) + Wbh))          linear_before_reset ≠ 0 (PyTorch's GRU)
 *         H_t = (1 − z) ⊙ ĥ + z ⊙ H_{t−1}
 *   LSTM  i = f(clip(X Wiᵀ + H Riᵀ + Pi ⊙ C_{t−1} + Wbi + Rbi))
 *         f = f(clip(X Wfᵀ + H Rfᵀ + Pf ⊙ C_{t−1} + Wbf + Rbf))   (input_forget = 1: f = 1 − i)
 *         c = g(clip(X Wcᵀ + H Rcᵀ + Wbc + Rbc)),  C_t = f ⊙ C_{t−1} + i ⊙ c
 *         o = f(clip(X Woᵀ + H Roᵀ + Po ⊙ C_t + Wbo + Rbo)),  H_t = o ⊙ h(clip(C_t))
 *
 * Decisions where the spec text is short (each pinned by a test):
 * - `clip` bounds the input of every activation, h's input C_t included (the spec: "applied to the input of
 *   activations"; so does OpenVINO's LSTMCell). The carried cell state C_t itself is not clipped. ONNX Runtime's
 *   CPU LSTM does not clip h's input, so it differs from this when |C_t| > clip.
 * - `sequence_lens`: steps at t ≥ len are skipped (state frozen, Y = 0 there); Y_h/Y_c hold the state after
 *   each sequence's last valid step. The reverse direction starts at t = len − 1 of each sequence, not at
 *   seq − 1 (ONNX Runtime reverses each sequence within its length; the ONNX reference implementation masks the
 *   flipped sequence, which is the same). len = 0 leaves the initial state in Y_h/Y_c (the ONNX reference;
 *   ONNX Runtime writes zeros there).
 * - `activation_alpha` / `activation_beta` values are consumed in order, only by the activations that take
 *   them (Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu), as ONNX Runtime does; missing
 *   values take the defaults of the ONNX operators of the same name (LeakyRelu α 0.01, ThresholdedRelu α 1,
 *   HardSigmoid α 0.2 β 0.5, Elu α 1) and of the former experimental Affine (α 1, β 0). ScaledTanh has no
 *   ONNX default, so both values must be given. Unused trailing values are ignored. (ONNX Runtime defaults
 *   ThresholdedRelu, Affine and ScaledTanh parameters to 0.)
 * - With direction=bidirectional, a list of G activations (instead of 2·G) applies to both directions.
 *
 * Two implementations: the fused path (`recurrentLayer` per direction: fast, differentiable) when the cell is
 * one seqlab has (default activations, RNN Relu, no clip, no input_forget, no or all-zero constant
 * peepholes), and a per-timestep path built from tensor ops for everything else, differentiable too. The
 * step path computes in ONNX gate order directly, so tests comparing the two also check the reordering.
 */
import { CELL_GATES, type RecurrentKind } from '../kernels/types.js';
import {
  abs, add, concat, div, exp, linear, maximum, minimum, mul, narrow, permute, relu, reshape, sigmoid, softplus,
  stack, sub, tanh,
} from '../ops/index.js';
import { recurrentLayer } from '../ops/recurrent.js';
import { zeros } from '../tensor/creation.js';
import { ConfigError, DTypeError, ShapeError, WeightImportError, fmtShape } from '../tensor/errors.js';
import { Tensor, allocFloat, type DType } from '../tensor/tensor.js';

// ------------------------------------------------------------------ gate orders

export type OnnxRecurrentOperator = 'RNN' | 'GRU' | 'LSTM';

/** Gate blocks per operator (G). */
export const ONNX_GATES: { readonly [K in OnnxRecurrentOperator]: number } = { RNN: CELL_GATES.rnn, GRU: CELL_GATES.gru, LSTM: CELL_GATES.lstm };

/** Gate block order inside ONNX W, R, Wb, Rb. */
export const ONNX_GATE_ORDER = { RNN: ['i'], GRU: ['z', 'r', 'h'], LSTM: ['i', 'o', 'f', 'c'] } as const;
/** Gate block order inside PyTorch weight_ih/weight_hh/bias_ih/bias_hh (also seqlab's). */
export const TORCH_GATE_ORDER = { RNN: ['h'], GRU: ['r', 'z', 'n'], LSTM: ['i', 'f', 'g', 'o'] } as const;

/** `TORCH_FROM_ONNX[op][k]` = index of the ONNX block that becomes PyTorch block k. */
export const TORCH_FROM_ONNX: { readonly [K in OnnxRecurrentOperator]: readonly number[] } = {
  RNN: [0], GRU: [1, 0, 2], LSTM: [0, 2, 3, 1],
};
/** `ONNX_FROM_TORCH[op][k]` = index of the PyTorch block that becomes ONNX block k (the inverse permutation). */
export const ONNX_FROM_TORCH: { readonly [K in OnnxRecurrentOperator]: readonly number[] } = {
  RNN: [0], GRU: [1, 0, 2], LSTM: [0, 3, 1, 2],
};

/**
 * Reorder the `perm.length` equal gate blocks of `t` along `dim`: block k of the result is block perm[k] of
 * the input. Differentiable (narrow + concat).
 */
export function reorderGateBlocks(t: Tensor, perm: readonly number[], dim = 0): Tensor {
  const d = dim < 0 ? dim + t.ndim : dim;
  const n = t.shape[d]!;
  const G = perm.length;
  if (n % G !== 0) {
    throw new ShapeError({ op: 'reorderGateBlocks', expected: `dim ${dim} divisible into ${G} gate blocks`, got: fmtShape(t.shape) });
  }
  if (G === 1) return t;
  const H = n / G;
  return concat(perm.map((k) => narrow(t, d, k * H, H)), d);
}

// ------------------------------------------------------------------ attributes

export type OnnxActivationName =
  | 'Relu' | 'Tanh' | 'Sigmoid' | 'Affine' | 'LeakyRelu' | 'ThresholdedRelu' | 'ScaledTanh' | 'HardSigmoid'
  | 'Elu' | 'Softsign' | 'Softplus';

export interface OnnxActivation {
  name: OnnxActivationName;
  alpha: number;
  beta: number;
}

/** Which of α, β each activation takes, and their defaults (null = no default: must be given). */
const ACTIVATIONS: { readonly [K in OnnxActivationName]: { alpha?: number | null; beta?: number | null } } = {
  Relu: {}, Tanh: {}, Sigmoid: {}, Softsign: {}, Softplus: {},
  Affine: { alpha: 1, beta: 0 },
  LeakyRelu: { alpha: Math.fround(0.01) },
  ThresholdedRelu: { alpha: 1 },
  ScaledTanh: { alpha: null, beta: null },
  HardSigmoid: { alpha: Math.fround(0.2), beta: 0.5 },
  Elu: { alpha: 1 },
};
const ACTIVATION_BY_LOWER = new Map(Object.keys(ACTIVATIONS).map((k) => [k.toLowerCase(), k as OnnxActivationName]));

const DEFAULT_ACTIVATIONS: { readonly [K in OnnxRecurrentOperator]: readonly OnnxActivationName[] } = {
  RNN: ['Tanh'], GRU: ['Sigmoid', 'Tanh'], LSTM: ['Sigmoid', 'Tanh', 'Tanh'],
};

const KNOWN_ATTRIBUTES: { readonly [K in OnnxRecurrentOperator]: readonly string[] } = {
  RNN: ['activation_alpha', 'activation_beta', 'activations', 'clip', 'direction', 'hidden_size', 'layout'],
  GRU: ['activation_alpha', 'activation_beta', 'activations', 'clip', 'direction', 'hidden_size', 'layout', 'linear_before_reset'],
  LSTM: ['activation_alpha', 'activation_beta', 'activations', 'clip', 'direction', 'hidden_size', 'layout', 'input_forget'],
};

export type OnnxDirection = 'forward' | 'reverse' | 'bidirectional';

/** A node's attributes, validated, with ONNX defaults filled in. */
export interface OnnxRecurrentAttributes {
  hiddenSize: number;
  direction: OnnxDirection;
  numDirections: 1 | 2;
  layout: 0 | 1;
  /** GRU only (false otherwise). */
  linearBeforeReset: boolean;
  /** LSTM only (false otherwise). */
  inputForget: boolean;
  /** Clip threshold, or null for no clip. */
  clip: number | null;
  /** Activations per direction: [f] (RNN), [f, g] (GRU), [f, g, h] (LSTM). */
  activations: OnnxActivation[][];
}

export interface OnnxRecurrentNode {
  operator: OnnxRecurrentOperator;
  /** ONNX attribute values: numbers (or bigint ints), strings (or UTF-8 bytes), and lists of them. */
  attributes: Record<string, unknown>;
}

const opName = (operator: string): string => `onnx.${operator}`;

/** A typed array (any view but a DataView): it has a length and iterates its elements. */
function isListView(v: ArrayBufferView): v is ArrayBufferView & ArrayLike<unknown> & Iterable<unknown> {
  return !(v instanceof DataView);
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'bigint') return `${v}n`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${isListView(v) ? v.length : v.byteLength})`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function attrInt(op: string, name: string, v: unknown): number {
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) {
    throw new ConfigError({ op, expected: `attribute ${name} to be an integer`, got: describe(v) });
  }
  return n;
}

function attrFloat(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || Number.isNaN(v)) {
    throw new ConfigError({ op, expected: `attribute ${name} to be a number`, got: describe(v) });
  }
  return v;
}

function attrString(op: string, name: string, v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  throw new ConfigError({ op, expected: `attribute ${name} to be a string`, got: describe(v) });
}

function attrList(op: string, name: string, v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (ArrayBuffer.isView(v) && isListView(v) && !(v instanceof Uint8Array)) return Array.from(v);
  throw new ConfigError({ op, expected: `attribute ${name} to be a list`, got: describe(v) });
}

/** Validate a node's attributes and fill in ONNX defaults. `R`, when given, is only used for a hint. */
export function parseOnnxRecurrentAttributes(node: OnnxRecurrentNode, R?: Tensor): OnnxRecurrentAttributes {
  const { operator } = node;
  if (operator !== 'RNN' && operator !== 'GRU' && operator !== 'LSTM') {
    throw new ConfigError({ op: 'onnx.recurrent', expected: "operator 'RNN', 'GRU' or 'LSTM'", got: describe(operator) });
  }
  const op = opName(operator);
  const a = node.attributes ?? {};
  const unknown = Object.keys(a).filter((k) => !KNOWN_ATTRIBUTES[operator].includes(k));
  if (unknown.length) {
    throw new ConfigError({
      op, expected: `attributes among ${KNOWN_ATTRIBUTES[operator].join(', ')}`, got: unknown.join(', '),
      ...(unknown.includes('linear_before_reset') || unknown.includes('input_forget')
        ? { hint: 'linear_before_reset is a GRU attribute and input_forget an LSTM attribute.' } : {}),
    });
  }
  const G = ONNX_GATES[operator];

  if (a['hidden_size'] === undefined) {
    const implied = R && R.ndim === 3 ? ` R has shape ${fmtShape(R.shape)}, which implies hidden_size=${R.shape[2]}.` : '';
    throw new ConfigError({
      op, expected: 'attribute hidden_size (a positive integer)', got: 'none',
      hint: `set hidden_size to the width of the hidden state.${implied}`,
    });
  }
  const hiddenSize = attrInt(op, 'hidden_size', a['hidden_size']);
  if (hiddenSize < 1) throw new ConfigError({ op, expected: 'attribute hidden_size ≥ 1', got: String(hiddenSize) });

  const direction = a['direction'] === undefined ? 'forward' : attrString(op, 'direction', a['direction']);
  if (direction !== 'forward' && direction !== 'reverse' && direction !== 'bidirectional') {
    throw new ConfigError({ op, expected: "attribute direction 'forward', 'reverse' or 'bidirectional'", got: `'${direction}'` });
  }
  const numDirections = direction === 'bidirectional' ? 2 : 1;

  const layout = a['layout'] === undefined ? 0 : attrInt(op, 'layout', a['layout']);
  if (layout !== 0 && layout !== 1) throw new ConfigError({ op, expected: 'attribute layout 0 or 1', got: String(layout) });

  const linearBeforeReset = a['linear_before_reset'] === undefined ? false : attrInt(op, 'linear_before_reset', a['linear_before_reset']) !== 0;
  let inputForget = false;
  if (a['input_forget'] !== undefined) {
    const v = attrInt(op, 'input_forget', a['input_forget']);
    if (v !== 0 && v !== 1) throw new ConfigError({ op, expected: 'attribute input_forget 0 or 1', got: String(v) });
    inputForget = v === 1;
  }

  let clip: number | null = null;
  if (a['clip'] !== undefined) {
    clip = attrFloat(op, 'clip', a['clip']);
    if (!(clip > 0)) throw new ConfigError({ op, expected: 'attribute clip > 0 (omit it for no clipping)', got: String(clip) });
  }

  // Activations: G names per direction (or G for both directions).
  const nAct = G === 1 ? 1 : G - 1; // RNN f; GRU f, g; LSTM f, g, h
  let names: string[];
  if (a['activations'] === undefined) {
    names = [];
    for (let d = 0; d < numDirections; d++) names.push(...DEFAULT_ACTIVATIONS[operator]);
  } else {
    names = attrList(op, 'activations', a['activations']).map((v, i) => attrString(op, `activations[${i}]`, v));
    if (names.length !== nAct * numDirections && !(numDirections === 2 && names.length === nAct)) {
      throw new ConfigError({
        op, expected: `attribute activations with ${nAct * numDirections} names (${DEFAULT_ACTIVATIONS[operator].join(', ')} by default${numDirections === 2 ? ', for each direction' : ''})`,
        got: `${names.length} (${names.join(', ')})`,
      }, '');
    }
  }
  const alphas = a['activation_alpha'] === undefined ? [] : attrList(op, 'activation_alpha', a['activation_alpha']).map((v, i) => attrFloat(op, `activation_alpha[${i}]`, v));
  const betas = a['activation_beta'] === undefined ? [] : attrList(op, 'activation_beta', a['activation_beta']).map((v, i) => attrFloat(op, `activation_beta[${i}]`, v));
  let ai = 0, bi = 0;
  const parsed = names.map((raw, pos): OnnxActivation => {
    const name = ACTIVATION_BY_LOWER.get(raw.toLowerCase());
    if (!name) {
      throw new ConfigError({
        op, expected: `attribute activations from ${Object.keys(ACTIVATIONS).join(', ')}`, got: `'${raw}' at position ${pos}`,
      });
    }
    const spec = ACTIVATIONS[name];
    const take = (which: 'alpha' | 'beta'): number => {
      const def = spec[which];
      if (def === undefined) return 0;
      const list = which === 'alpha' ? alphas : betas;
      const idx = which === 'alpha' ? ai++ : bi++;
      if (idx < list.length) return list[idx]!;
      if (def === null) {
        throw new ConfigError({
          op, expected: `activation_${which} values for ${name} (it has no default)`, got: `${list.length} value(s), all consumed before position ${pos}`,
          hint: 'activation_alpha/activation_beta values are consumed in order, only by the activations that take them.',
        });
      }
      return def;
    };
    const alpha = take('alpha');
    const beta = take('beta');
    return { name, alpha, beta };
  });
  const activations: OnnxActivation[][] = [];
  for (let d = 0; d < numDirections; d++) {
    activations.push(parsed.length === nAct ? parsed : parsed.slice(d * nAct, (d + 1) * nAct));
  }
  return {
    hiddenSize, direction, numDirections, layout,
    linearBeforeReset: operator === 'GRU' && linearBeforeReset,
    inputForget: operator === 'LSTM' && inputForget,
    clip, activations,
  };
}

// ------------------------------------------------------------------ running a node

export interface OnnxRecurrentInputs {
  X: Tensor;
  W: Tensor;
  R: Tensor;
  B?: Tensor;
  /** int32 lengths [batch], each in [0, seq_length]. */
  sequence_lens?: Int32Array | readonly number[];
  initial_h?: Tensor;
  /** LSTM only. */
  initial_c?: Tensor;
  /** LSTM only: peepholes [dirs, 3·H] in order i, o, f. */
  P?: Tensor;
}

export interface OnnxRecurrentOutputs {
  Y: Tensor;
  Y_h: Tensor;
  /** LSTM only. */
  Y_c?: Tensor;
}

export interface RunOnnxRecurrentOptions {
  /**
   * 'auto' (default): the fused layer where the cell allows it, else per-timestep tensor ops; 'fused' insists
   * on the fused layer (ConfigError when the node needs the step path); 'steps' always uses the step path.
   */
  path?: 'auto' | 'fused' | 'steps';
}

const INPUT_NAMES: { readonly [K in OnnxRecurrentOperator]: readonly string[] } = {
  RNN: ['X', 'W', 'R', 'B', 'sequence_lens', 'initial_h'],
  GRU: ['X', 'W', 'R', 'B', 'sequence_lens', 'initial_h'],
  LSTM: ['X', 'W', 'R', 'B', 'sequence_lens', 'initial_h', 'initial_c', 'P'],
};

interface DirectionInputs {
  W: Tensor; // [G·H, I], ONNX gate order
  R: Tensor; // [G·H, H]
  Wb: Tensor | null; // [G·H]
  Rb: Tensor | null;
  P: Tensor | null; // [3H] (i, o, f)
  h0: Tensor; // [N, H]
  c0: Tensor | null; // [N, H]
}

interface DirectionResult {
  y: Tensor; // [T, N, H]
  hn: Tensor; // [N, H]
  cn: Tensor | null;
}

/**
 * Run one ONNX `RNN`, `GRU` or `LSTM` node. Outputs have ONNX's shapes exactly (see the file header); Y_c is
 * present for LSTM only. Differentiable with respect to every float input.
 */
export function runOnnxRecurrent(
  node: OnnxRecurrentNode, inputs: OnnxRecurrentInputs, options: RunOnnxRecurrentOptions = {},
): OnnxRecurrentOutputs {
  const operator = node.operator;
  const attrs = parseOnnxRecurrentAttributes(node, inputs.R instanceof Tensor ? inputs.R : undefined);
  const op = opName(operator);
  const G = ONNX_GATES[operator];
  const { hiddenSize: H, numDirections: D, layout } = attrs;

  const extra = Object.entries(inputs).filter(([k, v]) => !INPUT_NAMES[operator].includes(k) && v !== undefined).map(([k]) => k);
  if (extra.length) {
    throw new ConfigError({ op, expected: `inputs among ${INPUT_NAMES[operator].join(', ')}`, got: extra.join(', ') });
  }
  for (const name of ['X', 'W', 'R', 'B', 'initial_h', 'initial_c', 'P'] as const) {
    const t = inputs[name];
    if (t === undefined) {
      if (name === 'X' || name === 'W' || name === 'R') throw new ConfigError({ op, expected: `input ${name} (required)`, got: 'none' });
      continue;
    }
    if (!(t instanceof Tensor)) throw new DTypeError({ op, expected: `input ${name} to be a float Tensor`, got: describe(t) });
  }
  const { X, W, R } = inputs;
  if (X.ndim !== 3) {
    throw new ShapeError({ op, expected: `input X of rank 3, ${layout === 0 ? '[seq_length, batch_size, input_size]' : '[batch_size, seq_length, input_size] (layout=1)'}`, got: fmtShape(X.shape) });
  }
  const [T, N, I] = layout === 0 ? [X.shape[0]!, X.shape[1]!, X.shape[2]!] : [X.shape[1]!, X.shape[0]!, X.shape[2]!];

  const checkShape = (name: string, t: Tensor, want: number[], legend: string, hint?: string): void => {
    if (t.ndim !== want.length || t.shape.some((s, i) => s !== want[i])) {
      throw new ShapeError({ op, expected: `${fmtShape(want)} ${legend}`, got: fmtShape(t.shape), ...(hint ? { hint } : {}) }, `input ${name}`);
    }
  };
  const sizeHint = (t: Tensor, dim: number, per: number, what: string): string | undefined => {
    const n = t.shape[dim];
    if (t.ndim === 3 || t.ndim === 2) {
      if (n !== undefined && n !== per * H && n % per === 0) return `hidden_size=${H}, but ${what} implies hidden_size=${n / per}.`;
    }
    if (t.shape[0] !== undefined && t.shape[0] !== D) {
      return `direction=${attrs.direction} needs num_directions=${D}, but its first dim is ${t.shape[0]}.`;
    }
    return undefined;
  };
  checkShape('W', W, [D, G * H, I], `(num_directions=${D}, ${G}·hidden_size with hidden_size=${H}, input_size=${I} from X)`,
    sizeHint(W, 1, G, `W's dim 1 (${W.shape[1]} = ${G}·${(W.shape[1] ?? 0) / G})`));
  checkShape('R', R, [D, G * H, H], `(num_directions=${D}, ${G}·hidden_size, hidden_size) for hidden_size=${H}`,
    sizeHint(R, 1, G, `R's dim 1 (${R.shape[1]} = ${G}·${(R.shape[1] ?? 0) / G})`));
  if (inputs.B) {
    checkShape('B', inputs.B, [D, 2 * G * H], `(num_directions, 2·${G}·hidden_size) = [Wb | Rb] for hidden_size=${H}`,
      sizeHint(inputs.B, 1, 2 * G, `B's dim 1`));
  }
  const stateShape = layout === 0 ? [D, N, H] : [N, D, H];
  const stateLegend = layout === 0 ? '(num_directions, batch_size, hidden_size)' : '(batch_size, num_directions, hidden_size) with layout=1';
  if (inputs.initial_h) checkShape('initial_h', inputs.initial_h, stateShape, stateLegend);
  if (inputs.initial_c) checkShape('initial_c', inputs.initial_c, stateShape, stateLegend);
  if (inputs.P) checkShape('P', inputs.P, [D, 3 * H], `(num_directions, 3·hidden_size), peepholes i, o, f for hidden_size=${H}`);
  const lengths = inputs.sequence_lens === undefined ? null : checkLengths(op, inputs.sequence_lens, T, N);

  const dtype: DType = [X, W, R, inputs.B, inputs.initial_h, inputs.initial_c, inputs.P]
    .some((t) => t?.dtype === 'float64') ? 'float64' : 'float32';
  const x = layout === 0 ? X : permute(X, [1, 0, 2]); // [T, N, I]
  const h0All = inputs.initial_h ? (layout === 0 ? inputs.initial_h : permute(inputs.initial_h, [1, 0, 2])) : null;
  const c0All = inputs.initial_c ? (layout === 0 ? inputs.initial_c : permute(inputs.initial_c, [1, 0, 2])) : null;

  const path = options.path ?? 'auto';
  const results: DirectionResult[] = [];
  for (let d = 0; d < D; d++) {
    const row = (t: Tensor, shape: number[]): Tensor => reshape(narrow(t, 0, d, 1), shape);
    const dir: DirectionInputs = {
      W: row(W, [G * H, I]), R: row(R, [G * H, H]),
      Wb: inputs.B ? narrow(row(inputs.B, [2 * G * H]), 0, 0, G * H) : null,
      Rb: inputs.B ? narrow(row(inputs.B, [2 * G * H]), 0, G * H, G * H) : null,
      P: inputs.P ? row(inputs.P, [3 * H]) : null,
      h0: h0All ? row(h0All, [N, H]) : zeros([N, H], { dtype }),
      c0: operator === 'LSTM' ? (c0All ? row(c0All, [N, H]) : zeros([N, H], { dtype })) : null,
    };
    const acts = attrs.activations[d]!;
    const reverse = attrs.direction === 'reverse' || d === 1;
    const kind = path === 'steps' ? null : fusedKind(operator, attrs, acts, dir.P);
    if (path === 'fused' && kind === null) {
      throw new ConfigError({
        op, expected: 'a node the fused layer can run (default activations or RNN Relu, no clip, no input_forget, no or all-zero constant P)',
        got: `activations [${acts.map((a) => a.name).join(', ')}]${attrs.clip !== null ? `, clip=${attrs.clip}` : ''}${attrs.inputForget ? ', input_forget=1' : ''}${dir.P ? ', peepholes P' : ''}`,
        hint: "use path: 'auto' or 'steps'.",
      });
    }
    results.push(kind !== null
      ? runFused(operator, kind, x, dir, reverse, lengths)
      : runSteps(operator, attrs, acts, x, dir, reverse, lengths, dtype));
  }

  let Y = D === 1 ? reshape(results[0]!.y, [T, 1, N, H]) : stack(results.map((r) => r.y), 1); // [T, D, N, H]
  let Y_h = D === 1 ? reshape(results[0]!.hn, [1, N, H]) : stack(results.map((r) => r.hn), 0); // [D, N, H]
  let Y_c = operator !== 'LSTM' ? null : D === 1 ? reshape(results[0]!.cn!, [1, N, H]) : stack(results.map((r) => r.cn!), 0);
  if (layout === 1) {
    Y = permute(Y, [2, 0, 1, 3]);
    Y_h = permute(Y_h, [1, 0, 2]);
    if (Y_c) Y_c = permute(Y_c, [1, 0, 2]);
  }
  return Y_c ? { Y, Y_h, Y_c } : { Y, Y_h };
}

function checkLengths(op: string, lens: Int32Array | readonly number[], T: number, N: number): Int32Array | null {
  if (!(lens instanceof Int32Array) && !Array.isArray(lens) && !ArrayBuffer.isView(lens)) {
    throw new DTypeError({ op, expected: 'input sequence_lens as an Int32Array or number[]', got: describe(lens) });
  }
  if (lens.length !== N) {
    throw new ShapeError({ op, expected: `[${N}] (batch_size)`, got: `[${lens.length}]` }, 'input sequence_lens');
  }
  const out = new Int32Array(N);
  let full = true;
  for (let i = 0; i < N; i++) {
    const v = lens[i]!;
    if (!Number.isInteger(v) || v < 0 || v > T) {
      throw new ShapeError({ op, expected: `integers in [0, ${T}] (seq_length)`, got: `${v} at batch index ${i}` }, 'input sequence_lens');
    }
    out[i] = v;
    if (v !== T) full = false;
  }
  return full ? null : out;
}

const allZero = (t: Tensor): boolean => t.buf.every((v) => v === 0);

/** The fused kind that computes this direction exactly, or null when it needs the step path. */
function fusedKind(operator: OnnxRecurrentOperator, attrs: OnnxRecurrentAttributes, acts: OnnxActivation[], P: Tensor | null): RecurrentKind | null {
  if (attrs.clip !== null) return null;
  const names = acts.map((a) => a.name).join(',');
  switch (operator) {
    case 'RNN': return names === 'Tanh' ? 'rnn_tanh' : names === 'Relu' ? 'rnn_relu' : null;
    case 'GRU':
      if (names !== 'Sigmoid,Tanh') return null;
      return attrs.linearBeforeReset ? 'gru' : 'gru_reset_before';
    case 'LSTM':
      if (names !== 'Sigmoid,Tanh,Tanh' || attrs.inputForget) return null;
      // Zero peepholes change nothing in the values, but a P that wants a gradient needs the step path.
      if (P && (P.requiresGrad || !allZero(P))) return null;
      return 'lstm';
    default: return operator satisfies never;
  }
}

function runFused(
  operator: OnnxRecurrentOperator, kind: RecurrentKind, x: Tensor, w: DirectionInputs, reverse: boolean, lengths: Int32Array | null,
): DirectionResult {
  const perm = TORCH_FROM_ONNX[operator];
  const r = recurrentLayer(kind, x, {
    wih: reorderGateBlocks(w.W, perm), whh: reorderGateBlocks(w.R, perm),
    bih: w.Wb ? reorderGateBlocks(w.Wb, perm) : null, bhh: w.Rb ? reorderGateBlocks(w.Rb, perm) : null, whr: null,
  }, w.h0, w.c0, { reverse, lengths });
  return { y: r.y, hn: r.hn, cn: r.cn };
}

/** One ONNX activation as tensor ops (differentiable). */
export function onnxActivation(a: OnnxActivation, x: Tensor): Tensor {
  switch (a.name) {
    case 'Relu': return relu(x);
    case 'Tanh': return tanh(x);
    case 'Sigmoid': return sigmoid(x);
    case 'Affine': return add(mul(x, a.alpha), a.beta); // α·x + β
    case 'LeakyRelu': return add(relu(x), mul(minimum(x, 0), a.alpha)); // x if x ≥ 0 else α·x
    case 'ThresholdedRelu': { // x if x ≥ α else 0 (the RNN operators' text; the ThresholdedRelu operator says x > α)
      const m = new Tensor(allocFloat(x.dtype, x.size), x.shape);
      for (let i = 0; i < x.size; i++) m.buf[i] = x.buf[i]! >= a.alpha ? 1 : 0;
      return mul(x, m);
    }
    case 'ScaledTanh': return mul(tanh(mul(x, a.beta)), a.alpha); // α·tanh(β·x)
    case 'HardSigmoid': return minimum(maximum(add(mul(x, a.alpha), a.beta), 0), 1); // min(max(α·x + β, 0), 1)
    case 'Elu': return add(relu(x), mul(sub(exp(minimum(x, 0)), 1), a.alpha)); // x if x ≥ 0 else α·(eˣ − 1)
    case 'Softsign': return div(x, add(abs(x), 1)); // x / (1 + |x|)
    case 'Softplus': return softplus(x); // log(1 + eˣ)
    default: return a.name satisfies never;
  }
}

/** The per-timestep implementation, in ONNX gate order, straight from the equations in the header. */
function runSteps(
  operator: OnnxRecurrentOperator, attrs: OnnxRecurrentAttributes, acts: OnnxActivation[], x: Tensor, w: DirectionInputs,
  reverse: boolean, lengths: Int32Array | null, dtype: DType,
): DirectionResult {
  const [T, N, I] = [x.shape[0]!, x.shape[1]!, x.shape[2]!];
  const H = attrs.hiddenSize;
  const G = ONNX_GATES[operator];
  const { clip } = attrs;
  const act = (k: number, v: Tensor): Tensor => onnxActivation(acts[k]!, clip === null ? v : minimum(maximum(v, -clip), clip));
  const block = (t: Tensor, k: number): Tensor => narrow(t, -1, k * H, H);
  const rows = (t: Tensor, k: number, n = 1): Tensor => narrow(t, 0, k * H, n * H);

  // X_t Wᵀ + Wb for every step at once: [T, N, G·H].
  const xw = T * N === 0 ? zeros([T, N, G * H], { dtype }) : reshape(linear(reshape(x, [T * N, I]), w.W, w.Wb), [T, N, G * H]);
  const gru = operator === 'GRU';
  // GRU with linear_before_reset=0 multiplies R_h by r ⊙ H, so the recurrent product splits into z,r and h rows.
  const splitR = gru && !attrs.linearBeforeReset;
  const Rzr = splitR ? rows(w.R, 0, 2) : w.R;
  const Rbzr = splitR && w.Rb ? rows(w.Rb, 0, 2) : w.Rb;
  const Rh = splitR ? rows(w.R, 2) : null;
  const Rbh = splitR && w.Rb ? rows(w.Rb, 2) : null;
  const Pi = w.P ? narrow(w.P, 0, 0, H) : null;
  const Po = w.P ? narrow(w.P, 0, H, H) : null;
  const Pf = w.P ? narrow(w.P, 0, 2 * H, H) : null;

  let h = w.h0;
  let c = w.c0;
  const ys: Tensor[] = new Array<Tensor>(T);
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    // Which sequences are still running at time t (null: all of them).
    let mask: Tensor | null = null, inv: Tensor | null = null;
    if (lengths) {
      let active = 0;
      mask = new Tensor(allocFloat(dtype, N), [N, 1]);
      for (let n = 0; n < N; n++) if (t < lengths[n]!) { mask.buf[n] = 1; active++; }
      if (active === 0) { ys[t] = zeros([N, H], { dtype }); continue; }
      if (active === N) mask = null;
      else {
        inv = new Tensor(allocFloat(dtype, N), [N, 1]);
        for (let n = 0; n < N; n++) inv.buf[n] = 1 - mask.buf[n]!;
      }
    }
    const gx = reshape(narrow(xw, 0, t, 1), [N, G * H]);
    const gh = linear(h, Rzr, Rbzr);
    let hNew: Tensor, cNew: Tensor | null = null;
    switch (operator) {
      case 'RNN':
        hNew = act(0, add(gx, gh));
        break;
      case 'GRU': {
        const z = act(0, add(block(gx, 0), block(gh, 0)));
        const r = act(0, add(block(gx, 1), block(gh, 1)));
        const hh = splitR
          ? act(1, add(block(gx, 2), linear(mul(r, h), Rh!, Rbh))) // X Whᵀ + Wbh + (r ⊙ H) Rhᵀ + Rbh
          : act(1, add(block(gx, 2), mul(r, block(gh, 2)))); // X Whᵀ + Wbh + r ⊙ (H Rhᵀ + Rbh)
        hNew = add(mul(sub(1, z), hh), mul(z, h)); // (1 − z) ⊙ ĥ + z ⊙ H
        break;
      }
      case 'LSTM': {
        const pre = add(gx, gh);
        const peep = (k: number, p: Tensor | null, cc: Tensor): Tensor => (p ? add(block(pre, k), mul(p, cc)) : block(pre, k));
        const i = act(0, peep(0, Pi, c!));
        const f = attrs.inputForget ? sub(1, i) : act(0, peep(2, Pf, c!));
        const g = act(1, block(pre, 3));
        cNew = add(mul(f, c!), mul(i, g)); // C_t = f ⊙ C_{t−1} + i ⊙ c
        const o = act(0, peep(1, Po, cNew)); // the output gate's peephole sees the new cell
        hNew = mul(o, act(2, cNew)); // H_t = o ⊙ h(clip(C_t))
        break;
      }
      default: return operator satisfies never;
    }
    if (mask && inv) {
      ys[t] = mul(hNew, mask);
      h = add(ys[t]!, mul(h, inv));
      if (cNew) c = add(mul(cNew, mask), mul(c!, inv));
    } else {
      ys[t] = hNew;
      h = hNew;
      if (cNew) c = cNew;
    }
  }
  const y = T === 0 ? zeros([0, N, H], { dtype }) : stack(ys, 0);
  return { y, hn: h, cn: operator === 'LSTM' ? c : null };
}

// ------------------------------------------------------------------ weight conversion

/**
 * ONNX W, R, B (+ num_directions from W) → PyTorch state-dict entries for one layer:
 * `weight_ih_l{layer}`, `weight_hh_l{layer}`, `bias_ih_l{layer}`, `bias_hh_l{layer}` and the `_reverse` twins for
 * direction 1, gate blocks reordered (LSTM iofc → ifgo, GRU zrh → rzn). Without B no bias entries are made
 * (load them into a module with `bias: false`, or add zeros). The GRU weights fit a reset-after GRU (PyTorch's)
 * only when the node has linear_before_reset=1; otherwise load them into `nn.GRU({ resetAfter: false })`.
 * Peepholes, clip, input_forget and non-default activations have no PyTorch counterpart: check them first.
 */
export function onnxToTorchWeights(
  operator: OnnxRecurrentOperator, weights: { W: Tensor; R: Tensor; B?: Tensor | null },
  opts: { layer?: number; prefix?: string } = {},
): Record<string, Tensor> {
  const op = `${opName(operator)}.toTorchWeights`;
  const G = ONNX_GATES[operator];
  const { W, R } = weights;
  const B = weights.B ?? null;
  if (W.ndim !== 3 || W.shape[1]! % G !== 0 || W.shape[0]! < 1 || W.shape[0]! > 2) {
    throw new ShapeError({ op, expected: `[num_directions (1 or 2), ${G}·hidden_size, input_size]`, got: fmtShape(W.shape) }, 'input W');
  }
  const [D, GH, I] = [W.shape[0]!, W.shape[1]!, W.shape[2]!];
  const H = GH / G;
  if (R.ndim !== 3 || R.shape[0] !== D || R.shape[1] !== GH || R.shape[2] !== H) {
    throw new ShapeError({ op, expected: `${fmtShape([D, GH, H])} to match W ${fmtShape(W.shape)} (hidden_size=${H})`, got: fmtShape(R.shape) }, 'input R');
  }
  if (B && (B.ndim !== 2 || B.shape[0] !== D || B.shape[1] !== 2 * GH)) {
    throw new ShapeError({ op, expected: `${fmtShape([D, 2 * GH])} = [Wb | Rb] to match W ${fmtShape(W.shape)}`, got: fmtShape(B.shape) }, 'input B');
  }
  const perm = TORCH_FROM_ONNX[operator];
  const layer = opts.layer ?? 0;
  const prefix = opts.prefix ?? '';
  const out: Record<string, Tensor> = {};
  for (let d = 0; d < D; d++) {
    const s = `_l${layer}${d === 1 ? '_reverse' : ''}`;
    out[`${prefix}weight_ih${s}`] = reorderGateBlocks(reshape(narrow(W, 0, d, 1), [GH, I]), perm);
    out[`${prefix}weight_hh${s}`] = reorderGateBlocks(reshape(narrow(R, 0, d, 1), [GH, H]), perm);
    if (B) {
      const b = reshape(narrow(B, 0, d, 1), [2 * GH]);
      out[`${prefix}bias_ih${s}`] = reorderGateBlocks(narrow(b, 0, 0, GH), perm);
      out[`${prefix}bias_hh${s}`] = reorderGateBlocks(narrow(b, 0, GH, GH), perm);
    }
  }
  return out;
}

export interface OnnxRecurrentWeights {
  W: Tensor;
  R: Tensor;
  /** [Wb | Rb], or null when the state dict has no biases. */
  B: Tensor | null;
  hiddenSize: number;
  inputSize: number;
  direction: 'forward' | 'bidirectional';
}

/**
 * PyTorch state-dict entries of one layer (`weight_ih_l{layer}`, …, `_reverse` twins when bidirectional) →
 * ONNX W, R, B with gate blocks reordered (LSTM ifgo → iofc, GRU rzn → zrh). A PyTorch GRU is ONNX's
 * linear_before_reset=1 form; a seqlab `resetAfter: false` GRU is linear_before_reset=0.
 */
export function torchToOnnxWeights(
  operator: OnnxRecurrentOperator, stateDict: Readonly<Record<string, Tensor>>, opts: { layer?: number; prefix?: string } = {},
): OnnxRecurrentWeights {
  const op = `${opName(operator)}.fromTorchWeights`;
  const G = ONNX_GATES[operator];
  const layer = opts.layer ?? 0;
  const prefix = opts.prefix ?? '';
  const key = (name: string, d: number): string => `${prefix}${name}_l${layer}${d === 1 ? '_reverse' : ''}`;
  const D = key('weight_ih', 1) in stateDict ? 2 : 1;
  const missing: string[] = [];
  for (let d = 0; d < D; d++) for (const n of ['weight_ih', 'weight_hh']) if (!(key(n, d) in stateDict)) missing.push(key(n, d));
  if (missing.length) {
    const have = Object.keys(stateDict);
    // Suggest the prefix and layer of the weights that are there.
    const found = have.map((k) => /^(.*)weight_ih_l(\d+)$/.exec(k)).find((m) => m !== null);
    throw new WeightImportError({
      op, expected: `keys ${missing.join(', ')}`, got: have.length ? `keys ${have.join(', ')}` : 'an empty state dict',
      ...(found ? { hint: `the state dict has ${found[0]}: pass { prefix: '${found[1]}', layer: ${found[2]} }.` } : {}),
    }, 'missing');
  }
  if (key('weight_hr', 0) in stateDict) {
    throw new ConfigError({ op, expected: 'an LSTM without projection', got: `${key('weight_hr', 0)} (projSize > 0)`, hint: 'ONNX LSTM has no projection; export W_hr as a separate MatMul.' });
  }
  const hasBias = key('bias_ih', 0) in stateDict || key('bias_hh', 0) in stateDict;
  const wih0 = stateDict[key('weight_ih', 0)]!;
  if (wih0.ndim !== 2 || wih0.shape[0]! % G !== 0) {
    throw new ShapeError({ op, expected: `[${G}·hidden_size, input_size]`, got: fmtShape(wih0.shape) }, key('weight_ih', 0));
  }
  const [GH, I] = [wih0.shape[0]!, wih0.shape[1]!];
  const H = GH / G;
  const perm = ONNX_FROM_TORCH[operator];
  const Ws: Tensor[] = [], Rs: Tensor[] = [], Bs: Tensor[] = [];
  for (let d = 0; d < D; d++) {
    const get = (n: string, shape: number[]): Tensor => {
      const t = stateDict[key(n, d)];
      if (!t) throw new WeightImportError({ op, expected: `key ${key(n, d)} (the other bias is present)`, got: 'no such key' }, 'missing');
      if (t.ndim !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
        throw new ShapeError({ op, expected: `${fmtShape(shape)} (hidden_size=${H}, input_size=${I})`, got: fmtShape(t.shape) }, key(n, d));
      }
      return t;
    };
    Ws.push(reorderGateBlocks(get('weight_ih', [GH, I]), perm));
    Rs.push(reorderGateBlocks(get('weight_hh', [GH, H]), perm));
    if (hasBias) Bs.push(concat([reorderGateBlocks(get('bias_ih', [GH]), perm), reorderGateBlocks(get('bias_hh', [GH]), perm)], 0));
  }
  return {
    W: stack(Ws, 0), R: stack(Rs, 0), B: hasBias ? stack(Bs, 0) : null,
    hiddenSize: H, inputSize: I, direction: D === 2 ? 'bidirectional' : 'forward',
  };
}
