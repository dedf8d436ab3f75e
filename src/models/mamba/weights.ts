/**
 * mamba_ssm's state-dict keys (MambaLMHeadModel: `backbone` = MixerModel, `lm_head` tied to the embedding),
 * so official checkpoints (state-spaces/mamba-130m …, mamba2-130m …) converted to safetensors load by name:
 *
 *   backbone.embedding.weight [V, d]                  backbone.norm_f.weight [d]      lm_head.weight [V, d] (tied)
 *   backbone.layers.{i}.norm.weight [d]               (the block's RMSNorm)
 *   backbone.layers.{i}.mixer.…
 *     Mamba-1: in_proj.weight [2·di, d]   conv1d.weight [di, 1, k]   conv1d.bias [di]
 *              x_proj.weight [r + 2n, di] dt_proj.weight [di, r]     dt_proj.bias [di]
 *              A_log [di, n]              D [di]                     out_proj.weight [d, di]
 *     Mamba-2: in_proj.weight [2·di + 2·g·n + nh, d] (rows z, xBC, dt)   conv1d.weight [di + 2·g·n, 1, k]
 *              conv1d.bias [di + 2·g·n]   dt_bias [nh]   A_log [nh]   D [nh] (or [di])
 *              norm.weight [di]           out_proj.weight [d, di]
 *     (in_proj.bias / out_proj.bias only when the model was built with bias=True.)
 *
 * Also accepted: the same keys without the `backbone.` prefix (a MixerModel's own state dict), Hugging
 * Face's `embeddings.weight` for `embedding.weight` (MambaForCausalLM / Mamba2ForCausalLM; the converter
 * renames nothing else), and a missing `lm_head.weight` (safetensors files keep one copy of a shared
 * tensor). When `lm_head.weight` is present it must equal the embedding: mamba_ssm ties them.
 *
 * The config is read off the shapes. Mamba-2's ngroups is not (only ngroups·dState is), so it comes from
 * the caller's config, else 1 (every released Mamba-2 checkpoint uses 1); chunkSize changes no shape.
 */
import { WeightImportError, fmtShape } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';

type MixerKey1 = 'in_proj.weight' | 'in_proj.bias' | 'conv1d.weight' | 'conv1d.bias' | 'x_proj.weight' | 'dt_proj.weight'
  | 'dt_proj.bias' | 'A_log' | 'D' | 'out_proj.weight' | 'out_proj.bias';
type MixerKey2 = 'in_proj.weight' | 'in_proj.bias' | 'conv1d.weight' | 'conv1d.bias' | 'dt_bias' | 'A_log' | 'D'
  | 'norm.weight' | 'out_proj.weight' | 'out_proj.bias';

/** Every state-dict key of a MambaLM / Mamba2LM (P10: typed so users get completion on them). */
export type MambaStateDictKey = 'backbone.embedding.weight' | 'backbone.norm_f.weight' | 'lm_head.weight'
  | `backbone.layers.${number}.norm.weight` | `backbone.layers.${number}.mixer.${MixerKey1}`;
export type Mamba2StateDictKey = 'backbone.embedding.weight' | 'backbone.norm_f.weight' | 'lm_head.weight'
  | `backbone.layers.${number}.norm.weight` | `backbone.layers.${number}.mixer.${MixerKey2}`;

export type MambaVersion = 1 | 2;
const NAMES = { 1: { cls: 'MambaLM', family: 'mamba', title: 'Mamba-1' }, 2: { cls: 'Mamba2LM', family: 'mamba2', title: 'Mamba-2' } } as const;

const quote = (ks: readonly string[]) => ks.map((k) => `'${k}'`).join(', ');

