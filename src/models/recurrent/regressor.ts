/**
 * SequenceRegressor: real-valued sequences in, real values out — RNN/LSTM/GRU stack → Linear head at every
 * step. Used for forecasting (x = the last `window` rows of features, read y from the last step) and the
 * adding problem. The language-model families take token ids; this is the recurrent model for numbers.
 *
 *   (h_t, state) = stack(x_t, state);   y_t = W_head h_t + b_head
 *
 * Parameter names: `<cell>.weight_ih_l0` … and `head.weight`, `head.bias`, as RecurrentLM.
 */
import { Module } from '../../nn/module.js';
import { Linear } from '../../nn/layers.js';
import { dropout } from '../../ops/index.js';
import { ConfigError } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Streaming } from '../lm.js';
import { isCellName, makeStack, type CellStates, type RecurrentCellName } from './cells.js';
import type { RecurrentStack } from './stack.js';

export interface SequenceRegressorConfig<C extends RecurrentCellName = RecurrentCellName> {
  cell: C;
  inputSize: number;
  hiddenSize: number;
  outputSize: number;
  numLayers?: number;
  dropout?: number;
}

export class SequenceRegressor<C extends RecurrentCellName = RecurrentCellName> extends Module
  implements Streaming<CellStates[C], Tensor, { output: Tensor }> {
  readonly family = 'regressor';
  readonly config: Readonly<SequenceRegressorConfig<C>>;
  readonly stack: RecurrentStack<CellStates[C]>;
  readonly head: Linear;

  constructor(config: SequenceRegressorConfig<C>) {
    super();
    const { cell } = config;
    if (!isCellName(cell)) {
      throw new ConfigError({ op: 'SequenceRegressor', expected: "cell 'rnn', 'lstm' or 'gru'", got: JSON.stringify(cell), hint: 'forecasting and regression use the recurrent families' });
    }
    this.config = { ...config };
    const opts = { inputSize: config.inputSize, hiddenSize: config.hiddenSize, numLayers: config.numLayers ?? 1, dropout: config.dropout ?? 0 };
    this.stack = this.registerModule(cell, makeStack(cell, opts));
    this.head = this.registerModule('head', new Linear({ inFeatures: config.hiddenSize, outFeatures: config.outputSize }));
  }

  initState(batch = 1): CellStates[C] {
    return this.stack.initState(batch);
  }

  stateBytes(batch = 1): number {
    return this.stack.stateBytes(batch);
  }

  /** x [n, t, inputSize] → output [n, t, outputSize] and the state after the last step. */
  forward(x: Tensor, state?: CellStates[C] | null): { output: Tensor; state: CellStates[C] } {
    const r = this.stack.forward(x, state);
    return { output: this.head.forward(dropout(r.output, this.config.dropout ?? 0, this.training)), state: r.state };
  }

  /** One step: x [n, inputSize] → output [n, outputSize]. Equal to `forward` over the same inputs. */
  step(x: Tensor, state: CellStates[C]): { output: Tensor; state: CellStates[C] } {
    const r = this.stack.step(x, state);
    return { output: this.head.forward(r.output), state: r.state };
  }
}
