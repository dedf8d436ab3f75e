/**
 * `nn.GRU` (stacked, bidirectional) and `nn.GRUCell`, with PyTorch's options, names and shapes, plus
 * `resetAfter: false` for the original (ONNX-default) form. Equations: ./cell.ts.
 */
import { CELL_GATES, type RecurrentKind } from '../../kernels/index.js';
import type { Tensor } from '../../tensor/tensor.js';
import { RecurrentCellModule, type CellOptions } from '../recurrent/cell-module.js';
import { RecurrentStack, type RecurrentOptions } from '../recurrent/stack.js';
import { gruCell } from './cell.js';
import type { GRUState } from './state.js';

export interface GRUOptions extends RecurrentOptions {
  /**
   * true (default): r multiplies (W_hn h + b_hn), PyTorch's and Keras' form (ONNX linear_before_reset=1).
   * false: r multiplies h before W_hn, the original form (ONNX's default linear_before_reset=0).
   */
  resetAfter?: boolean;
}

export class GRU extends RecurrentStack<GRUState> {
  protected readonly family = 'gru';
  protected readonly kind: RecurrentKind;
  readonly resetAfter: boolean;

  constructor(opts: GRUOptions) {
    super(opts, CELL_GATES.gru, 0, 'gru');
    this.resetAfter = opts.resetAfter ?? true;
    this.kind = this.resetAfter ? 'gru' : 'gru_reset_before';
  }
}

export interface GRUCellOptions extends CellOptions {
  resetAfter?: boolean;
}

export class GRUCell extends RecurrentCellModule {
  protected readonly family = 'gruCell';
  readonly resetAfter: boolean;

  constructor(opts: GRUCellOptions) {
    super(opts, CELL_GATES.gru, 'gruCell');
    this.resetAfter = opts.resetAfter ?? true;
  }

  forward(x: Tensor, state?: Partial<GRUState>): GRUState {
    const b = this.batched(x);
    const h = this.stateOr('h', state?.h, b.n, this.hiddenSize, b.unbatched);
    return { h: this.unbatch(gruCell(b.x, h, this, this.resetAfter), b.unbatched) };
  }
}
