import type { RNNState } from '../rnn/state.js';

/** Streaming state of a GRU stack: h is [numLayers·D, n, hiddenSize], layer-major like PyTorch. */
export type GRUState = RNNState;