/** A guess at what a non-Mamba checkpoint is, for the error message. */
function guessCheckpoint(keys: readonly string[]): string | null {
  const has = (re: RegExp) => keys.some((k) => re.test(k));
  if (has(/^blocks\.\d+\.att\./) || has(/^blocks\.\d+\.ffn\./)) return 'an RWKV checkpoint';
  if (has(/(^|\.)h\.\d+\.attn\.c_attn\./) || has(/(^|\.)wte\.weight$/)) return 'a GPT-2/nanoGPT checkpoint';
  if (has(/^(lstm|gru|rnn)\.weight_ih_l0$/)) return 'a RecurrentLM checkpoint';
  if (has(/(^|\.)weight_ih_l0$/)) return 'an RNN/LSTM/GRU layer';
  if (has(/layers\.\d+\.self_attn\./)) return 'a Llama-style transformer';
  return null;
}

/** Which Mamba version a canonical dict's first mixer is, or null. */
const MIXER0 = 'backbone.layers.0.mixer.';

function versionOf(dict: Readonly<Record<string, Tensor>>): MambaVersion | null {
  if (`${MIXER0}x_proj.weight` in dict) return 1;
  if (`${MIXER0}dt_bias` in dict) return 2;
  return null;
}

function sameValues(a: Tensor, b: Tensor): boolean {
  if (a.size !== b.size) return false;
  for (let i = 0; i < a.size; i++) if (a.buf[i] !== b.buf[i]) return false;
  return true;
}

/**
 * The dict under the canonical mamba_ssm keys (`backbone.…` plus `lm_head.weight`), checked to be a
 * checkpoint of the requested version. The input dict is not modified.
 */
export function canonicalMambaStateDict(dict: Readonly<Record<string, Tensor>>, version: MambaVersion): Record<string, Tensor> {
  const op = `${NAMES[version].cls}.fromStateDict`;
  const out: Record<string, Tensor> = {};
  for (const [raw, t] of Object.entries(dict)) {
    if (raw === 'lm_head.weight') { out[raw] = t; continue; }
    const k = raw.startsWith('backbone.') ? raw.slice('backbone.'.length) : raw;
    out[`backbone.${k.replace(/^embeddings\./, 'embedding.')}`] = t;
  }
  const need = ['backbone.embedding.weight', 'backbone.layers.0.mixer.in_proj.weight', 'backbone.norm_f.weight'];
  const missing = need.filter((k) => !(k in out));
  const keys = Object.keys(dict);
  if (missing.length > 0) {
    const guess = guessCheckpoint(keys);
    throw new WeightImportError({
      op,
      expected: `mamba_ssm keys ${quote(need)}, … (also without 'backbone.', or HF's 'embeddings.'; missing: ${quote(missing)})`,
      got: `${keys.length} keys: ${quote(keys.slice(0, 4))}${keys.length > 4 ? ', …' : ''}${guess ? ` — this looks like ${guess}` : ''}`,
      ...(guess ? { hint: 'load it with its own family (sl.models.getFamily(name).fromStateDict)' } : {}),
    });
  }
  const found = versionOf(out);
  if (found !== version) {
    const what = (v: MambaVersion) => v === 1
      ? 'a Mamba-1 checkpoint (mixer.x_proj.weight, mixer.dt_proj.*, A_log [di, n])'
      : 'a Mamba-2 checkpoint (mixer.dt_bias, mixer.norm.weight, A_log [nh])';
    const aLog = out['backbone.layers.0.mixer.A_log'];
    throw new WeightImportError({
      op, expected: what(version),
      got: found === null ? `mixer keys ${quote(Object.keys(out).filter((k) => k.startsWith(MIXER0)).map((k) => k.slice(MIXER0.length)))}`
        : `${what(found)}${aLog ? `, A_log ${fmtShape(aLog.shape)}` : ''}`,
      ...(found !== null ? { hint: `load it with ${NAMES[found].cls}.fromStateDict (family '${NAMES[found].family}')` } : {}),
    });
  }
  const emb = out['backbone.embedding.weight']!, head = out['lm_head.weight'];
  if (head === undefined) out['lm_head.weight'] = emb;
  else if (head !== emb && !sameValues(head, emb)) {
    throw new WeightImportError({
      op, expected: `lm_head.weight equal to the embedding ${fmtShape(emb.shape)} (mamba_ssm ties the output head to it)`,
      got: `a different lm_head.weight ${fmtShape(head.shape)}`,
    });
  }
  return out;
}

