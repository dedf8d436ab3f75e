/**
 * RWKV checkpoint keys: the official `.pth` names and shapes of BlinkDL/RWKV-LM (RWKV-v5/rwkv_v6_demo.py for
 * x060, RWKV-v7/rwkv_v7_demo.py and train_temp/src/model.py for x070), so a checkpoint converted to
 * safetensors loads by name with no renaming. The table below is the single source of parameter names and
 * shapes: the modules in model.ts register exactly these, and `numParameters` of a config is its sum.
 *
 *   emb.weight [v, d]
 *   blocks.0.ln0.{weight,bias} [d]            (block 0 only)
 *   blocks.{i}.ln1 / ln2 .{weight,bias} [d]
 *   blocks.{i}.att.*  (x060 or x070 time-mix, below)
 *   blocks.{i}.ffn.*  (channel-mix, below)
 *   ln_out.{weight,bias} [d]
 *   head.weight [v, d]                        (not tied to emb)
 *
 * Import conveniences, all documented in README.md: the version is detected from the keys; the config is
 * read from the shapes; tensors stored squeezed or flattened ([d] for [1, 1, d], [d] for `time_faaaa` [nh, hs])
 * are reshaped when the element count matches; `blocks.0.att.v0/v1/v2`, which the x070 training code creates
 * but never uses, are dropped (released checkpoints omit them, as our model does).
 */
import { WeightImportError, fmtShape } from '../../tensor/errors.js';
import { numel } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import type { RWKVConfig, RWKVVersion, ResolvedRWKVConfig } from './config.js';

type Shapes = [string, number[]][];

/** Time-mix parameters of one block, in the official registration order (after `blocks.{i}.att.`). */
export function timeMixShapes(c: ResolvedRWKVConfig, layer: number): Shapes {
  const d = c.dModel, nh = d / c.headSize, hs = c.headSize, v = [1, 1, d];
  const linears: Shapes = [['receptance.weight', [d, d]], ['key.weight', [d, d]], ['value.weight', [d, d]], ['output.weight', [d, d]]];
  const lnX: Shapes = [['ln_x.weight', [d]], ['ln_x.bias', [d]]];
  if (c.version === 6) {
    return [
      ...['x', 'w', 'k', 'v', 'r', 'g'].map((m): [string, number[]] => [`time_maa_${m}`, v]),
      ['time_maa_w1', [d, 5 * c.mixLora]], ['time_maa_w2', [5, c.mixLora, d]],
      ['time_decay', v], ['time_decay_w1', [d, c.decayLora]], ['time_decay_w2', [c.decayLora, d]],
      ['time_faaaa', [nh, hs]],
      ...linears, ['gate.weight', [d, d]], ...lnX,
    ];
  }
  return [
    ...['r', 'w', 'k', 'v', 'a', 'g'].map((m): [string, number[]] => [`x_${m}`, v]),
    ['w0', v], ['w1', [d, c.decayLora]], ['w2', [c.decayLora, d]],
    ['a0', v], ['a1', [d, c.aLora]], ['a2', [c.aLora, d]],
    ...(layer > 0 ? ([['v0', v], ['v1', [d, c.vLora]], ['v2', [c.vLora, d]]] satisfies Shapes) : []),
    ['g1', [d, c.gateLora]], ['g2', [c.gateLora, d]],
    ['k_k', v], ['k_a', v], ['r_k', [nh, hs]],
    ...linears, ...lnX,
  ];
}

/** Channel-mix parameters of one block (after `blocks.{i}.ffn.`). */
export function channelMixShapes(c: ResolvedRWKVConfig): Shapes {
  const d = c.dModel, f = c.dimFfn;
  return c.version === 6
    ? [['time_maa_k', [1, 1, d]], ['time_maa_r', [1, 1, d]], ['key.weight', [f, d]], ['receptance.weight', [d, d]], ['value.weight', [d, f]]]
    : [['x_k', [1, 1, d]], ['key.weight', [f, d]], ['value.weight', [d, f]]];
}

/** Every parameter of a model, by full state-dict key, in PyTorch's state-dict order. */
export function rwkvParameterShapes(c: ResolvedRWKVConfig): Shapes {
  const d = c.dModel, ln = (p: string): Shapes => [[`${p}.weight`, [d]], [`${p}.bias`, [d]]];
  const out: Shapes = [['emb.weight', [c.vocabSize, d]]];
  for (let i = 0; i < c.numLayers; i++) {
    const b = `blocks.${i}`;
    out.push(...ln(`${b}.ln1`), ...ln(`${b}.ln2`), ...(i === 0 ? ln(`${b}.ln0`) : []));
    out.push(...timeMixShapes(c, i).map(([k, s]): [string, number[]] => [`${b}.att.${k}`, s]));
    out.push(...channelMixShapes(c).map(([k, s]): [string, number[]] => [`${b}.ffn.${k}`, s]));
  }
  out.push(...ln('ln_out'), ['head.weight', [c.vocabSize, d]]);
  return out;
}

