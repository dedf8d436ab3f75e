/**
 * Tasks: what the Trainer trains on. A task turns data into batches, computes the training loss for a
 * step (carrying recurrent state between steps when it trains statefully), evaluates on held-out data,
 * and describes itself (with its tokenizer or normalizer) for the checkpoint.
 *
 * - `lmTask`: next-token prediction on a corpus; bits per character and perplexity.
 * - `classifyTask`, `tagTask`: labelled sequences, trained through the *language-model* contract, so every
 *   registered family can do them: the labels are extra tokens after the input vocabulary, and the model is
 *   trained to emit the label token after a separator (classification) or at each position (tagging), with
 *   every other position ignored (ignoreIndex). Accuracy takes the argmax over the label tokens only.
 * - `forecastTask`: windows of a multivariate time series → the next `horizon` rows of the targets (MSE, MAE).
 * - `syntheticTask`: copy, selective copy, induction heads (token tasks) and the adding problem.
 */
import { noGrad } from '../autograd/tape.js';
import { IGNORE, syntheticBatch, syntheticVocabSize, type SyntheticName, type SyntheticOptions, type TokenTaskBatch } from '../data/synthetic.js';
import { ContiguousBatches, randomWindows } from '../data/text.js';
import type { ClassificationExample, TaggingExample } from '../data/labelled.js';
import type { ForecastDataset } from '../data/timeseries.js';
import type { Tokenizer, TokenizerJSON } from '../data/tokenizer.js';
import type { WordTokenizer } from '../data/tokenizer.js';
import { DataError } from '../data/errors.js';
import type { StateTree } from '../infer/state.js';
import type { LanguageModel } from '../models/lm.js';
import { SequenceRegressor } from '../models/recurrent/regressor.js';
import { crossEntropy, mse } from '../nn/losses.js';
import { narrow, reshape } from '../ops/index.js';
import { ConfigError } from '../tensor/errors.js';
import { Generator } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import type { NormalizerJSON } from '../data/timeseries.js';
import type { Metrics, TaskModel } from './checkpoint.js';

/** What model a task needs. */
export type ModelRequirement = { kind: 'lm'; vocabSize: number } | { kind: 'regressor'; inputSize: number; outputSize: number };

export interface Task {
  readonly kind: string;
  readonly requires: ModelRequirement;
  /** Tokens (or timesteps) in one training batch, for throughput. */
  readonly itemsPerBatch: number;
  /** Steps in one pass over the training data (Infinity for generated data). */
  readonly stepsPerEpoch: number;
  /** The loss on the batch of `step`; random draws come from `rng`; `carry` is the state left by the previous step. */
  trainLoss(model: TaskModel, step: number, rng: Generator, carry: StateTree | null): { loss: Tensor; carry: StateTree | null };
  /** Metrics on held-out data (deterministic; the caller sets eval mode). */
  evaluate(model: TaskModel): Metrics;
  describe(): { task: Record<string, unknown>; tokenizer?: TokenizerJSON; normalizer?: NormalizerJSON };
}

function asLM(op: string, m: TaskModel): LanguageModel {
  if (m instanceof SequenceRegressor) throw new ConfigError({ op, expected: 'a language model (token ids in, logits out)', got: 'a SequenceRegressor' });
  return m;
}

function asRegressor(op: string, m: TaskModel): SequenceRegressor {
  if (!(m instanceof SequenceRegressor)) throw new ConfigError({ op, expected: 'a SequenceRegressor (real values in and out)', got: `a ${m.family} language model` });
  return m;
}

const ids2d = (x: Int32Array, b: number, t: number): Tensor => new Tensor(Float32Array.from(x), [b, t]);

/** Sum of cross-entropy and count of correct argmax over scored positions; `range` limits the argmax to ids [lo, hi). */
function scoreLogits(logits: Tensor, y: Int32Array, range?: [number, number]): { lossSum: number; correct: number; count: number } {
  const V = logits.shape[logits.ndim - 1]!;
  const lossSum = crossEntropy(logits, y, { reduction: 'sum' }).item();
  const [lo, hi] = range ?? [0, V];
  const d = logits.data;
  let correct = 0, count = 0;
  for (let r = 0; r < y.length; r++) {
    if (y[r] === IGNORE) continue;
    let best = lo;
    for (let v = lo + 1; v < hi; v++) if (d[r * V + v]! > d[r * V + best]!) best = v;
    if (best === y[r]) correct++;
    count++;
  }
  return { lossSum, correct, count };
}

