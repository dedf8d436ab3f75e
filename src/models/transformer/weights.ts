/**
 * nanoGPT's state-dict keys and shapes (https://github.com/karpathy/nanoGPT/blob/master/model.py), so a
 * nanoGPT checkpoint's `model` dict saved as safetensors loads by name:
 *
 *   transformer.wte.weight [V, C]          transformer.wpe.weight [blockSize, C]
 *   transformer.h.{i}.ln_1.weight [C]      transformer.h.{i}.ln_1.bias [C]            (bias: true only)
 *   transformer.h.{i}.attn.c_attn.weight [3C, C]   attn.c_attn.bias [3C]
 *   transformer.h.{i}.attn.c_proj.weight [C, C]    attn.c_proj.bias [C]
 *   transformer.h.{i}.ln_2.weight [C]      ln_2.bias [C]
 *   transformer.h.{i}.mlp.c_fc.weight [4C, C]      mlp.c_fc.bias [4C]
 *   transformer.h.{i}.mlp.c_proj.weight [C, 4C]    mlp.c_proj.bias [C]
 *   transformer.ln_f.weight [C]            transformer.ln_f.bias [C]
 *   lm_head.weight [V, C]                  (the same tensor as transformer.wte.weight: weight tying)
 *
 * nanoGPT's c_attn, c_proj and c_fc are `nn.Linear`, so weights are [out, in] as above. Also accepted:
 * - Hugging Face GPT-2 (`GPT2LMHeadModel`, or `GPT2Model` without the `transformer.` prefix): its Conv1D
 *   stores those four weights as [in, out]. They are transposed on import — the same four names nanoGPT's
 *   `from_pretrained` transposes. The layout is read off `c_attn.weight` ([C, 3C] vs [3C, C]), since the square
 *   `attn.c_proj.weight` cannot tell. Note HF GPT-2 computes the tanh-approximate GELU, we (and nanoGPT)
 *   the exact one, so logits differ slightly from Hugging Face's, as they do in nanoGPT.
 * - `torch.compile`d checkpoints, whose keys start with `_orig_mod.` (stripped, as nanoGPT's sample.py does).
 * - The causal-mask buffers `…attn.bias` [1, 1, T, T] (nanoGPT on PyTorch < 2.0) and HF's `…attn.masked_bias`
 *   are dropped: they are constants, not weights.
 * - Only one of `lm_head.weight` / `transformer.wte.weight` (safetensors files often keep one copy of a
 *   shared tensor): the other is filled in. When both are present they must be equal.
 */
import { noGrad } from '../../autograd/tape.js';
import { transpose } from '../../ops/index.js';
import { ConfigError, WeightImportError, fmtShape } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';

/** Every state-dict key a GPT has (P10: typed so users get completion on them). */
export type GPTStateDictKey =
  | 'transformer.wte.weight' | 'transformer.wpe.weight' | 'transformer.ln_f.weight' | 'transformer.ln_f.bias' | 'lm_head.weight'
  | `transformer.h.${number}.${'ln_1' | 'ln_2' | 'attn.c_attn' | 'attn.c_proj' | 'mlp.c_fc' | 'mlp.c_proj'}.${'weight' | 'bias'}`;

export interface GPTDims {
  vocabSize: number;
  blockSize: number;
  nLayer: number;
  nEmbd: number;
  bias: boolean;
}

