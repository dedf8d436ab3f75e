/**
 * RecurrentLM: the char-rnn language model. Embedding → RNN/LSTM/GRU stack → Linear head:
 *
 *   e_t = E[x_t];   (h_t, state) = stack(e_t, state);   logits_t = W_head h_t + b_head
 *
 * Parameter names: `emb.weight`, `<cell>.weight_ih_l0` … (the cell's PyTorch names under `lstm.`, `gru.` or
 * `rnn.`), `head.weight`, `head.bias` — a PyTorch module with attributes `emb`, `lstm`, `head` saves the
 * same keys.
 */
import { CELL_GATES, kernels } from '../../kernels/index.js';
import { Module } from '../../nn/module.js';
import { Embedding, Linear } from '../../nn/layers.js';
import { dropout } from '../../ops/index.js';
import { canFuseStep, checkLogitsOut, StepBuffers } from '../../ops/step.js';
import { ConfigError, ShapeError, WeightImportError, fmtShape } from '../../tensor/errors.js';
import { Tensor, type FloatArray } from '../../tensor/tensor.js';
import type { FamilySpec, LanguageModel, TokenBatch } from '../lm.js';
import { aBoolean, aNumber, configObject, oneOf, parseConfig, type Field, type Schema } from '../config.js';
import { isCellName, makeStack, type CellStates, type RecurrentCellName } from './cells.js';
import type { RecurrentStack } from './stack.js';
import { inferStackDims } from './weights.js';

export type { RecurrentCellName } from './cells.js';

export interface RecurrentLMConfig<C extends RecurrentCellName = RecurrentCellName> {
  cell: C;
  vocabSize: number;
  hiddenSize: number;
  /** Embedding width (default: hiddenSize). */
  embeddingDim?: number;
  numLayers?: number;
  /** Dropout between stacked layers and before the head (training only). */
  dropout?: number;
  /** RNN only. */
  nonlinearity?: 'tanh' | 'relu';
  /** GRU only (default true, PyTorch's form). */
  resetAfter?: boolean;
  /** LSTM only: opt-in forget-gate bias init. */
  forgetBias?: number;
}

export type RecurrentLMState = CellStates[RecurrentCellName];

const cellField: Field = { ok: isCellName, want: "'rnn', 'lstm' or 'gru'" };
const RECURRENT_LM_FIELDS: Schema<RecurrentLMConfig> = {
  cell: cellField, vocabSize: aNumber, hiddenSize: aNumber, embeddingDim: aNumber, numLayers: aNumber, dropout: aNumber,
  nonlinearity: oneOf('tanh', 'relu'), resetAfter: aBoolean, forgetBias: aNumber,
};

/** A RecurrentLM config read from untrusted input (the sizes' ranges are checked by the modules). */
export function parseRecurrentLMConfig(raw: unknown, op = 'RecurrentLM'): RecurrentLMConfig {
  return parseConfig(raw, RECURRENT_LM_FIELDS, op, { required: ['cell', 'vocabSize', 'hiddenSize'] });
}

/** Token ids of a batch [n, t] as a flat Int32Array plus shape, with a clear error for bad input. */
export function readTokens(op: string, tokens: TokenBatch): { ids: Int32Array; n: number; t: number } {
  if (tokens instanceof Tensor) {
    if (tokens.ndim !== 2) throw new ShapeError({ op, expected: 'tokens [n, t]', got: fmtShape(tokens.shape) });
    return { ids: Int32Array.from(tokens.buf), n: tokens.shape[0]!, t: tokens.shape[1]! };
  }
  if (tokens instanceof Int32Array) {
    throw new ShapeError({ op, expected: 'tokens [n, t] as a Tensor or number[][]', got: 'a flat Int32Array', hint: 'wrap one sequence as [Array.from(ids)]' });
  }
  const n = tokens.length, t = tokens[0]?.length ?? 0;
  const ids = new Int32Array(n * t);
  tokens.forEach((row, i) => {
    if (row.length !== t) throw new ShapeError({ op, expected: `every row of length ${t}`, got: `row ${i} of length ${row.length}` });
    for (let j = 0; j < t; j++) ids[i * t + j] = row[j]!;
  });
  return { ids, n, t };
}

export class RecurrentLM<C extends RecurrentCellName = RecurrentCellName> extends Module implements LanguageModel<CellStates[C]> {
  readonly family: C;
  readonly vocabSize: number;
  readonly config: Readonly<RecurrentLMConfig<C>>;
  readonly emb: Embedding;
  readonly stack: RecurrentStack<CellStates[C]>;
  readonly head: Linear;
  private readonly p: number;
  /** The name stepInPlace's messages use, made once (a template string per token would be its garbage). */
  private readonly opInPlace: string;

