/**
 * RWKV's configuration: the options, their per-version defaults and their validation. Its own file so that
 * model.ts and weights.ts both read it without importing each other.
 */
import { ConfigError } from '../../tensor/errors.js';
import { aNumber, oneOf, parseConfig, type Schema } from '../config.js';

export type RWKVVersion = 6 | 7;

export interface RWKVConfig {
  /** 6 (x060 "Finch") or 7 (x070 "Goose"). */
  version: RWKVVersion;
  vocabSize: number;
  /** Model width d (`n_embd`); the attention width equals it, as in every released model. */
  dModel: number;
  numLayers: number;
  /** Head size hs (default 64, the official "don't change"); dModel must be a multiple. */
  headSize?: number;
  /** Channel-mix width f. Default: x060 ⌊3.5·d / 32⌋·32, x070 4·d (the demos'). */
  dimFfn?: number;
  /** x060: width of each of the five token-shift LoRAs (`time_maa_w1` is [d, 5·mixLora]); default 32. */
  mixLora?: number;
  /** Decay LoRA width (x060 `time_decay_w1`, default 64; x070 `w1`, default max(32, round(2.5√d/32)·32)). */
  decayLora?: number;
  /** x070 LoRA widths of a (`a1`), the value residual (`v1`) and the gate (`g1`): defaults max(32, round(c√d/32)·32) with c = 2.5, 1.7, 5. */
  aLora?: number;
  vLora?: number;
  gateLora?: number;
}

export type ResolvedRWKVConfig = Required<RWKVConfig>;

/** Python's round(): halves go to the even neighbour (the x070 LoRA-width formulas use it). */
const roundHalfEven = (x: number): number => {
  const f = Math.floor(x), d = x - f;
  return d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f;
};
const loraWidth = (c: number, d: number): number => Math.max(32, roundHalfEven((c * Math.sqrt(d)) / 32) * 32);

/** The defaults of every optional option for a version and width (train_temp/src/model.py's suggestions for x070). */
export function rwkvDefaults(version: RWKVVersion, dModel: number): Omit<ResolvedRWKVConfig, 'version' | 'vocabSize' | 'dModel' | 'numLayers'> {
  return version === 6
    ? { headSize: 64, dimFfn: Math.floor((dModel * 3.5) / 32) * 32 || Math.floor(dModel * 3.5), mixLora: 32, decayLora: 64, aLora: 0, vLora: 0, gateLora: 0 }
    : { headSize: 64, dimFfn: 4 * dModel, mixLora: 0, decayLora: loraWidth(2.5, dModel), aLora: loraWidth(2.5, dModel), vLora: loraWidth(1.7, dModel), gateLora: loraWidth(5, dModel) };
}

/** Fill defaults and validate once (every size a positive integer, heads dividing the width). */
export function resolveRWKVConfig(config: RWKVConfig): ResolvedRWKVConfig {
  const { version } = config;
  if (version !== 6 && version !== 7) throw new ConfigError({ op: 'RWKV', expected: 'version 6 or 7', got: JSON.stringify(version) });
  // Options of the other version are set to 0, so equal models have equal configs.
  const unused = version === 6 ? { aLora: 0, vLora: 0, gateLora: 0 } : { mixLora: 0 };
  const c: ResolvedRWKVConfig = { ...rwkvDefaults(version, config.dModel), ...config, ...unused };
  const sizes: (keyof RWKVConfig)[] = ['vocabSize', 'dModel', 'numLayers', 'headSize', 'dimFfn', 'decayLora', ...(version === 6 ? ['mixLora'] as const : ['aLora', 'vLora', 'gateLora'] as const)];
  for (const k of sizes) {
    const v = c[k];
    if (!Number.isInteger(v) || (v as number) < 1) throw new ConfigError({ op: 'RWKV', expected: `${k} a positive integer`, got: String(v) });
  }
  if (c.dModel % c.headSize !== 0) {
    throw new ConfigError({ op: 'RWKV', expected: `dModel a multiple of headSize (${c.headSize})`, got: `dModel=${c.dModel}`, hint: 'pass headSize, e.g. 64 or a divisor of dModel' });
  }
  return c;
}

const RWKV_FIELDS: Schema<RWKVConfig> = {
  version: oneOf(6, 7), vocabSize: aNumber, dModel: aNumber, numLayers: aNumber, headSize: aNumber, dimFfn: aNumber,
  mixLora: aNumber, decayLora: aNumber, aLora: aNumber, vLora: aNumber, gateLora: aNumber,
};

/** An RWKV config read from untrusted input (sizes are then checked by `resolveRWKVConfig`). */
export function parseRWKVConfig(raw: unknown, op = 'RWKV'): RWKVConfig {
  return parseConfig(raw, RWKV_FIELDS, op, { required: ['version', 'vocabSize', 'dModel', 'numLayers'] });
}

/** Some of an RWKV config (overrides for `fromStateDict`), read from untrusted input. */
export function parsePartialRWKVConfig(raw: unknown, op = 'RWKV.fromStateDict'): Partial<RWKVConfig> {
  return parseConfig<Partial<RWKVConfig>>(raw, RWKV_FIELDS, op);
}