/** Every parameter key with its shape, in nanoGPT's state-dict order (lm_head.weight last, tied to wte). */
export function gptParamShapes(d: GPTDims): [GPTStateDictKey, number[]][] {
  const C = d.nEmbd;
  const out: [GPTStateDictKey, number[]][] = [['transformer.wte.weight', [d.vocabSize, C]], ['transformer.wpe.weight', [d.blockSize, C]]];
  const affine = (name: 'ln_1' | 'ln_2', i: number) => {
    out.push([`transformer.h.${i}.${name}.weight`, [C]]);
    if (d.bias) out.push([`transformer.h.${i}.${name}.bias`, [C]]);
  };
  const lin = (name: 'attn.c_attn' | 'attn.c_proj' | 'mlp.c_fc' | 'mlp.c_proj', i: number, outF: number, inF: number) => {
    out.push([`transformer.h.${i}.${name}.weight`, [outF, inF]]);
    if (d.bias) out.push([`transformer.h.${i}.${name}.bias`, [outF]]);
  };
  for (let i = 0; i < d.nLayer; i++) {
    affine('ln_1', i);
    lin('attn.c_attn', i, 3 * C, C);
    lin('attn.c_proj', i, C, C);
    affine('ln_2', i);
    lin('mlp.c_fc', i, 4 * C, C);
    lin('mlp.c_proj', i, C, 4 * C);
  }
  out.push(['transformer.ln_f.weight', [C]]);
  if (d.bias) out.push(['transformer.ln_f.bias', [C]]);
  out.push(['lm_head.weight', [d.vocabSize, C]]);
  return out;
}

/** HF GPT-2's Conv1D weights, stored [in, out]; the list nanoGPT's `from_pretrained` transposes. */
const CONV1D_WEIGHTS = ['attn.c_attn.weight', 'attn.c_proj.weight', 'mlp.c_fc.weight', 'mlp.c_proj.weight'];

export type GPTCheckpointLayout = 'nanogpt' | 'hf-gpt2';

/** A guess at what a non-GPT checkpoint is, for the error message. */
function guessFamily(keys: readonly string[]): string | null {
  const has = (re: RegExp) => keys.some((k) => re.test(k));
  if (has(/(^|\.)mixer\.A_log$/) || has(/^backbone\./)) return 'a Mamba checkpoint';
  if (has(/^blocks\.\d+\.att\./) || has(/^blocks\.\d+\.ffn\./)) return 'an RWKV checkpoint';
  if (has(/^(lstm|gru|rnn)\.weight_ih_l0$/)) return 'a RecurrentLM checkpoint';
  if (has(/^weight_ih_l0$/)) return 'an RNN/LSTM/GRU layer';
  if (has(/layers\.\d+\.self_attn\./)) return 'a Llama-style transformer (not GPT-2/nanoGPT)';
  return null;
}

const op = 'GPT.fromStateDict';

function mustBeGPT(dict: Record<string, Tensor>): void {
  const need = ['transformer.wte.weight', 'transformer.wpe.weight', 'transformer.h.0.attn.c_attn.weight'];
  const missing = need.filter((k) => !(k in dict));
  if (missing.length === 0) return;
  const keys = Object.keys(dict);
  const guess = guessFamily(keys);
  throw new WeightImportError({
    op,
    expected: `nanoGPT keys ${need.map((k) => `'${k}'`).join(', ')}, …${missing.length < need.length ? ` (missing: ${missing.map((k) => `'${k}'`).join(', ')})` : ''}`,
    got: `${keys.length} keys: ${keys.slice(0, 4).map((k) => `'${k}'`).join(', ')}${keys.length > 4 ? ', …' : ''}${guess ? ` — this looks like ${guess}` : ''}`,
    ...(guess ? { hint: 'load it with its own family (sl.models.getFamily(name).fromStateDict)' } : {}),
  });
}

function sameValues(a: Tensor, b: Tensor): boolean {
  if (a.size !== b.size) return false;
  for (let i = 0; i < a.size; i++) if (a.buf[i] !== b.buf[i]) return false;
  return true;
}

/**
 * The dict under nanoGPT's exact keys and layouts (see the file header for what is accepted), and which
 * layout it came in. The input dict is not modified.
 */
