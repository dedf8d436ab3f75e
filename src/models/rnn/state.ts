import type { Tensor } from '../../tensor/tensor.js';

/** Streaming state of an RNN or GRU stack: h is [numLayers·D, n, hiddenSize], layer-major like PyTorch. */
export interface RNNState {
  h: Tensor;
}
