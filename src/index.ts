/**
 * seqlab — recurrent and state-space sequence models in TypeScript. This file only re-exports:
 * everything public is reachable from here (`import * as sl from 'seqlab'`).
 */
import './ops/methods.js';

export { Tensor, tensor, type DType, type FloatArray, type NestedArray, type TensorOptions } from './tensor/tensor.js';
export { zeros, ones, full, zerosLike, onesLike, randn, rand, arange } from './tensor/creation.js';
export { Generator, manualSeed, defaultGenerator } from './tensor/random.js';
export {
  SeqlabError, ShapeError, DTypeError, ConfigError, WeightImportError, KernelUnavailableError,
} from './tensor/errors.js';
export { noGrad, backward, detach, isGradEnabled } from './autograd/tape.js';
export { setBackend, getBackend, registerBackend } from './kernels/index.js';
export * from './ops/index.js';
export * as nn from './public/nn.js';
export * as losses from './nn/losses.js';
export * as optim from './train/optim.js';
export { clipGradNorm, clipGradValue } from './train/clip.js';
export { serializeState, deserializeState, detachState, type StateTree } from './infer/state.js';
export * as models from './public/models.js';
export * as io from './io/index.js';
