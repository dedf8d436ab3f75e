/**
 * What RNNCell, LSTMCell and GRUCell share: PyTorch's parameters (`weight_ih`, `weight_hh`, `bias_ih`,
 * `bias_hh`), init U(−1/√H, 1/√H), and input/state checks. Each family's `cell.ts` holds the equations.
 */
import { Module, parameter } from '../../nn/module.js';
import { uniform_ } from '../../nn/init.js';
import { reshape } from '../../ops/index.js';
import { zeros } from '../../tensor/creation.js';
import { ConfigError, ShapeError, fmtShape } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';

export interface CellOptions {
  inputSize: number;
  hiddenSize: number;
  bias?: boolean;
}

export abstract class RecurrentCellModule extends Module {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly bias: boolean;
  readonly weightIh: Tensor;
  readonly weightHh: Tensor;
  readonly biasIh: Tensor | null;
  readonly biasHh: Tensor | null;
  protected abstract readonly family: string;

  constructor(opts: CellOptions, gates: number, family: string) {
    super();
    for (const k of ['inputSize', 'hiddenSize'] as const) {
      if (!Number.isInteger(opts[k]) || opts[k] < 1) {
        throw new ConfigError({ op: `${family}.constructor`, expected: `${k} to be a positive integer`, got: String(opts[k]) });
      }
    }
    this.inputSize = opts.inputSize;
    this.hiddenSize = opts.hiddenSize;
    this.bias = opts.bias ?? true;
    const k = 1 / Math.sqrt(opts.hiddenSize);
    const p = (shape: number[]) => uniform_(parameter(zeros(shape)), -k, k);
    const GH = gates * opts.hiddenSize;
    this.weightIh = this.registerParameter('weight_ih', p([GH, opts.inputSize]));
    this.weightHh = this.registerParameter('weight_hh', p([GH, opts.hiddenSize]));
    this.biasIh = this.registerParameter('bias_ih', this.bias ? p([GH]) : null);
    this.biasHh = this.registerParameter('bias_hh', this.bias ? p([GH]) : null);
  }

  /** Accept x as [n, inputSize] or one unbatched [inputSize]; returns the batched view and n. */
  protected batched(x: Tensor): { x: Tensor; n: number; unbatched: boolean } {
    const op = `${this.family}.forward`;
    if ((x.ndim !== 1 && x.ndim !== 2) || x.shape[x.ndim - 1] !== this.inputSize) {
      throw new ShapeError({ op, expected: `x [n, ${this.inputSize}] or [${this.inputSize}] (inputSize=${this.inputSize})`, got: fmtShape(x.shape) });
    }
    return x.ndim === 1 ? { x: reshape(x, [1, this.inputSize]), n: 1, unbatched: true } : { x, n: x.shape[0]!, unbatched: false };
  }

  /** The given state tensor (checked, batched like x) or zeros. */
  protected stateOr(name: string, t: Tensor | undefined, n: number, width: number, unbatched: boolean): Tensor {
    if (t === undefined) return zeros([n, width]);
    const want = unbatched ? [width] : [n, width];
    if (t.ndim !== want.length || t.shape.some((d, i) => d !== want[i])) {
      throw new ShapeError({ op: `${this.family}.forward`, expected: `state.${name} of shape ${fmtShape(want)}`, got: fmtShape(t.shape) });
    }
    return unbatched ? reshape(t, [1, width]) : t;
  }

  protected unbatch(t: Tensor, unbatched: boolean): Tensor {
    return unbatched ? reshape(t, [t.shape[1]!]) : t;
  }
}