  constructor(config: RecurrentLMConfig<C>) {
    super();
    const cell = config.cell;
    if (!isCellName(cell)) {
      throw new ConfigError({ op: 'RecurrentLM', expected: "cell 'rnn', 'lstm' or 'gru'", got: JSON.stringify(cell) });
    }
    this.family = cell;
    this.opInPlace = `${cell}LM.stepInPlace`;
    this.rowStrides = [config.vocabSize, 1];
    this.config = { ...config };
    this.vocabSize = config.vocabSize;
    this.p = config.dropout ?? 0;
    const E = config.embeddingDim ?? config.hiddenSize;
    this.emb = this.registerModule('emb', new Embedding({ numEmbeddings: config.vocabSize, embeddingDim: E }));
    const { nonlinearity, resetAfter, forgetBias } = config;
    this.stack = this.registerModule(cell, makeStack(cell, {
      inputSize: E, hiddenSize: config.hiddenSize, numLayers: config.numLayers ?? 1, dropout: this.p,
      ...(nonlinearity !== undefined ? { nonlinearity } : {}), ...(resetAfter !== undefined ? { resetAfter } : {}),
      ...(forgetBias !== undefined ? { forgetBias } : {}),
    }));
    this.head = this.registerModule('head', new Linear({ inFeatures: config.hiddenSize, outFeatures: config.vocabSize }));
  }

  initState(batch = 1): CellStates[C] {
    return this.stack.initState(batch);
  }

  stateBytes(batch = 1): number {
    return this.stack.stateBytes(batch);
  }

  forward(tokens: TokenBatch, state?: CellStates[C] | null): { logits: Tensor; state: CellStates[C] } {
    const { ids, n, t } = readTokens('recurrentLM.forward', tokens);
    const e = this.emb.forward(ids, [n, t]);
    const r = this.stack.forward(e, state);
    const logits = this.head.forward(dropout(r.output, this.p, this.training));
    return { logits, state: r.state };
  }

  step(tokens: Tensor | Int32Array | readonly number[], state: CellStates[C]): { logits: Tensor; state: CellStates[C] } {
    const ids = tokens instanceof Tensor ? Int32Array.from(tokens.buf) : Int32Array.from(tokens);
    const e = this.emb.forward(ids, [ids.length]);
    const r = this.stack.step(e, state);
    if (!canFuseStep(this.parameterList()) || r.output.dtype !== 'float32') return { logits: this.head.forward(r.output), state: r.state };
    // Nothing to record: the head on plain arrays, as stepInPlace computes it (the same kernels as Linear).
    const logits = new Tensor(new Float32Array(ids.length * this.vocabSize), [ids.length, this.vocabSize]);
    this.headInto(r.output.buf, ids.length, logits.buf);
    return { logits, state: r.state };
  }

  /**
   * `step` that overwrites `state` in place (StreamSession's way), the logits written into `out` when given;
   * null, leaving it as it was, where it cannot. With float32 weights and nothing to record it allocates
   * nothing per token but the logits (none with `out`): ids, embedding rows and the top layer's output
   * live in buffers kept from token to token.
   */
  stepInPlace(tokens: Tensor | Int32Array | readonly number[], state: CellStates[C], out?: Tensor): Tensor | null {
    const op = this.opInPlace, W = this.head.weight;
    if (!canFuseStep(this.parameterList())) {
      const ids = tokens instanceof Tensor ? Int32Array.from(tokens.buf) : Int32Array.from(tokens);
      const y = this.stack.stepInPlace(this.emb.forward(ids, [ids.length]), state);
      return y === null ? null : this.head.forward(y);
    }
    const ids = this.bufs.readTokens(tokens), n = ids.length, V = this.vocabSize, H = W.shape[1]!;
    if (out !== undefined) checkLogitsOut(op, out, n, V);
    const x = this.bufs.embed(op, this.emb.weight, ids);
    if (this.xT?.buf !== x) this.xT = new Tensor(x, [n, this.emb.weight.shape[1]!]);
    if (this.yT?.shape[0] !== n) this.yT = new Tensor(new Float32Array(n * H), [n, H]);
    if (this.stack.stepInPlace(this.xT, state, this.yT) === null) return null;
    const logits = out ?? new Tensor(new Float32Array(n * V), [n, V]);
    this.headInto(this.yT.buf, n, logits.buf);
    return logits;
  }

