/**
 * Model families by name: the CLI, the Trainer and `seqlab compare` list and build language models only
 * through this table, so a new family appears everywhere by adding one line here.
 */
import { ConfigError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { FamilySpec, LanguageModel } from './lm.js';
import { gruFamily, lstmFamily, rnnFamily } from './recurrent/lm.js';
import { gptFamily } from './transformer/model.js';
import { mamba2Family, mambaFamily } from './mamba/model.js';
import { rwkv6Family, rwkv7Family } from './rwkv/model.js';

const families: Record<string, FamilySpec> = {
  rnn: rnnFamily,
  lstm: lstmFamily,
  gru: gruFamily,
  gpt: gptFamily,
  mamba: mambaFamily,
  mamba2: mamba2Family,
  rwkv6: rwkv6Family,
  rwkv7: rwkv7Family,
};

export function familyNames(): string[] {
  return Object.keys(families);
}

export function getFamily(name: string): FamilySpec {
  const f = families[name];
  if (!f) throw new ConfigError({ op: 'model', expected: `one of ${familyNames().join(', ')}`, got: JSON.stringify(name) });
  return f;
}

export function createModel(family: string, config: Record<string, unknown>): LanguageModel {
  return getFamily(family).create(config);
}

export function modelFromStateDict(family: string, dict: Record<string, Tensor>, config?: Record<string, unknown>): LanguageModel {
  return getFamily(family).fromStateDict(dict, config);
}