function finish(lossSum: number, correct: number, count: number, extra: (loss: number) => Partial<Metrics> = () => ({})): Metrics {
  const loss = lossSum / Math.max(count, 1);
  return { loss, ...extra(loss), acc: correct / Math.max(count, 1) };
}

/** True when the model's state does not grow with the tokens seen (recurrent, SSM): it can carry state. */
export function hasConstantState(model: TaskModel): boolean {
  return model.stateBytes(1, 1) === model.stateBytes(1, 4096);
}

// ---------------------------------------------------------------- language modelling

export interface LMTaskOptions {
  train: Int32Array;
  val: Int32Array;
  tokenizer?: Tokenizer;
  batchSize: number;
  seqLen: number;
  /**
   * 'contiguous': char-rnn's stateful windows, state carried across steps (truncated BPTT); 'random':
   * nanoGPT's independent random windows. 'auto' (default): contiguous when the model's state has constant
   * size, random otherwise (a KV cache would grow without bound).
   */
  batching?: 'auto' | 'contiguous' | 'random';
  /** Evaluate on at most this many validation tokens (default: all). */
  evalTokens?: number;
  /** Recorded in the checkpoint so `eval` and `--resume` can find the data again. */
  source?: Record<string, unknown>;
}

/** Val loss over `data` in windows of `t` in `b` streams (state carried when `stateful`). */
export function evaluateLM(model: LanguageModel, data: Int32Array, b: number, t: number, stateful: boolean): { loss: number; acc: number; tokens: number } {
  if (data.length < 2) throw new DataError({ op: 'evaluate', expected: 'at least 2 validation tokens', got: String(data.length) });
  t = Math.min(t, data.length - 1);
  b = Math.max(1, Math.min(b, Math.floor(data.length / (t + 1))));
  let lossSum = 0, correct = 0, count = 0;
  noGrad(() => {
    if (stateful) {
      const batches = new ContiguousBatches(data, b, t, 'validation split');
      let state: StateTree | null = null;
      for (let k = 0; k < batches.batchesPerEpoch; k++) {
        const { x, y } = batches.at(k);
        const r = model.forward(ids2d(x, b, t), state);
        state = r.state;
        const s = scoreLogits(r.logits, y);
        lossSum += s.lossSum; correct += s.correct; count += s.count;
      }
    } else {
      const windows = Math.floor((data.length - 1) / t);
      for (let w0 = 0; w0 < windows; w0 += b) {
        const n = Math.min(b, windows - w0);
        const x = new Int32Array(n * t), y = new Int32Array(n * t);
        for (let r = 0; r < n; r++) {
          x.set(data.subarray((w0 + r) * t, (w0 + r + 1) * t), r * t);
          y.set(data.subarray((w0 + r) * t + 1, (w0 + r + 1) * t + 1), r * t);
        }
        const s = scoreLogits(model.forward(ids2d(x, n, t)).logits, y);
        lossSum += s.lossSum; correct += s.correct; count += s.count;
      }
    }
  });
  return { loss: lossSum / count, acc: correct / count, tokens: count };
}

