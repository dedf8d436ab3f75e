/**
 * The `nn` namespace (`sl.nn.Linear`, …). Re-exports only; other layer files (recurrent layers, …) append
 * their exports here.
 */
export { Module, parameter, type LoadStateDictOptions, type LoadStateDictResult } from './module.js';
export {
  Linear, Embedding, Dropout, type LinearOptions, type EmbeddingOptions, type DropoutOptions, type Indices,
} from './layers.js';
export { LayerNorm, RMSNorm, FLOAT32_EPS, type LayerNormOptions, type RMSNormOptions } from './norm.js';
export { Sequential, type TensorModule } from './sequential.js';
export * as init from './init.js';
export { GroupNorm, type GroupNormOptions } from './group-norm.js';
export { ModuleList } from './module-list.js';
