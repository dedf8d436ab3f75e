/**
 * The three recurrent cell families as one table: each name's stack class and streaming state, so the
 * models built on a stack (RecurrentLM, SequenceRegressor) are generic over the cell with no casts — a
 * `RecurrentLM<'lstm'>` has `LSTMState` states, a `RecurrentLM` of unknown cell the union.
 */
import { GRU } from '../gru/model.js';
import type { GRUState } from '../gru/state.js';
import { LSTM } from '../lstm/model.js';
import type { LSTMState } from '../lstm/state.js';
import { RNN } from '../rnn/model.js';
import type { RNNState } from '../rnn/state.js';
import type { RecurrentStack } from './stack.js';

export type RecurrentCellName = 'rnn' | 'lstm' | 'gru';

/** The streaming state of each cell family's stack. */
export interface CellStates {
  rnn: RNNState;
  lstm: LSTMState;
  gru: GRUState;
}

/** Options of the stack inside a model; the cell-specific ones apply to their cell only. */
export interface StackOptions {
  inputSize: number;
  hiddenSize: number;
  numLayers: number;
  dropout: number;
  nonlinearity?: 'tanh' | 'relu';
  resetAfter?: boolean;
  forgetBias?: number;
}

const STACKS: { readonly [C in RecurrentCellName]: (o: StackOptions) => RecurrentStack<CellStates[C]> } = {
  rnn: ({ nonlinearity, ...o }) => new RNN({ ...o, batchFirst: true, nonlinearity: nonlinearity ?? 'tanh' }),
  lstm: ({ forgetBias, ...o }) => new LSTM({ ...o, batchFirst: true, ...(forgetBias !== undefined ? { forgetBias } : {}) }),
  gru: ({ resetAfter, ...o }) => new GRU({ ...o, batchFirst: true, resetAfter: resetAfter ?? true }),
};

export const CELL_NAMES: readonly RecurrentCellName[] = ['rnn', 'lstm', 'gru'];

export const isCellName = (v: unknown): v is RecurrentCellName => CELL_NAMES.some((c) => c === v);

/** A batch-first stack of the given cell. */
export function makeStack<C extends RecurrentCellName>(cell: C, o: StackOptions): RecurrentStack<CellStates[C]> {
  return STACKS[cell](o);
}
