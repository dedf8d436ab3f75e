/**
 * The GRU cell (Cho et al. 2014), in both forms in use:
 *
 *   r_t = σ(W_ir x + b_ir + W_hr h + b_hr)
 *   z_t = σ(W_iz x + b_iz + W_hz h + b_hz)
 *   n_t = tanh(W_in x + b_in + r_t ⊙ (W_hn h + b_hn))     reset-after (resetAfter: true)
 *   n_t = tanh(W_in x + b_in + W_hn (r_t ⊙ h) + b_hn)     reset-before (resetAfter: false)
 *   h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}
 *
 * Reset-after is PyTorch's and Keras' default (cuDNN's form, = ONNX linear_before_reset=1); reset-before is
 * the paper's original form and ONNX's default (linear_before_reset=0). They are not equivalent: pick the
 * one the weights were trained with. https://pytorch.org/docs/stable/generated/torch.nn.GRU.html
 *
 * Glossary: x [n, i], h [n, h]; W_ih [3h, i], W_hh [3h, h], b_ih, b_hh [3h]; gate blocks r, z, n.
 */
import { add, linear, mul, narrow, sigmoid, sub, tanh } from '../../ops/index.js';
import type { Tensor } from '../../tensor/tensor.js';

export interface GRUCellWeights {
  weightIh: Tensor;
  weightHh: Tensor;
  biasIh: Tensor | null;
  biasHh: Tensor | null;
}

export function gruCell(x: Tensor, h: Tensor, W: GRUCellWeights, resetAfter: boolean): Tensor {
  const H = W.weightHh.shape[0]!;
  const Hs = H / 3;
  const block = (t: Tensor, k: number) => narrow(t, -1, k * Hs, Hs);
  const rows = (t: Tensor | null, k: number) => (t ? narrow(t, 0, k * Hs, Hs) : null);
  const xi = linear(x, W.weightIh, W.biasIh); // [W_ir x + b_ir | W_iz x + b_iz | W_in x + b_in]
  const rz = add(narrow(xi, -1, 0, 2 * Hs), linear(h, narrow(W.weightHh, 0, 0, 2 * Hs), W.biasHh ? narrow(W.biasHh, 0, 0, 2 * Hs) : null));
  const r = sigmoid(block(rz, 0));
  const z = sigmoid(block(rz, 1));
  const hn = resetAfter
    ? mul(r, linear(h, rows(W.weightHh, 2)!, rows(W.biasHh, 2)))  // r ⊙ (W_hn h + b_hn)
    : linear(mul(r, h), rows(W.weightHh, 2)!, rows(W.biasHh, 2)); // W_hn (r ⊙ h) + b_hn
  const n = tanh(add(block(xi, 2), hn));
  return add(mul(sub(1, z), n), mul(z, h)); // h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}
}