function layerCount(dict: Readonly<Record<string, Tensor>>): number {
  let n = 0;
  while (`backbone.layers.${n}.mixer.in_proj.weight` in dict) n++;
  return n;
}

function shapeOf(op: string, dict: Readonly<Record<string, Tensor>>, key: string, rank: number, dims: string): number[] {
  const t = dict[key];
  if (!t || t.ndim !== rank) {
    throw new WeightImportError({ op, expected: `${key} of rank ${rank} ${dims}`, got: t ? fmtShape(t.shape) : 'no such key' });
  }
  return [...t.shape];
}

/** Mamba-1's config off a canonical dict's shapes (layer 0; loadStateDict then checks every layer). */
export function inferMambaConfig(dict: Readonly<Record<string, Tensor>>) {
  const op = 'MambaLM.fromStateDict', m = MIXER0;
  const [vocabSize, dModel] = shapeOf(op, dict, 'backbone.embedding.weight', 2, '[V, d]') as [number, number];
  const [di, dState] = shapeOf(op, dict, `${m}A_log`, 2, '[di, n]') as [number, number];
  const dtRank = shapeOf(op, dict, `${m}dt_proj.weight`, 2, '[di, r]')[1]!;
  const dConv = shapeOf(op, dict, `${m}conv1d.weight`, 3, '[di, 1, k]')[2]!;
  return {
    vocabSize, dModel, nLayer: layerCount(dict), dState, dConv, expand: di / dModel, dtRank,
    bias: `${m}in_proj.bias` in dict, convBias: `${m}conv1d.bias` in dict,
  };
}

/** Mamba-2's config off a canonical dict's shapes; `ngroups` cannot be read off them (default 1). */
export function inferMamba2Config(dict: Readonly<Record<string, Tensor>>, ngroups = 1) {
  const op = 'Mamba2LM.fromStateDict', m = MIXER0;
  const [vocabSize, dModel] = shapeOf(op, dict, 'backbone.embedding.weight', 2, '[V, d]') as [number, number];
  const nh = shapeOf(op, dict, `${m}A_log`, 1, '[nh]')[0]!;
  const di = shapeOf(op, dict, `${m}norm.weight`, 1, '[di]')[0]!;
  const [convDim, , dConv] = shapeOf(op, dict, `${m}conv1d.weight`, 3, '[di + 2·g·n, 1, k]') as [number, number, number];
  const inRows = shapeOf(op, dict, `${m}in_proj.weight`, 2, '[2·di + 2·g·n + nh, d]')[0]!;
  const dState = (convDim - di) / (2 * ngroups);
  if (!Number.isInteger(dState) || dState < 1 || di % nh !== 0) {
    throw new WeightImportError({
      op, expected: `conv1d channels di + 2·ngroups·dState with di=${di} (norm.weight) divisible by nh=${nh} (A_log) and ngroups=${ngroups}`,
      got: `${convDim} conv1d channels`, hint: 'pass the checkpoint\'s ngroups: Mamba2LM.fromStateDict(dict, { ngroups })',
    });
  }
  if (inRows !== 2 * di + 2 * ngroups * dState + nh) {
    throw new WeightImportError({
      op, expected: `in_proj.weight with 2·di + 2·g·n + nh = ${2 * di + 2 * ngroups * dState + nh} rows (z, xBC, dt)`,
      got: `${inRows} rows`,
      ...(inRows > 2 * di + 2 * ngroups * dState + nh ? { hint: 'checkpoints with d_ssm < d_inner (an extra gated-MLP slice in in_proj) are not supported' } : {}),
    });
  }
  const D = shapeOf(op, dict, `${m}D`, 1, '[nh] or [di]')[0]!;
  return {
    vocabSize, dModel, nLayer: layerCount(dict), dState, dConv, expand: di / dModel, headdim: di / nh, ngroups,
    DHasHdim: D === di && di !== nh, bias: `${m}in_proj.bias` in dict, convBias: `${m}conv1d.bias` in dict,
  };
}