export function lmTask(opts: LMTaskOptions): Task & { stateful(model: TaskModel): boolean } {
  const { train, val, batchSize: b, seqLen: t } = opts;
  const batching = opts.batching ?? 'auto';
  if (!['auto', 'contiguous', 'random'].includes(batching)) throw new ConfigError({ op: 'lmTask', expected: "batching 'auto', 'contiguous' or 'random'", got: JSON.stringify(batching) });
  const contiguous = new ContiguousBatches(train, b, t, 'training split');
  const vocabSize = opts.tokenizer?.vocabSize ?? Math.max(maxId(train), maxId(val)) + 1;
  const evalData = opts.evalTokens !== undefined ? val.subarray(0, opts.evalTokens + 1) : val;
  const stateful = (m: TaskModel): boolean => batching === 'contiguous' || (batching === 'auto' && hasConstantState(m));
  return {
    kind: 'lm',
    requires: { kind: 'lm', vocabSize },
    itemsPerBatch: b * t,
    stepsPerEpoch: contiguous.batchesPerEpoch,
    stateful,
    trainLoss(model, step, rng, carry) {
      const lm = asLM('lmTask', model);
      if (stateful(model)) {
        const { x, y, reset } = contiguous.at(step);
        const r = lm.forward(ids2d(x, b, t), reset ? null : carry);
        return { loss: crossEntropy(r.logits, y), carry: r.state };
      }
      const { x, y } = randomWindows(train, b, t, rng);
      return { loss: crossEntropy(lm.forward(ids2d(x, b, t)).logits, y), carry: null };
    },
    evaluate(model) {
      const r = evaluateLM(asLM('lmTask', model), evalData, b, t, stateful(model));
      return { loss: r.loss, bpc: r.loss / Math.LN2, ppl: Math.exp(r.loss), acc: r.acc };
    },
    describe() {
      return {
        task: { kind: 'lm', batchSize: b, seqLen: t, batching, ...(opts.evalTokens !== undefined ? { evalTokens: opts.evalTokens } : {}), ...(opts.source ?? {}) },
        ...(opts.tokenizer ? { tokenizer: opts.tokenizer.toJSON() } : {}),
      };
    },
  };
}

function maxId(x: Int32Array): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) if (x[i]! > m) m = x[i]!;
  return m;
}

// ---------------------------------------------------------------- labelled sequences through the LM contract

/** Random example indices for one step (with replacement; deterministic given rng). */
function drawIndices(rng: Generator, n: number, b: number): number[] {
  return Array.from({ length: b }, () => rng.randint(n));
}

/**
 * What classification and tagging share: a training step on randomly drawn examples, and evaluation over
 * every validation example with accuracy over the label ids [lo, hi).
 */
function labelledSteps<E>(
  op: string, opts: { train: readonly E[]; val: readonly E[]; batchSize: number },
  batch: (exs: readonly E[]) => { x: Tensor; y: Int32Array }, labels: [number, number],
): Pick<Task, 'itemsPerBatch' | 'stepsPerEpoch' | 'trainLoss' | 'evaluate'> {
  const { train, val, batchSize: b } = opts;
  return {
    itemsPerBatch: b,
    stepsPerEpoch: Math.ceil(train.length / b),
    trainLoss(model, _step, rng) {
      const { x, y } = batch(drawIndices(rng, train.length, b).map((i) => train[i]!));
      return { loss: crossEntropy(asLM(op, model).forward(x).logits, y), carry: null };
    },
    evaluate(model) {
      let lossSum = 0, correct = 0, count = 0;
      noGrad(() => {
        for (let i = 0; i < val.length; i += b) {
          const { x, y } = batch(val.slice(i, i + b));
          const s = scoreLogits(asLM(op, model).forward(x).logits, y, labels);
          lossSum += s.lossSum; correct += s.correct; count += s.count;
        }
      });
      return finish(lossSum, correct, count);
    },
  };
}

export interface ClassifyTaskOptions {
  train: readonly ClassificationExample[];
  val: readonly ClassificationExample[];
  tokenizer: Tokenizer;
  labels: readonly string[];
  batchSize: number;
  /** Texts are cut to their first maxLen tokens (default 256). */
  maxLen?: number;
  source?: Record<string, unknown>;
}

/**
 * Ids: the tokenizer's [0, V), then SEP = V, PAD = V+1, label i = V+2+i. A sequence is left-padded
 * PAD… text SEP, and the target at SEP is the label (every other position is ignored).
 */
