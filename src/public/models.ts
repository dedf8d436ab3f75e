/** The public `models` namespace: language-model families and the registry that lists them. */
export { RecurrentLM, type RecurrentLMConfig, type RecurrentLMState, type RecurrentCellName } from '../models/recurrent/lm.js';
export type { LanguageModel, FamilySpec, TokenBatch } from '../models/lm.js';
export { GPT, GPTBlock, GPT_DEFAULTS, parseGPTConfig, type GPTConfig } from '../models/transformer/model.js';
export { gptBlock, type GPTBlockWeights } from '../models/transformer/block.js';
export { gptPosition, type GPTState, type GPTLayerCache } from '../models/transformer/state.js';
export { gptParamShapes, type GPTStateDictKey } from '../models/transformer/weights.js';
export {
  MambaLM, Mamba2LM, MambaMixer, Mamba2Mixer, MAMBA_DEFAULTS, MAMBA2_DEFAULTS, type MambaConfig, type Mamba2Config,
  type MambaCommonConfig,
} from '../models/mamba/model.js';
export { mambaMixer, type MambaMixerParams } from '../models/mamba/mixer.js';
export { mamba2Mixer, rmsNormGated, type Mamba2MixerParams } from '../models/mamba/mixer2.js';
export type { MambaState, MambaLayerState } from '../models/mamba/state.js';
export type { MambaStateDictKey, Mamba2StateDictKey } from '../models/mamba/weights.js';
export {
  RWKV, rwkvDefaults, resolveRWKVConfig, rwkvParameterCount,
  type RWKVConfig, type ResolvedRWKVConfig, type RWKVVersion, type RWKVOptions,
} from '../models/rwkv/model.js';
export {
  timeMix6, channelMix6, timeMix7, channelMix7, tokenShift,
  type TimeMix6Weights, type ChannelMix6Weights, type TimeMix7Weights, type ChannelMix7Weights,
} from '../models/rwkv/mixer.js';
export type { RWKVState, RWKVLayerState } from '../models/rwkv/state.js';
export { rwkvParameterShapes, detectRWKVVersion } from '../models/rwkv/weights.js';
export { familyNames, getFamily, createModel, modelFromStateDict } from '../models/registry.js';
