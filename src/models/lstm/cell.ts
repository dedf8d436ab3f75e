/**
 * The LSTM cell, as PyTorch computes it (Hochreiter & Schmidhuber 1997; forget gate: Gers et al. 2000;
 * projection: Sak et al. 2014). https://pytorch.org/docs/stable/generated/torch.nn.LSTM.html
 *
 * Glossary: n batch, i input width, h hidden width, p output width (= h, or projSize).
 *   x [n, i]   h [n, p]   c [n, h]
 *   W_ih [4h, i]   W_hh [4h, p]   b_ih, b_hh [4h]   W_hr [p, h]   gate blocks in the order i, f, g, o
 *
 * This is the equation in tensor form; the fused whole-sequence layer (src/kernels/ref/recurrent.ts)
 * computes the same thing in loops, and a test proves they agree.
 */
import { add, linear, mul, narrow, sigmoid, tanh } from '../../ops/index.js';
import type { Tensor } from '../../tensor/tensor.js';

export interface LSTMCellWeights {
  weightIh: Tensor;
  weightHh: Tensor;
  biasIh: Tensor | null;
  biasHh: Tensor | null;
  weightHr: Tensor | null;
}

export function lstmCell(x: Tensor, h: Tensor, c: Tensor, W: LSTMCellWeights): { h: Tensor; c: Tensor } {
  const H = W.weightHh.shape[0]! / 4;
  const pre = add(linear(x, W.weightIh, W.biasIh), linear(h, W.weightHh, W.biasHh)); // W_ih x + b_ih + W_hh h + b_hh
  const gate = (k: number) => narrow(pre, -1, k * H, H);
  const i = sigmoid(gate(0));          // i_t = σ(·)   input gate
  const f = sigmoid(gate(1));          // f_t = σ(·)   forget gate
  const g = tanh(gate(2));             // g_t = tanh(·) candidate
  const o = sigmoid(gate(3));          // o_t = σ(·)   output gate
  const cNext = add(mul(f, c), mul(i, g));   // c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t
  let hNext = mul(o, tanh(cNext));           // h_t = o_t ⊙ tanh(c_t)
  if (W.weightHr) hNext = linear(hNext, W.weightHr); // h_t = W_hr h_t (projSize > 0)
  return { h: hNext, c: cNext };
}