export function classifyTask(opts: ClassifyTaskOptions): Task & { encode(text: string): Int32Array; labelId(label: string): number } {
  const V = opts.tokenizer.vocabSize, SEP = V, PAD = V + 1, L0 = V + 2, nL = opts.labels.length;
  const maxLen = opts.maxLen ?? 256;
  const encode = (text: string): Int32Array => {
    const ids = opts.tokenizer.encode(text).subarray(0, maxLen);
    const out = new Int32Array(ids.length + 1);
    out.set(ids);
    out[ids.length] = SEP;
    return out;
  };
  const labelId = (label: string): number => {
    const i = opts.labels.indexOf(label);
    if (i < 0) throw new DataError({ op: 'classify', expected: `a label among ${opts.labels.join(', ')}`, got: JSON.stringify(label) });
    return L0 + i;
  };
  const batch = (exs: readonly ClassificationExample[]): { x: Tensor; y: Int32Array } => {
    const seqs = exs.map((e) => encode(e.text)), t = Math.max(...seqs.map((s) => s.length));
    const x = new Int32Array(exs.length * t).fill(PAD), y = new Int32Array(exs.length * t).fill(IGNORE);
    seqs.forEach((s, r) => {
      x.set(s, r * t + t - s.length);
      y[r * t + t - 1] = labelId(exs[r]!.label);
    });
    return { x: ids2d(x, exs.length, t), y };
  };
  return {
    kind: 'classify',
    requires: { kind: 'lm', vocabSize: L0 + nL },
    ...labelledSteps('classifyTask', opts, batch, [L0, L0 + nL]),
    encode,
    labelId,
    describe() {
      return { task: { kind: 'classify', labels: [...opts.labels], maxLen, batchSize: opts.batchSize, ...(opts.source ?? {}) }, tokenizer: opts.tokenizer.toJSON() };
    },
  };
}

export interface TagTaskOptions {
  train: readonly TaggingExample[];
  val: readonly TaggingExample[];
  tokenizer: WordTokenizer;
  tags: readonly string[];
  batchSize: number;
  maxLen?: number;
  source?: Record<string, unknown>;
}

/** Ids: words [0, V), PAD = V, tag i = V+1+i; right-padded; the target at each word is its tag. */
export function tagTask(opts: TagTaskOptions): Task {
  const V = opts.tokenizer.vocabSize, PAD = V, T0 = V + 1, nT = opts.tags.length, maxLen = opts.maxLen ?? 256;
  const batch = (exs: readonly TaggingExample[]): { x: Tensor; y: Int32Array } => {
    const t = Math.min(maxLen, Math.max(...exs.map((e) => e.tokens.length)));
    const x = new Int32Array(exs.length * t).fill(PAD), y = new Int32Array(exs.length * t).fill(IGNORE);
    exs.forEach((e, r) => {
      const ids = opts.tokenizer.encodeTokens(e.tokens.slice(0, t));
      x.set(ids, r * t);
      ids.forEach((_, j) => (y[r * t + j] = T0 + opts.tags.indexOf(e.tags[j]!)));
    });
    return { x: ids2d(x, exs.length, t), y };
  };
  return {
    kind: 'tag',
    requires: { kind: 'lm', vocabSize: T0 + nT },
    ...labelledSteps('tagTask', opts, batch, [T0, T0 + nT]),
    describe() {
      return { task: { kind: 'tag', tags: [...opts.tags], maxLen, batchSize: opts.batchSize, ...(opts.source ?? {}) }, tokenizer: opts.tokenizer.toJSON() };
    },
  };
}

// ---------------------------------------------------------------- regression

/** MSE of the last step's output [b, o] against y [b, o]; also returns the output for MAE. */
function lastStepLoss(model: SequenceRegressor, x: Float32Array, y: Float32Array, b: number, t: number, f: number): { loss: Tensor; pred: Tensor } {
  const out = model.forward(new Tensor(x, [b, t, f])).output;
  const o = out.shape[2]!;
  const pred = reshape(narrow(out, 1, t - 1, 1), [b, o]);
  return { loss: mse(pred, new Tensor(y, [b, o])), pred };
}

function regressionMetrics(batches: Iterable<{ x: Float32Array; y: Float32Array; b: number; t: number; f: number }>, model: SequenceRegressor): Metrics {
  let se = 0, ae = 0, n = 0;
  noGrad(() => {
    for (const { x, y, b, t, f } of batches) {
      const { pred } = lastStepLoss(model, x, y, b, t, f);
      const p = pred.data;
      for (let i = 0; i < y.length; i++) {
        se += (p[i]! - y[i]!) ** 2;
        ae += Math.abs(p[i]! - y[i]!);
      }
      n += y.length;
    }
  });
  return { loss: se / n, mse: se / n, mae: ae / n };
}

