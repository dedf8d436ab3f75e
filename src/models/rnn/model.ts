/**
 * `nn.RNN` (Elman network, stacked and bidirectional) and `nn.RNNCell`, with PyTorch's options, names and
 * shapes. Equations: ./cell.ts. Whole sequences run as fused layers (src/ops/recurrent.ts).
 */
import { CELL_GATES, type RecurrentKind } from '../../kernels/index.js';
import { ConfigError } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { RecurrentCellModule, type CellOptions } from '../recurrent/cell-module.js';
import { RecurrentStack, type RecurrentOptions } from '../recurrent/stack.js';
import { rnnCell, type Nonlinearity } from './cell.js';
import type { RNNState } from './state.js';

export interface RNNOptions extends RecurrentOptions {
  nonlinearity?: Nonlinearity;
}

function checkNonlinearity(op: string, v: string): Nonlinearity {
  if (v !== 'tanh' && v !== 'relu') throw new ConfigError({ op, expected: "nonlinearity 'tanh' or 'relu'", got: JSON.stringify(v) });
  return v;
}

export class RNN extends RecurrentStack<RNNState> {
  protected readonly family = 'rnn';
  protected readonly kind: RecurrentKind;
  readonly nonlinearity: Nonlinearity;

  constructor(opts: RNNOptions) {
    super(opts, CELL_GATES.rnn, 0, 'rnn');
    this.nonlinearity = checkNonlinearity('rnn.constructor', opts.nonlinearity ?? 'tanh');
    this.kind = this.nonlinearity === 'relu' ? 'rnn_relu' : 'rnn_tanh';
  }
}

export interface RNNCellOptions extends CellOptions {
  nonlinearity?: Nonlinearity;
}

export class RNNCell extends RecurrentCellModule {
  protected readonly family = 'rnnCell';
  readonly nonlinearity: Nonlinearity;

  constructor(opts: RNNCellOptions) {
    super(opts, CELL_GATES.rnn, 'rnnCell');
    this.nonlinearity = checkNonlinearity('rnnCell.constructor', opts.nonlinearity ?? 'tanh');
  }

  /** One step: x [n, inputSize] (or [inputSize]) and h [n, hiddenSize] (zeros when omitted) → new state. */
  forward(x: Tensor, state?: Partial<RNNState>): RNNState {
    const b = this.batched(x);
    const h = this.stateOr('h', state?.h, b.n, this.hiddenSize, b.unbatched);
    return { h: this.unbatch(rnnCell(b.x, h, this, this.nonlinearity), b.unbatched) };
  }
}
