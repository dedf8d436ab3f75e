/**
 * The public `nn` namespace: the building blocks of src/nn plus the recurrent layers from src/models,
 * gathered here so that src/nn itself never imports from the layers above it.
 */
export * from '../nn/index.js';
export { RNN, RNNCell, type RNNOptions, type RNNCellOptions } from '../models/rnn/model.js';
export { LSTM, LSTMCell, type LSTMOptions, type LSTMCellOptions } from '../models/lstm/model.js';
export { GRU, GRUCell, type GRUOptions, type GRUCellOptions } from '../models/gru/model.js';
export type { RNNState } from '../models/rnn/state.js';
export type { LSTMState } from '../models/lstm/state.js';
export type { GRUState } from '../models/gru/state.js';
export type { RecurrentOptions, ForwardOptions } from '../models/recurrent/stack.js';