export interface ForecastTaskOptions {
  dataset: ForecastDataset;
  batchSize: number;
  /** Evaluate on at most this many validation windows, evenly spaced (default 256). */
  evalWindows?: number;
  source?: Record<string, unknown>;
}

export function forecastTask(opts: ForecastTaskOptions): Task {
  const ds = opts.dataset, b = opts.batchSize, w = ds.window, F = ds.features.length;
  const nTrain = ds.count('train'), nVal = ds.count('val');
  if (nVal < 1) throw new DataError({ op: 'forecast', expected: `validation rows for at least one window (horizon ${ds.horizon})`, got: 'none', hint: 'lower --horizon or use a longer file' });
  const evalN = Math.min(nVal, opts.evalWindows ?? 256);
  const evalIdx = Array.from({ length: evalN }, (_, i) => Math.floor((i * nVal) / evalN));
  return {
    kind: 'forecast',
    requires: { kind: 'regressor', inputSize: F, outputSize: ds.horizon * ds.targets.length },
    itemsPerBatch: b * w,
    stepsPerEpoch: Math.ceil(nTrain / b),
    trainLoss(model, _step, rng) {
      const { x, y } = ds.batch('train', drawIndices(rng, nTrain, b));
      return { loss: lastStepLoss(asRegressor('forecastTask', model), x, y, b, w, F).loss, carry: null };
    },
    evaluate(model) {
      const m = asRegressor('forecastTask', model);
      function* batches() {
        for (let i = 0; i < evalIdx.length; i += b) {
          const idx = evalIdx.slice(i, i + b);
          yield { ...ds.batch('val', idx), t: w, f: F };
        }
      }
      return regressionMetrics(batches(), m);
    },
    describe() {
      return {
        task: { kind: 'forecast', features: [...ds.features], targets: [...ds.targets], window: w, horizon: ds.horizon, batchSize: b, ...(opts.source ?? {}) },
        normalizer: ds.normalizer.toJSON(),
      };
    },
  };
}

// ---------------------------------------------------------------- synthetic tasks

export interface SyntheticTaskOptions extends SyntheticOptions {
  name: SyntheticName;
  batchSize: number;
  /** Held-out examples, drawn once from a fixed seed (default 256). */
  evalSize?: number;
}

export function syntheticTask(opts: SyntheticTaskOptions): Task {
  const { name, batchSize: b } = opts;
  const probe = syntheticBatch(name, new Generator(0), 1, opts);
  const held = syntheticBatch(name, new Generator(0x5eed), opts.evalSize ?? 256, opts);
  const requires: ModelRequirement = probe.kind === 'tokens'
    ? { kind: 'lm', vocabSize: syntheticVocabSize(name, opts) }
    : { kind: 'regressor', inputSize: probe.features, outputSize: probe.outputs };
  const tokenLoss = (model: TaskModel, batch: TokenTaskBatch) => asLM(`synthetic:${name}`, model).forward(ids2d(batch.x, batch.b, batch.t)).logits;
  return {
    kind: `synthetic:${name}`,
    requires,
    itemsPerBatch: b * probe.t,
    stepsPerEpoch: Infinity,
    trainLoss(model, _step, rng) {
      const batch = syntheticBatch(name, rng, b, opts);
      if (batch.kind === 'tokens') return { loss: crossEntropy(tokenLoss(model, batch), batch.y), carry: null };
      return { loss: lastStepLoss(asRegressor(`synthetic:${name}`, model), batch.x, batch.y, batch.b, batch.t, batch.features).loss, carry: null };
    },
    evaluate(model) {
      if (held.kind === 'regression') return regressionMetrics([{ ...held, f: held.features }], asRegressor(`synthetic:${name}`, model));
      const s = noGrad(() => scoreLogits(tokenLoss(model, held), held.y));
      return finish(s.lossSum, s.correct, s.count);
    },
    describe() {
      const { name: n, batchSize, evalSize, ...o } = opts;
      return { task: { kind: `synthetic:${n}`, batchSize, ...(evalSize !== undefined ? { evalSize } : {}), ...o } };
    },
  };
}
