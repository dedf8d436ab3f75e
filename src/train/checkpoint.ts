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
 * | `format_version` | `2` — a reader refuses a newer version with a clear error (and still reads version 1) |
 * | `seqlab_version` | the writer's version |
 * | `model` | `{ kind: 'lm', family, config }` or `{ kind: 'regressor', config }` |
 * | `tokenizer`, `normalizer`, `task` | how to turn data into model inputs, saved with the model |
 * | `metrics` | the latest evaluation |
 * | `training` | step, optimizer name and param groups, RNG states, options, best step, elapsed time |
 * | `crc32` | CRC-32 of every tensor's name, shape and bytes in key order, then of every other metadata entry in |
 * |  | key order: a flipped bit anywhere is an error, not a silent change (version 1 covered tensor bytes only) |
 *
 * Before a model is built, its config is checked against the weights the file carries (`parameterCount`
 * of the family ≤ the values present), and task numbers against limits (`TASK_LIMITS`), so a crafted or
 * corrupted file is a WeightImportError, never a multi-gigabyte allocation or an internal error.
 *
 * A PyTorch user can read it with `safetensors.torch.load_file` and strip the `model.` prefix.
 */
import { decodeSafetensors, encodeSafetensors, setOwn } from '../io/safetensors.js';
import type { NormalizerJSON } from '../data/timeseries.js';
import type { TokenizerJSON } from '../data/tokenizer.js';
import { flattenState, unflattenState, type StateTree } from '../infer/state.js';
import { configObject } from '../models/config.js';
import type { LanguageModel } from '../models/lm.js';
import { createModel, getFamily } from '../models/registry.js';
import { recurrentStackParameterCount } from '../models/recurrent/lm.js';
import { SequenceRegressor, type SequenceRegressorConfig } from '../models/recurrent/regressor.js';
import { SeqlabError, WeightImportError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import { VERSION } from '../version.js';
import type { OptimizerStateDict, ParamState } from './optim.js';

export const CHECKPOINT_FORMAT = 'seqlab-checkpoint';
export const CHECKPOINT_VERSION = 2;

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

/** Parameters a SequenceRegressor of `c` has: the recurrent stack and the linear head. */
function regressorParameterCount(c: Readonly<Record<string, unknown>>): number {
  const H = Number(c['hiddenSize']), O = Number(c['outputSize']);
  return recurrentStackParameterCount(c['cell'], Number(c['inputSize']), H, Number(c['numLayers'] ?? 1)) + H * O + O;
}

/**
 * Build the model a checkpoint describes and load its weights (strict). The config is checked first: the
 * model it describes must fit in the weight values the checkpoint holds, so a corrupted or edited config
 * is a WeightImportError naming it, not an allocation of gigabytes (or an internal error).
 */
export function modelFromCheckpoint(ckpt: Pick<Checkpoint, 'model' | 'weights'>): TaskModel {
  const op = 'modelFromCheckpoint';
  const spec = ckpt.model;
  const config = configObject(spec.config, op);
  const what = `${spec.kind === 'lm' ? spec.family : 'regressor'} config ${JSON.stringify(config).slice(0, 200)}`;
  const have = Object.values(ckpt.weights).reduce((s, t) => s + t.size, 0);
  // Every size or count of a model is at most its parameter count, and its layers at most its tensors: a
  // larger value is not even handed to the family's counter (which loops over layers), let alone built.
  const tensors = Object.keys(ckpt.weights).length;
  for (const [k, v] of Object.entries(config)) {
    const limit = /layer/i.test(k) ? tensors : Math.max(have, 1 << 16);
    if (typeof v === 'number' && !(Math.abs(v) <= limit)) {
      throw new WeightImportError({ op, expected: `config values up to ${limit.toLocaleString('en-US')} (the weight ${limit === tensors ? 'tensors' : 'values'} present)`, got: `${k} = ${v} in ${what}`, hint: 'the metadata does not match the weights: the file was corrupted or edited' });
    }
  }
  try {
    const need = spec.kind === 'regressor' ? regressorParameterCount(config) : getFamily(spec.family).parameterCount(config);
    if (!(need <= have)) {
      throw new WeightImportError({
        op, expected: `a config whose model fits the ${have.toLocaleString('en-US')} weight values present`,
        got: `${what}, a model of ${Number.isFinite(need) ? need.toLocaleString('en-US') : String(need)} parameters`,
        hint: 'the metadata does not match the weights: the file was corrupted or edited',
      });
    }
    const m = spec.kind === 'regressor' ? new SequenceRegressor(spec.config) : createModel(spec.family, spec.config);
    m.loadStateDict(ckpt.weights);
    return m;
  } catch (e) {
    if (e instanceof SeqlabError) throw e;
    // Safety net: a config that passed the checks but still broke a constructor is the file's fault to the user.
    const err = new WeightImportError({ op, expected: 'a config the model can be built from', got: `${what} (${e instanceof Error ? e.message : String(e)})` });
    err.cause = e;
    throw err;
  }
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

const hex = (c: number): string => c.toString(16).padStart(8, '0');
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Format 1: the tensor bytes in key order. */
function tensorsCrc(tensors: Record<string, { data: Float32Array }>): string {
  let c = 0;
  for (const k of Object.keys(tensors).sort()) {
    const d = tensors[k]!.data;
    c = crc32(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), c);
  }
  return hex(c);
}

/** Format 2: each tensor's name, shape and bytes in key order, then every metadata entry but the CRC itself. */
export function checkpointCrc(tensors: Record<string, { shape: readonly number[]; data: Float32Array }>, meta: Record<string, string>): string {
  let c = 0;
  for (const k of Object.keys(tensors).sort()) {
    const { shape, data } = tensors[k]!;
    c = crc32(utf8(`${k}\0${shape.join(',')}\0`), c);
    c = crc32(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), c);
  }
  for (const k of Object.keys(meta).sort()) if (k !== 'crc32') c = crc32(utf8(`${k}\0${meta[k]}\0`), c);
  return hex(c);
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
  for (const k of ['tokenizer', 'normalizer', 'task'] as const) if (ckpt[k] !== undefined) meta[k] = JSON.stringify(ckpt[k]);
  // An overflowed perplexity is Infinity, which JSON would turn into null: keep it as the string "Infinity".
  if (ckpt.metrics !== undefined) meta['metrics'] = JSON.stringify(ckpt.metrics, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
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
  meta['crc32'] = checkpointCrc(tensors, meta);
  return encodeSafetensors(tensors, meta);
}

const nanToNull = (v: number): number | null => (Number.isNaN(v) ? null : v);

/** Read checkpoint bytes; errors name `source` and say what is wrong (not a checkpoint, newer format, corrupted). */
export function decodeCheckpoint(bytes: Uint8Array, source = 'checkpoint'): Checkpoint {
  try {
    return decodeUnchecked(bytes, source);
  } catch (e) {
    if (e instanceof SeqlabError) throw e;
    // Safety net: metadata of the wrong shape that slipped past the checks is still the file's fault, one clear error.
    const err = new WeightImportError({ op: source, expected: 'checkpoint metadata of the documented form', got: `${e instanceof Error ? e.message : String(e)}: the file is corrupted or was not written by seqlab` });
    err.cause = e;
    throw err;
  }
}

function decodeUnchecked(bytes: Uint8Array, source: string): Checkpoint {
  const { tensors: raw, metadata: meta } = decodeSafetensors(bytes, source);
  const fail = (expected: string, got: string, hint?: string): never => {
    throw new WeightImportError({ op: source, expected, got, ...(hint !== undefined ? { hint } : {}) });
  };
  if (meta['format'] !== CHECKPOINT_FORMAT) {
    fail(`a seqlab checkpoint (metadata format '${CHECKPOINT_FORMAT}')`, `a safetensors file with ${Object.keys(raw).length} tensors and no seqlab metadata`,
      'import PyTorch weights with `seqlab convert IN.safetensors OUT.safetensors --model FAMILY`');
  }
  const version = Number(meta['format_version']);
  if (!Number.isInteger(version) || version < 1) fail('a checkpoint format version', short(meta['format_version']));
  if (version > CHECKPOINT_VERSION) {
    fail(`checkpoint format version ≤ ${CHECKPOINT_VERSION}`, `version ${version} (written by seqlab ${meta['seqlab_version'] ?? '?'})`, `upgrade seqlab (this is ${VERSION}) to read it`);
  }
  const crc = version === 1 ? tensorsCrc(raw) : checkpointCrc(raw, meta);
  if (version === 1 ? meta['crc32'] !== undefined && meta['crc32'] !== crc : meta['crc32'] !== crc) {
    fail(`${version === 1 ? 'tensor data' : 'tensors and metadata'} with CRC-32 ${meta['crc32'] ?? '(missing)'}`, `${crc}: the file is corrupted`, 'use an earlier checkpoint (the best one, or a backup)');
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
  for (const [k, t] of Object.entries(raw)) setOwn(tensors, k, new Tensor(t.data, t.shape));
  const model = json<ModelSpec>('model');
  if (!isObject(model) || (model.kind !== 'lm' && model.kind !== 'regressor')) return fail("metadata 'model' with kind 'lm' or 'regressor'", short(model));
  const weights: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(tensors)) if (k.startsWith('model.')) setOwn(weights, k.slice(6), t);
  const ckpt: Checkpoint = { model, weights, seqlabVersion: meta['seqlab_version'] ?? '?', formatVersion: version };
  for (const k of ['tokenizer', 'normalizer', 'task', 'metrics'] as const) {
    const v = json<never>(k);
    if (v !== undefined) ckpt[k] = v;
  }
  checkMetadata(ckpt, source);
  const tr = json<Omit<TrainingState, 'optimizer' | 'rng'> & {
    optimizer: { name: OptimizerName; param_groups: OptimizerStateDict['param_groups']; steps: Record<string, number>; indices: number[] };
    rng: { data: (number | null)[]; global: (number | null)[] };
    carry: unknown;
  }>('training');
  if (tr) {
    const ints = { step: tr.step, badEvals: tr.badEvals, itemsSeen: tr.itemsSeen, lastSavedStep: tr.lastSavedStep };
    for (const [k, v] of Object.entries(ints)) if (!(Number.isSafeInteger(v) && v >= -1)) fail(`metadata 'training.${k}' an integer ≥ 0`, short(v));
    if (!(typeof tr.elapsedMs === 'number' && tr.elapsedMs >= 0)) fail("metadata 'training.elapsedMs' a number ≥ 0", short(tr.elapsedMs));
    if (!isObject(tr.options)) fail("metadata 'training.options' an object", short(tr.options));
    if (!isObject(tr.optimizer) || !Array.isArray(tr.optimizer.indices) || !isObject(tr.optimizer.steps) || !Array.isArray(tr.optimizer.param_groups)) {
      fail("metadata 'training.optimizer' {name, param_groups, steps, indices}", short(tr.optimizer));
    }
    if (!isObject(tr.rng) || !Array.isArray(tr.rng.data) || !Array.isArray(tr.rng.global)) fail("metadata 'training.rng' {data, global} arrays", short(tr.rng));
    const state: Record<number, ParamState> = {};
    for (const i of tr.optimizer.indices) {
      const s: ParamState = {};
      if (tr.optimizer.steps[i] !== undefined) s.step = tr.optimizer.steps[i];
      for (const name of OPTIM_TENSORS) {
        const t = tensors[`optim.${i}.${name}`];
        if (t) s[name] = t;
      }
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

// ---------------------------------------------------------------- metadata checks

/** Task numbers a checkpoint may carry, each a positive integer up to its limit (they size buffers on resume). */
export const TASK_LIMITS: Readonly<Record<string, number>> = {
  batchSize: 65_536, seqLen: 1 << 20, maxLen: 1 << 20, window: 1 << 20, horizon: 1 << 20, evalTokens: 2 ** 31 - 1,
  evalSize: 1 << 20, length: 1 << 20, symbols: 1 << 16, count: 1 << 20,
};
/** Tokens (or rows) of one training batch: batchSize × the longest of seqLen, maxLen, window, length. */
export const MAX_BATCH_ITEMS = 1 << 24;

/** A value for an error message: at most 80 characters, and no stack overflow on a hostile nesting. */
function short(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v ?? null);
  } catch {
    s = Array.isArray(v) ? '[[[…]]] (nested too deeply)' : '{…} (nested too deeply)';
  }
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Types and limits of the metadata, checked before anything is built from it. */
function checkMetadata(ckpt: Checkpoint, source: string): void {
  const fail = (key: string, expected: string, got: unknown): never => {
    throw new WeightImportError({ op: source, expected: `metadata '${key}' ${expected}`, got: short(got) });
  };
  const m = ckpt.model as { kind: string; family?: unknown; config?: unknown };
  if (m.kind === 'lm' && typeof m.family !== 'string') fail('model.family', 'a family name', m.family);
  if (!isObject(m.config)) fail('model.config', 'an object', m.config);
  for (const [k, v] of Object.entries(m.config as Record<string, unknown>)) {
    if (typeof v === 'number' && !Number.isFinite(v)) fail(`model.config.${k}`, 'a finite number', String(v));
  }
  const task = ckpt.task;
  if (task !== undefined) {
    if (!isObject(task)) fail('task', 'an object', task);
    for (const [k, limit] of Object.entries(TASK_LIMITS)) {
      const v = task[k];
      if (v !== undefined && !(Number.isInteger(v) && (v as number) >= 1 && (v as number) <= limit)) fail(`task.${k}`, `an integer from 1 to ${limit}`, v);
    }
    const len = Math.max(...['seqLen', 'maxLen', 'window', 'length'].map((k) => (typeof task[k] === 'number' ? (task[k] as number) : 1)));
    const b = typeof task['batchSize'] === 'number' ? task['batchSize'] : 1;
    if (b * len > MAX_BATCH_ITEMS) fail('task', `with batchSize × sequence length ≤ ${MAX_BATCH_ITEMS}`, `${b} × ${len}`);
  }
  if (ckpt.tokenizer !== undefined && !isObject(ckpt.tokenizer)) fail('tokenizer', 'an object', ckpt.tokenizer);
  const metrics: unknown = ckpt.metrics; // read as untyped JSON: its values are checked (and fixed up) below
  if (metrics !== undefined) {
    if (!isObject(metrics)) return fail('metrics', 'an object of numbers', metrics);
    for (const [k, v] of Object.entries(metrics)) {
      // "Infinity"/"NaN" strings keep overflowed values; format 1 wrote them as null.
      if (v === null || v === 'Infinity' || v === '-Infinity' || v === 'NaN') metrics[k] = v === null ? NaN : Number(v);
      else if (typeof v !== 'number') fail(`metrics.${k}`, 'a number', v);
    }
  }
}

