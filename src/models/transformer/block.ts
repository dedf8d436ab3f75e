/**
 * The GPT-2 transformer block, pre-LayerNorm (Radford et al. 2019, "Language Models are Unsupervised
 * Multitask Learners", §2.3; nanoGPT `Block.forward`, https://github.com/karpathy/nanoGPT/blob/master/model.py):
 *
 *   x = x + attn(ln_1(x))                                    (1)
 *   x = x + mlp(ln_2(x))                                     (2)
 *
 *   attn(h) = c_proj(MultiHead(q, k, v)),  [q | k | v] = c_attn(h)                        (Vaswani et al. 2017, §3.2.2)
 *   MultiHead: per head, softmax(q kᵀ / √D + causal mask) v, heads concatenated          (§3.2.1, eq. 1)
 *   mlp(h)  = c_proj(GELU(c_fc(h))),  GELU(x) = x·Φ(x), the exact erf form (nn.GELU())   (Hendrycks & Gimpel 2016)
 *
 * Glossary (shapes):
 *   n streams (batch)   t tokens in this call   p tokens already cached   C = nEmbd   H = nHead   D = C / H
 *   x  [n, t, C]  residual stream             q [n, t, C]     k, v [n, p + t, C] (cache + this call)
 *   c_attn [3C, C] (+[3C])   attn.c_proj [C, C]   c_fc [4C, C]   mlp.c_proj [C, 4C]   ln_1, ln_2 [C]
 *
 * With a KV cache the block sees only the t new tokens: their keys and values are appended to the cache and
 * their queries attend over all p + t positions, which gives exactly the rows the full-sequence forward
 * computes for those positions (tested). `drop` is the residual dropout (identity in eval); `attend` is the
 * fused causal attention, or its composite twin when attention dropout is active (see model.ts).
 */
import { add, gelu, layerNorm, linear, narrow } from '../../ops/index.js';
import type { Tensor } from '../../tensor/tensor.js';
import { appendKV, type GPTLayerCache } from './state.js';

export interface AffineWeights {
  weight: Tensor | null;
  bias: Tensor | null;
}
export interface LinearWeights {
  weight: Tensor;
  bias: Tensor | null;
}

export interface GPTBlockWeights {
  ln_1: AffineWeights;
  c_attn: LinearWeights;
  attn_c_proj: LinearWeights;
  ln_2: AffineWeights;
  c_fc: LinearWeights;
  mlp_c_proj: LinearWeights;
}

export interface GPTBlockOps {
  /** LayerNorm epsilon (nanoGPT: 1e-5). */
  eps: number;
  /** Causal multi-head attention of q [n, t, C] over k, v [n, p + t, C]. */
  attend: (q: Tensor, k: Tensor, v: Tensor) => Tensor;
  /** Residual dropout (nanoGPT's resid_dropout and the MLP's dropout); identity when not training. */
  drop: (x: Tensor) => Tensor;
}

export function gptBlock(x: Tensor, W: GPTBlockWeights, past: GPTLayerCache, o: GPTBlockOps): { x: Tensor; cache: GPTLayerCache } {
  const C = x.shape[2]!;
  const lin = (h: Tensor, w: LinearWeights) => linear(h, w.weight, w.bias);
  const ln = (h: Tensor, w: AffineWeights) => layerNorm(h, [C], w.weight, w.bias, o.eps);

  const qkv = lin(ln(x, W.ln_1), W.c_attn);                                         // [n, t, 3C]
  const q = narrow(qkv, 2, 0, C);
  const cache = appendKV(past, narrow(qkv, 2, C, C), narrow(qkv, 2, 2 * C, C));    // k, v [n, p + t, C]
  x = add(x, o.drop(lin(o.attend(q, cache.k, cache.v), W.attn_c_proj)));          // (1)
  x = add(x, o.drop(lin(gelu(lin(ln(x, W.ln_2), W.c_fc)), W.mlp_c_proj)));       // (2)
  return { x, cache };
}
