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
export {
  setBackend, getBackend, registerBackend, ready, listBackends, setThreads, threadInfo, checkEnvironment, ENVIRONMENT, CELL_GATES, type ThreadInfo, type EnvironmentVariable,
} from './kernels/index.js';
export * from './ops/index.js';
export * as nn from './public/nn.js';
export * as losses from './nn/losses.js';
export * as optim from './train/optim-namespace.js';
export { clipGradNorm, clipGradValue } from './train/clip.js';
export { serializeState, deserializeState, detachState, flattenState, unflattenState, type StateTree } from './infer/state.js';
export { generate, sampleLogits, contextLimit, type SamplingOptions, type GenerateOptions } from './infer/generate.js';
export { StreamSession, type StreamSessionOptions } from './infer/session.js';
export * as data from './data/index.js';
export { Trainer, type TrainerOptions, type TrainerHooks, type TrainEvent, type TrainResult, type StopReason } from './train/trainer.js';
export {
  lmTask, classifyTask, tagTask, forecastTask, syntheticTask, evaluateLM, hasConstantState,
  type Task, type ModelRequirement, type LMTaskOptions, type ClassifyTaskOptions, type TagTaskOptions, type ForecastTaskOptions, type SyntheticTaskOptions,
} from './train/tasks.js';
export {
  encodeCheckpoint, decodeCheckpoint, modelFromCheckpoint, modelSpec, CHECKPOINT_FORMAT, CHECKPOINT_VERSION,
  type Checkpoint, type Metrics, type ModelSpec, type TaskModel, type TrainingState, type OptimizerName,
} from './train/checkpoint.js';
export { SequenceRegressor, type SequenceRegressorConfig } from './models/recurrent/regressor.js';
export { VERSION } from './version.js';
export * as models from './public/models.js';
export * as io from './io/index.js';