  /**
   * logits [n, V] = y · Wᵀ + b with Linear's kernels in Linear's order (the GEMM, then the bias added by the
   * backend's broadcast add), so a step's logits are the bits of `forward`'s; the strides are kept per n.
   */
  private headInto(y: FloatArray, n: number, logits: FloatArray): void {
    const W = this.head.weight, bias = this.head.bias, V = this.vocabSize, H = W.shape[1]!, k = kernels();
    k.gemm(false, true, n, V, H, y, 0, W.buf, 0, logits, 0, false);
    if (bias === null) return;
    if (this.biasShape[0] !== n) this.biasShape = [n, V];
    k.binary('add', logits, this.rowStrides, bias.buf, this.biasStrides, logits, this.biasShape);
  }

  /** headInto's broadcast: logits [n, V] row-major, the bias [V] repeated over the rows. */
  private biasShape: readonly number[] = [0, 0];
  private readonly rowStrides: readonly number[];
  private readonly biasStrides: readonly number[] = [0, 1];

  private readonly bufs = new StepBuffers();
  /** The embedded tokens and the top layer's output as tensors over reused arrays (stepInPlace). */
  private xT: Tensor | null = null;
  private yT: Tensor | null = null;

  /** Build from a state dict with RecurrentLM's (or an equivalent PyTorch module's) key names. */
  static fromStateDict(dict: Record<string, Tensor>, config: Partial<RecurrentLMConfig> = {}): RecurrentLM {
    const cell = config.cell ?? (['lstm', 'gru', 'rnn'] as const).find((c) => `${c}.weight_ih_l0` in dict);
    const emb = dict['emb.weight'];
    if (!cell || !emb || !dict['head.weight']) {
      throw new WeightImportError({
        op: 'RecurrentLM.fromStateDict', expected: "keys 'emb.weight', '<lstm|gru|rnn>.weight_ih_l0…', 'head.weight'",
        got: Object.keys(dict).slice(0, 6).join(', ') + (Object.keys(dict).length > 6 ? ', …' : ''),
      });
    }
    const sub: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(dict)) if (k.startsWith(`${cell}.`)) sub[k.slice(cell.length + 1)] = v;
    const dims = inferStackDims(sub, CELL_GATES[cell])!;
    const m = new RecurrentLM({
      cell, vocabSize: emb.shape[0]!, embeddingDim: emb.shape[1]!, hiddenSize: dims.hiddenSize, numLayers: dims.numLayers, ...config,
    });
    m.loadStateDict(dict);
    return m;
  }
}

/** Parameters of a RecurrentLM: embedding + stack + head. */
function countParams(cell: RecurrentCellName, V: number, H: number, L: number): number {
  return recurrentLMParameterCount({ cell, vocabSize: V, hiddenSize: H, numLayers: L });
}

/** Parameters of a recurrent stack of `L` layers over inputs of width `I`: Wih, Whh and both biases per layer. */
export function recurrentStackParameterCount(cell: unknown, I: number, H: number, L: number): number {
  const G = cell === 'lstm' || cell === 'gru' ? CELL_GATES[cell] : CELL_GATES.rnn;
  return G * H * (I + H + 2) + (L - 1) * G * H * (2 * H + 2);
}

/** Parameters of a RecurrentLM: embedding, stack, head. */
export function recurrentLMParameterCount(c: Readonly<Record<string, unknown>>): number {
  const V = Number(c['vocabSize']), H = Number(c['hiddenSize']), E = Number(c['embeddingDim'] ?? H), L = Number(c['numLayers'] ?? 1);
  return V * E + recurrentStackParameterCount(c['cell'], E, H, L) + H * V + V;
}

function specFor(cell: RecurrentCellName, title: string): FamilySpec {
  return {
    title,
    create: (config) => new RecurrentLM(parseRecurrentLMConfig({ ...configObject(config, 'RecurrentLM'), cell })),
    fromStateDict: (dict, config) => RecurrentLM.fromStateDict(dict, { ...parseConfig<Partial<RecurrentLMConfig>>(config ?? {}, RECURRENT_LM_FIELDS, 'RecurrentLM.fromStateDict'), cell }),
    configForBudget: (vocabSize, params) => {
      const numLayers = 2;
      let H = 8;
      while (countParams(cell, vocabSize, H + 8, numLayers) <= params) H += 8;
      return { cell, vocabSize, hiddenSize: H, numLayers };
    },
    parameterCount: (config) => recurrentLMParameterCount({ ...configObject(config, 'RecurrentLM'), cell }),
  };
}

export const rnnFamily = specFor('rnn', 'RNN');
export const lstmFamily = specFor('lstm', 'LSTM');
export const gruFamily = specFor('gru', 'GRU');
