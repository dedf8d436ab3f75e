/**
 * Checkpoints: one safetensors file holding everything needed to use or resume a model.
 *
 * Tensors: `model.<key>` (the model's state dict under its PyTorch-style names), `optim.<i>.<name>` (the
 * optimizer's per-parameter state, PyTorch's `exp_avg`, `exp_avg_sq`, `momentum_buffer`), `carry.<path>`
 * (the recurrent state carried between training windows). Metadata (strings, JSON where structured):
 *
 * | key | value |
 * |---|---|
 * | `format` | `seqlab-checkpoint` |
 * | `format_version` | `1` — a reader refuses a newer version with a clear error |
 * | `seqlab_version` | the writer's version |
 * | `model` | `{ kind: 'lm', family, config }` or `{ kind: 'regressor', config }` |
 * | `tokenizer`, `normalizer`, `task` | how to turn data into model inputs, saved with the model |
 * | `metrics` | the latest evaluation |
 * | `training` | step, optimizer name and param groups, RNG states, options, best step, elapsed time |
 * | `crc32` | CRC-32 of every tensor's bytes in key order: a flipped bit is an error, not a silent change |
 *
 * A PyTorch user can read it with `safetensors.torch.load_file` and strip the `model.` prefix.
 */
import { decodeSafetensors, encodeSafetensors } from '../io/safetensors.js';
import type { NormalizerJSON } from '../data/timeseries.js';
import type { TokenizerJSON } from '../data/tokenizer.js';
import { flattenState, unflattenState, type StateTree } from '../infer/state.js';
import type { LanguageModel } from '../models/lm.js';
import { createModel } from '../models/registry.js';
import { SequenceRegressor, type SequenceRegressorConfig } from '../models/recurrent/regressor.js';
import { WeightImportError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import { VERSION } from '../version.js';
import type { OptimizerStateDict, ParamState } from './optim.js';

export const CHECKPOINT_FORMAT = 'seqlab-checkpoint';
export const CHECKPOINT_VERSION = 1;

/** A model the Trainer can train: a registry language model, or the recurrent regressor for real values. */
export type TaskModel = LanguageModel | SequenceRegressor;

export type ModelSpec =
  | { kind: 'lm'; family: string; config: Record<string, unknown> }
  | { kind: 'regressor'; config: SequenceRegressorConfig };

/** Evaluation results; which fields appear depends on the task. */
export interface Metrics {
  loss: number;
  /** Bits per character (or per byte / token): loss / ln 2. */
  bpc?: number;
  ppl?: number;
  acc?: number;
  mse?: number;
  mae?: number;
}

export type OptimizerName = 'adam' | 'adamw' | 'sgd';

/** Everything the Trainer needs to continue bit for bit. */
export interface TrainingState {
  step: number;
  optimizer: { name: OptimizerName; stateDict: OptimizerStateDict };
  /** Generator states (`Generator.getState()`): the data sampler and the global one (dropout). */
  rng: { data: number[]; global: number[] };
  carry: StateTree | null;
  options: Record<string, unknown>;
  best: { step: number; loss: number } | null;
  badEvals: number;
  elapsedMs: number;
  itemsSeen: number;
  lastSavedStep: number;
}

export interface Checkpoint {
  model: ModelSpec;
  weights: Record<string, Tensor>;
  tokenizer?: TokenizerJSON;
  normalizer?: NormalizerJSON;
  task?: Record<string, unknown>;
  metrics?: Metrics;
  training?: TrainingState;
  /** Filled in by `decodeCheckpoint`. */
  seqlabVersion?: string;
  formatVersion?: number;
}

/** The spec that rebuilds `model` (family and config). */
export function modelSpec(model: TaskModel): ModelSpec {
  return model instanceof SequenceRegressor
    ? { kind: 'regressor', config: { ...model.config } }
    : { kind: 'lm', family: model.family, config: { ...model.config } };
}

/** Build the model a checkpoint describes and load its weights (strict). */
export function modelFromCheckpoint(ckpt: Pick<Checkpoint, 'model' | 'weights'>): TaskModel {
  const m = ckpt.model.kind === 'regressor' ? new SequenceRegressor(ckpt.model.config) : createModel(ckpt.model.family, ckpt.model.config);
  m.loadStateDict(ckpt.weights);
  return m;
}

// ---------------------------------------------------------------- CRC-32 (IEEE 802.3, as zlib's crc32)

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function tensorsCrc(tensors: Record<string, { data: Float32Array }>): string {
  let c = 0;
  for (const k of Object.keys(tensors).sort()) {
    const d = tensors[k]!.data;
    c = crc32(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), c);
  }
  return c.toString(16).padStart(8, '0');
}

// ---------------------------------------------------------------- encode / decode

const OPTIM_TENSORS = ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'momentum_buffer'] as const;

const f32 = (t: Tensor): Float32Array => (t.dtype === 'float32' ? (t.buf as Float32Array) : Float32Array.from(t.buf));

