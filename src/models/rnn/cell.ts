/**
 * The Elman RNN cell, as PyTorch computes it:
 *
 *   h_t = act(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh),   act = tanh (default) or relu
 *
 * Glossary: x [n, i], h [n, h]; W_ih [h, i], W_hh [h, h], b_ih, b_hh [h].
 * https://pytorch.org/docs/stable/generated/torch.nn.RNN.html
 */
import { add, linear, relu, tanh } from '../../ops/index.js';
import type { Tensor } from '../../tensor/tensor.js';

export type Nonlinearity = 'tanh' | 'relu';

export interface RNNCellWeights {
  weightIh: Tensor;
  weightHh: Tensor;
  biasIh: Tensor | null;
  biasHh: Tensor | null;
}

export function rnnCell(x: Tensor, h: Tensor, W: RNNCellWeights, nonlinearity: Nonlinearity): Tensor {
  const pre = add(linear(x, W.weightIh, W.biasIh), linear(h, W.weightHh, W.biasHh));
  return nonlinearity === 'relu' ? relu(pre) : tanh(pre);
}