// ---------------------------------------------------------------- import

/** Keys that identify each version, and other families' tell-tale keys (for a useful error). */
const VERSION_KEY: Record<RWKVVersion, string> = { 6: 'blocks.0.att.time_maa_w1', 7: 'blocks.0.att.w0' };
const OTHER_FAMILIES: [RegExp, string][] = [
  [/(^|\.)mixer\.A_log$/, 'a Mamba state dict'],
  [/(^|\.)wte\.weight$/, 'a GPT (nanoGPT) state dict'],
  [/^(lstm|gru|rnn)\.weight_ih_l0$/, 'a RecurrentLM state dict'],
  [/^blocks\.0\.att\.time_first$/, 'an RWKV-4 state dict'],
  [/^blocks\.0\.att\.time_faaaa$/, 'an RWKV-5 state dict'],
];

const sample = (dict: Record<string, Tensor>, n = 4): string => {
  const keys = Object.keys(dict);
  return keys.length === 0 ? 'an empty dict' : keys.slice(0, n).map((k) => `'${k}'`).join(', ') + (keys.length > n ? ', …' : '');
};

/** The RWKV version whose keys `dict` holds (6 or 7); any other dict throws naming what it looks like. */
export function detectRWKVVersion(dict: Record<string, Tensor>, op = 'RWKV.fromStateDict'): RWKVVersion {
  if (VERSION_KEY[6] in dict) return 6;
  if (VERSION_KEY[7] in dict) return 7;
  const other = Object.keys(dict).map((k) => OTHER_FAMILIES.find(([re]) => re.test(k))).find((m) => m !== undefined);
  throw new WeightImportError({
    op,
    expected: `an RWKV-6 (x060, '${VERSION_KEY[6]}') or RWKV-7 (x070, '${VERSION_KEY[7]}') state dict`,
    got: other ? `${other[1]} (${sample(dict)})` : `keys ${sample(dict)}`,
  });
}

function need(dict: Record<string, Tensor>, key: string, rank: number, op: string): number[] {
  const t = dict[key];
  if (t === undefined || t.ndim !== rank) {
    throw new WeightImportError({ op, expected: `'${key}' of rank ${rank}`, got: t === undefined ? 'no such key' : fmtShape(t.shape) });
  }
  return [...t.shape];
}

/**
 * The config a checkpoint was trained with, read from its shapes (RWKV-LM's checkpoints carry no config).
 * `headSize` comes from `time_faaaa` / `r_k` [nh, hs] (given or 64 when those are stored flat).
 */
export function inferRWKVConfig(dict: Record<string, Tensor>, version: RWKVVersion, given: Partial<RWKVConfig> = {}, op = 'RWKV.fromStateDict'): RWKVConfig {
  const [vocabSize, dModel] = need(dict, 'emb.weight', 2, op) as [number, number];
  let numLayers = 0;
  while (`blocks.${numLayers}.ln1.weight` in dict) numLayers++;
  const a = 'blocks.0.att.', lora = (key: string) => need(dict, a + key, 2, op)[1]!;
  const heads = dict[a + (version === 6 ? 'time_faaaa' : 'r_k')];
  const dimFfn = need(dict, 'blocks.0.ffn.key.weight', 2, op)[0]!;
  const common = {
    vocabSize, dModel, numLayers, dimFfn,
    ...(heads?.ndim === 2 ? { headSize: heads.shape[1]! } : {}),
  };
  const inferred: RWKVConfig = version === 6
    ? { version, ...common, mixLora: lora('time_maa_w1') / 5, decayLora: lora('time_decay_w1') }
    : {
      version, ...common, decayLora: lora('w1'), aLora: lora('a1'), gateLora: lora('g1'),
      ...(dict['blocks.1.att.v1'] ? { vLora: dict['blocks.1.att.v1'].shape[1]! } : dict[a + 'v1'] ? { vLora: lora('v1') } : {}),
    };
  return { ...inferred, ...given, version };
}

/**
 * `dict` with its tensors in the model's shapes: same-size tensors stored with other shapes are reshaped
 * ([d] ↔ [1, 1, d], flat `time_faaaa`), and the unused `blocks.0.att.v0/v1/v2` are dropped. Anything else
 * is left for the strict `loadStateDict`, which reports every missing, unexpected and mis-shaped key.
 */
export function toModelShapes(dict: Record<string, Tensor>, c: ResolvedRWKVConfig): Record<string, Tensor> {
  const shapes = new Map(rwkvParameterShapes(c));
  const out: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(dict)) {
    if (c.version === 7 && /^blocks\.0\.att\.v[012]$/.test(k)) continue;
    const s = shapes.get(k);
    out[k] = s !== undefined && numel(s) === t.size && fmtShape(s) !== fmtShape(t.shape) ? new Tensor(t.buf, s) : t;
  }
  return out;
}