export function canonicalGPTStateDict(dict: Readonly<Record<string, Tensor>>): { dict: Record<string, Tensor>; layout: GPTCheckpointLayout } {
  const out: Record<string, Tensor> = {};
  const hfBase = !Object.keys(dict).some((k) => k.replace(/^_orig_mod\./, '').startsWith('transformer.')) && 'wte.weight' in dict;
  for (const [raw, t] of Object.entries(dict)) {
    let k = raw.replace(/^_orig_mod\./, '');
    if (hfBase && k !== 'lm_head.weight') k = `transformer.${k}`;
    if (/\.attn\.(bias|masked_bias)$/.test(k) && t.ndim === 4) continue;
    out[k] = t;
  }
  if (!('transformer.wte.weight' in out) && out['lm_head.weight']) out['transformer.wte.weight'] = out['lm_head.weight'];
  mustBeGPT(out);
  const C = out['transformer.wte.weight']!.shape[1]!;
  const cAttn = out['transformer.h.0.attn.c_attn.weight']!.shape;
  const layout: GPTCheckpointLayout = cAttn[0] === C && cAttn[1] === 3 * C ? 'hf-gpt2' : 'nanogpt';
  if (layout === 'hf-gpt2') {
    noGrad(() => {
      for (const k of Object.keys(out)) if (CONV1D_WEIGHTS.some((w) => k.endsWith(`.${w}`))) out[k] = transpose(out[k]!, 0, 1);
    });
  }
  const wte = out['transformer.wte.weight']!, head = out['lm_head.weight'];
  if (head === undefined) out['lm_head.weight'] = wte;
  else if (head !== wte && !sameValues(head, wte)) {
    throw new WeightImportError({
      op, expected: `lm_head.weight equal to transformer.wte.weight ${fmtShape(wte.shape)} (GPT ties the output head to the token embedding)`,
      got: `a different lm_head.weight ${fmtShape(head.shape)}`,
    });
  }
  return { dict: out, layout };
}

/**
 * The config read off a canonical dict's shapes. nHead changes no shape, so it is never guessed: it must
 * come from the caller (`{ nHead }`, `--n-head`) or from metadata that states it (nanoGPT's `model_args`,
 * see `gptConfigFromModelArgs`); without it this throws, saying how to give it.
 */
export function inferGPTConfig(dict: Readonly<Record<string, Tensor>>, nHead?: number): GPTDims & { nHead: number } {
  const [vocabSize, nEmbd] = dict['transformer.wte.weight']!.shape as [number, number];
  let nLayer = 0;
  while (`transformer.h.${nLayer}.attn.c_attn.weight` in dict) nLayer++;
  if (nHead === undefined) {
    throw new ConfigError({
      op, expected: 'config.nHead (the number of attention heads changes no weight shape, so it cannot be read off the weights)',
      got: `a state dict of width nEmbd=${nEmbd} and no nHead`,
      hint: "pass it: GPT.fromStateDict(dict, { nHead }), or --n-head N on the command line; a nanoGPT ckpt.pt states it in model_args (GPT.configFromModelArgs(objects.model_args))",
    });
  }
  return {
    vocabSize, nEmbd, nLayer, nHead,
    blockSize: dict['transformer.wpe.weight']!.shape[0]!,
    bias: 'transformer.ln_f.bias' in dict,
  };
}

/** nanoGPT's `model_args` (n_layer, n_head, n_embd, block_size, bias, vocab_size, dropout) as a GPT config. */
export function gptConfigFromModelArgs(args: unknown): { nLayer?: number; nHead?: number; nEmbd?: number; blockSize?: number; bias?: boolean; vocabSize?: number } {
  if (typeof args !== 'object' || args === null) {
    throw new ConfigError({ op: 'GPT.configFromModelArgs', expected: "nanoGPT's model_args dict", got: args === null ? 'null' : typeof args });
  }
  const a = args as Record<string, unknown>;
  const out: Record<string, number | boolean> = {};
  const map: [string, string][] = [['n_layer', 'nLayer'], ['n_head', 'nHead'], ['n_embd', 'nEmbd'], ['block_size', 'blockSize'], ['vocab_size', 'vocabSize']];
  for (const [from, to] of map) {
    const v = a[from];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ConfigError({ op: 'GPT.configFromModelArgs', expected: `model_args.${from} to be a positive integer`, got: JSON.stringify(v) });
    out[to] = v;
  }
  if (typeof a['bias'] === 'boolean') out['bias'] = a['bias'];
  return out;
}
