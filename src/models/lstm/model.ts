/**
 * `nn.LSTM` (stacked, bidirectional, projSize) and `nn.LSTMCell`, with PyTorch's options, names and
 * shapes. Equations: ./cell.ts.
 */
import { CELL_GATES } from '../../kernels/index.js';
import { ConfigError } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { RecurrentCellModule, type CellOptions } from '../recurrent/cell-module.js';
import { RecurrentStack, type RecurrentOptions } from '../recurrent/stack.js';
import { lstmCell } from './cell.js';
import type { LSTMState } from './state.js';

export interface LSTMOptions extends RecurrentOptions {
  /** Project h to this width with `weight_hr_l{k}` (Sak et al. 2014); 0 = off. Must be < hiddenSize. */
  projSize?: number;
  /**
   * Opt-in: initialise the forget-gate bias to this value (bias_ih's f block; bias_hh's f block to 0), the
   * Jozefowicz et al. 2015 / Keras `unit_forget_bias` trick that helps long memories train. Off by
   * default, as in PyTorch.
   */
  forgetBias?: number;
}

function setForgetBias(biasIh: Tensor | null, biasHh: Tensor | null, H: number, v: number | undefined, op: string): void {
  if (v === undefined) return;
  if (!Number.isFinite(v)) throw new ConfigError({ op, expected: 'a finite forgetBias', got: String(v) });
  if (!biasIh || !biasHh) throw new ConfigError({ op, expected: 'bias: true with forgetBias', got: 'bias: false' });
  biasIh.buf.fill(v, H, 2 * H);
  biasHh.buf.fill(0, H, 2 * H);
}

export class LSTM extends RecurrentStack<LSTMState> {
  protected readonly family = 'lstm';
  protected readonly kind = 'lstm' as const;
  readonly projSize: number;

  constructor(opts: LSTMOptions) {
    super(opts, CELL_GATES.lstm, opts.projSize ?? 0, 'lstm');
    this.projSize = opts.projSize ?? 0;
    if (opts.forgetBias !== undefined) {
      for (let l = 0; l < this.numLayers; l++) {
        for (const s of this.bidirectional ? ['', '_reverse'] : ['']) {
          setForgetBias(this.param(`bias_ih_l${l}${s}`), this.param(`bias_hh_l${l}${s}`), this.hiddenSize, opts.forgetBias, 'lstm.constructor');
        }
      }
    }
  }
}

export interface LSTMCellOptions extends CellOptions {
  forgetBias?: number;
}

export class LSTMCell extends RecurrentCellModule {
  protected readonly family = 'lstmCell';

  constructor(opts: LSTMCellOptions) {
    super(opts, CELL_GATES.lstm, 'lstmCell');
    setForgetBias(this.biasIh, this.biasHh, this.hiddenSize, opts.forgetBias, 'lstmCell.constructor');
  }

  forward(x: Tensor, state?: Partial<LSTMState>): LSTMState {
    const b = this.batched(x);
    const h = this.stateOr('h', state?.h, b.n, this.hiddenSize, b.unbatched);
    const c = this.stateOr('c', state?.c, b.n, this.hiddenSize, b.unbatched);
    const next = lstmCell(b.x, h, c, { weightIh: this.weightIh, weightHh: this.weightHh, biasIh: this.biasIh, biasHh: this.biasHh, weightHr: null });
    return { h: this.unbatch(next.h, b.unbatched), c: this.unbatch(next.c, b.unbatched) };
  }
}
