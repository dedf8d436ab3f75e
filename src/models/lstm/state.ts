import type { Tensor } from '../../tensor/tensor.js';

/**
 * Streaming state of an LSTM stack, layer-major like PyTorch: h is [numLayers·D, n, projSize || hiddenSize],
 * c is [numLayers·D, n, hiddenSize].
 */
export interface LSTMState {
  h: Tensor;
  c: Tensor;
}