/** Serialise a checkpoint to safetensors bytes. */
export function encodeCheckpoint(ckpt: Checkpoint): Uint8Array {
  const tensors: Record<string, { shape: readonly number[]; data: Float32Array }> = {};
  const put = (k: string, t: Tensor): void => {
    tensors[k] = { shape: t.shape, data: f32(t) };
  };
  for (const [k, t] of Object.entries(ckpt.weights)) put(`model.${k}`, t);
  const meta: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    format_version: String(CHECKPOINT_VERSION),
    seqlab_version: VERSION,
    model: JSON.stringify(ckpt.model),
  };
  for (const k of ['tokenizer', 'normalizer', 'task', 'metrics'] as const) if (ckpt[k] !== undefined) meta[k] = JSON.stringify(ckpt[k]);
  const tr = ckpt.training;
  if (tr) {
    const steps: Record<number, number> = {};
    for (const [i, s] of Object.entries(tr.optimizer.stateDict.state)) {
      if (s.step !== undefined) steps[Number(i)] = s.step;
      for (const name of OPTIM_TENSORS) if (s[name]) put(`optim.${i}.${name}`, s[name]);
    }
    let carry: unknown = null;
    if (tr.carry !== null) {
      const flat = flattenState(tr.carry, 'carry.');
      for (const [k, t] of Object.entries(flat.tensors)) put(k, t);
      carry = flat.structure;
    }
    meta['training'] = JSON.stringify({
      ...tr, carry, rng: { data: tr.rng.data.map(nanToNull), global: tr.rng.global.map(nanToNull) },
      optimizer: { name: tr.optimizer.name, param_groups: tr.optimizer.stateDict.param_groups, steps, indices: Object.keys(tr.optimizer.stateDict.state).map(Number) },
    });
  }
  meta['crc32'] = tensorsCrc(tensors);
  return encodeSafetensors(tensors, meta);
}

const nanToNull = (v: number): number | null => (Number.isNaN(v) ? null : v);

/** Read checkpoint bytes; errors name `source` and say what is wrong (not a checkpoint, newer format, corrupted). */
export function decodeCheckpoint(bytes: Uint8Array, source = 'checkpoint'): Checkpoint {
  const { tensors: raw, metadata: meta } = decodeSafetensors(bytes, source);
  const fail = (expected: string, got: string, hint?: string): never => {
    throw new WeightImportError({ op: source, expected, got, ...(hint !== undefined ? { hint } : {}) });
  };
  if (meta['format'] !== CHECKPOINT_FORMAT) {
    fail(`a seqlab checkpoint (metadata format '${CHECKPOINT_FORMAT}')`, `a safetensors file with ${Object.keys(raw).length} tensors and no seqlab metadata`,
      'import PyTorch weights with `seqlab convert IN.safetensors OUT.safetensors --model FAMILY`');
  }
  const version = Number(meta['format_version']);
  if (!Number.isInteger(version) || version < 1) fail('a checkpoint format version', JSON.stringify(meta['format_version'] ?? null));
  if (version > CHECKPOINT_VERSION) {
    fail(`checkpoint format version ≤ ${CHECKPOINT_VERSION}`, `version ${version} (written by seqlab ${meta['seqlab_version'] ?? '?'})`, `upgrade seqlab (this is ${VERSION}) to read it`);
  }
  const crc = tensorsCrc(raw);
  if (meta['crc32'] !== undefined && meta['crc32'] !== crc) {
    fail(`tensor data with CRC-32 ${meta['crc32']}`, `${crc}: the file is corrupted`, 'use an earlier checkpoint (the best one, or a backup)');
  }
  const json = <T>(key: string): T | undefined => {
    const v = meta[key];
    if (v === undefined) return undefined;
    try {
      return JSON.parse(v) as T;
    } catch {
      return fail(`JSON in metadata '${key}'`, `${JSON.stringify(v.slice(0, 40))}…: the file is corrupted`);
    }
  };
  const tensors: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(raw)) tensors[k] = new Tensor(t.data, t.shape);
  const model = json<ModelSpec>('model');
  if (!model || (model.kind !== 'lm' && model.kind !== 'regressor')) return fail("metadata 'model' with kind 'lm' or 'regressor'", JSON.stringify(model ?? null));
  const weights: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(tensors)) if (k.startsWith('model.')) weights[k.slice(6)] = t;
  const ckpt: Checkpoint = { model, weights, seqlabVersion: meta['seqlab_version'] ?? '?', formatVersion: version };
  for (const k of ['tokenizer', 'normalizer', 'task', 'metrics'] as const) {
    const v = json<never>(k);
    if (v !== undefined) ckpt[k] = v;
  }
  const tr = json<Omit<TrainingState, 'optimizer' | 'rng'> & {
    optimizer: { name: OptimizerName; param_groups: OptimizerStateDict['param_groups']; steps: Record<string, number>; indices: number[] };
    rng: { data: (number | null)[]; global: (number | null)[] };
    carry: unknown;
  }>('training');
  if (tr) {
    const state: Record<number, ParamState> = {};
    for (const i of tr.optimizer.indices) {
      const s: ParamState = {};
      if (tr.optimizer.steps[i] !== undefined) s.step = tr.optimizer.steps[i];
      for (const name of OPTIM_TENSORS) if (tensors[`optim.${i}.${name}`]) s[name] = tensors[`optim.${i}.${name}`];
      state[i] = s;
    }
    ckpt.training = {
      ...tr,
      optimizer: { name: tr.optimizer.name, stateDict: { state, param_groups: tr.optimizer.param_groups } },
      rng: { data: tr.rng.data.map((v) => v ?? NaN), global: tr.rng.global.map((v) => v ?? NaN) },
      carry: tr.carry === null ? null : unflattenState(tr.carry, tensors, source),
    };
  }
  return ckpt;
}
