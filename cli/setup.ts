/**
 * What train, eval, compare and stream share: finding the bundled corpus, reading a data file into a task
 * (inferring the task from the file when not given), and building a model for a task through the registry.
 * Everything here uses only the public API (`seqlab`, `seqlab/node`).
 */
import { existsSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as sl from 'seqlab';
import { readCSVFile, readDataFile } from 'seqlab/node';
import { UsageError, type Args, type Spec } from './args.js';

export type TaskKind = 'lm' | 'classify' | 'tag' | 'forecast' | 'synthetic';

/** The package root (works from cli/*.ts under tsx and from dist/cli/*.js after a build). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'data'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

export const DEFAULT_DATA = (): string => join(packageRoot(), 'data', 'tinyshakespeare.txt');

/** Data and task flags shared by train and eval. */
export const DATA_OPTIONS: Spec = {
  data: { type: 'string', value: 'PATH', help: 'a text file (language model), a CSV file, or synthetic:copy|adding|selective-copy|induction', default: 'the bundled Tiny Shakespeare' },
  task: { type: 'string', value: 'KIND', help: 'lm | classify | tag | forecast (default: inferred from the file)' },
  tokenizer: { type: 'string', value: 'char|byte', help: 'one id per character (vocabulary from the text) or per UTF-8 byte', default: 'char for lm, byte for classify' },
  batch: { type: 'string', value: 'N', help: 'sequences per step', default: '16' },
  'seq-len': { type: 'string', value: 'N', help: 'tokens per sequence (truncated-BPTT window)', default: '64' },
  batching: { type: 'string', value: 'KIND', help: 'auto | contiguous (state carried across windows, like char-rnn) | random (nanoGPT windows)', default: 'auto' },
  'eval-tokens': { type: 'string', value: 'N', help: 'evaluate on at most N validation tokens', default: 'all during eval; 16384 during training' },
  columns: { type: 'string', value: 'A,B', help: 'forecast: input columns', default: 'every numeric column' },
  target: { type: 'string', value: 'A,B', help: 'forecast: predicted columns', default: 'the last numeric column' },
  window: { type: 'string', value: 'N', help: 'forecast: input rows', default: '96' },
  horizon: { type: 'string', value: 'N', help: 'forecast: rows predicted after the window', default: '24' },
  'text-column': { type: 'string', value: 'NAME', help: 'classify: the text column (tag: the tokens column)' },
  'label-column': { type: 'string', value: 'NAME', help: 'classify: the label column (tag: the tags column)' },
  length: { type: 'string', value: 'N', help: 'synthetic tasks: sequence length / delay' },
  symbols: { type: 'string', value: 'N', help: 'synthetic tasks: alphabet size' },
  count: { type: 'string', value: 'N', help: 'synthetic tasks: symbols to remember' },
};

/** The task of a data file: synthetic:*, CSV (tags column → tag; numeric columns → forecast; else classify), else lm. */
export async function inferTask(path: string, table?: sl.data.CSVTable): Promise<{ kind: TaskKind; why: string }> {
  if (path.startsWith('synthetic:')) return { kind: 'synthetic', why: 'a synthetic task' };
  if (!['.csv', '.tsv'].includes(extname(path).toLowerCase())) return { kind: 'lm', why: 'not a .csv file: language modelling' };
  const t = table ?? (await readCSVFile(path));
  const lower = t.header.map((h) => h.toLowerCase());
  if (lower.includes('tags')) return { kind: 'tag', why: "the CSV has a 'tags' column" };
  const numeric = sl.data.numericColumnNames(t);
  if (numeric.length >= Math.max(1, t.header.length - 1)) return { kind: 'forecast', why: `the CSV has numeric columns (${numeric.length} of ${t.header.length})` };
  return { kind: 'classify', why: 'the CSV has text and label columns' };
}

export interface Loaded {
  kind: TaskKind;
  task: sl.Task;
  /** For language models: the tokenizer (to sample and to report bits per char/byte). */
  tokenizer?: sl.data.Tokenizer;
  /** For forecasts. */
  normalizer?: sl.data.Normalizer;
  dataPath: string;
  /** What one bit-per-X is per. */
  unit: string;
  summary: string;
}

const TASK_KINDS = ['lm', 'classify', 'tag', 'forecast'] as const;

/**
 * Read the data and build the task. With `ckpt`, the tokenizer, labels, columns and window come from the
 * checkpoint (so ids and scales match the trained model); flags override batch sizes.
 */
export async function loadTask(args: Args, ckpt?: sl.Checkpoint, opts: { evalTokens?: number } = {}): Promise<Loaded> {
  const saved = (ckpt?.task ?? {}) as Record<string, unknown>;
  const dataPath = args.str('data') ?? (typeof saved['data'] === 'string' ? saved['data'] : DEFAULT_DATA());
  const savedKind = typeof saved['kind'] === 'string' ? (saved['kind'].startsWith('synthetic:') ? 'synthetic' : saved['kind']) : undefined;
  const flagKind = args.oneOf('task', TASK_KINDS);
  const isCsv = ['.csv', '.tsv'].includes(extname(dataPath).toLowerCase());
  const table = isCsv ? await readCSVFile(dataPath) : undefined;
  const inferred = flagKind ?? (savedKind as TaskKind | undefined) ?? (await inferTask(dataPath, table)).kind;
  const num = (flag: string, key: string, fallback: number): number => args.int(flag) ?? (typeof saved[key] === 'number' ? (saved[key] as number) : fallback);
  const batchSize = num('batch', 'batchSize', 16);
  const source = { data: dataPath.startsWith('synthetic:') ? dataPath : resolve(dataPath) };

  if (inferred === 'synthetic' || dataPath.startsWith('synthetic:')) {
    const name = dataPath.startsWith('synthetic:') ? dataPath.slice(10) : String(saved['kind']).slice(10);
    if (!(sl.data.syntheticNames as readonly string[]).includes(name)) throw new UsageError(`--data: expected synthetic:${sl.data.syntheticNames.join('|synthetic:')}, got ${JSON.stringify(dataPath)}`);
    const o: sl.data.SyntheticOptions = {};
    for (const k of ['length', 'symbols', 'count'] as const) {
      const v = args.int(k) ?? (typeof saved[k] === 'number' ? (saved[k] as number) : undefined);
      if (v !== undefined) o[k] = v;
    }
    const task = sl.syntheticTask({ name: name as sl.data.SyntheticName, batchSize, ...o });
    return { kind: 'synthetic', task, dataPath, unit: 'token', summary: `synthetic task ${name}` };
  }

  if (inferred === 'lm') {
    if (isCsv && !flagKind) throw new UsageError(`--data: a CSV file needs --task classify, tag or forecast for language modelling, got ${JSON.stringify(dataPath)}`);
    const { bytes, text, binary } = await readDataFile(dataPath);
    const byteLevel = ckpt?.tokenizer ? ckpt.tokenizer.kind === 'byte' : args.oneOf('tokenizer', ['char', 'byte'] as const) === 'byte';
    if (text === null && !byteLevel) {
      throw new UsageError(`--data: expected a text file, got ${JSON.stringify(dataPath)}: ${binary}. To model its raw bytes anyway, pass --tokenizer byte`);
    }
    const tokenizer = ckpt?.tokenizer ? sl.data.tokenizerFromJSON(ckpt.tokenizer) : byteLevel ? new sl.data.ByteTokenizer() : sl.data.CharTokenizer.fromText(text!);
    // Bytes as they are (a text's UTF-8 bytes are the same ids the byte tokenizer gives its text).
    const { train, val } = sl.data.splitTrainVal(byteLevel ? Int32Array.from(bytes) : tokenizer.encode(text!));
    const evalTokens = args.int('eval-tokens') ?? opts.evalTokens;
    const task = sl.lmTask({
      train, val, tokenizer, batchSize, seqLen: num('seq-len', 'seqLen', 64),
      batching: args.oneOf('batching', ['auto', 'contiguous', 'random'] as const) ?? (saved['batching'] as 'auto' | undefined) ?? 'auto',
      ...(evalTokens !== undefined ? { evalTokens } : {}), source,
    });
    const unit = tokenizer.kind === 'byte' ? 'byte' : tokenizer.kind === 'char' ? 'char' : 'token';
    return { kind: 'lm', task, tokenizer, dataPath, unit, summary: `${basename(dataPath)}: ${train.length.toLocaleString('en-US')} train / ${val.length.toLocaleString('en-US')} val tokens, ${tokenizer.vocabSize}-symbol ${tokenizer.kind} vocabulary` };
  }

  if (!table) throw new UsageError(`--data: the ${inferred} task reads a CSV file, got ${JSON.stringify(dataPath)}`);
  const textCol = args.str('text-column') ?? (typeof saved['textColumn'] === 'string' ? saved['textColumn'] : undefined);
  const labelCol = args.str('label-column') ?? (typeof saved['labelColumn'] === 'string' ? saved['labelColumn'] : undefined);
  const columns = { ...(textCol ? { textColumn: textCol } : {}), ...(labelCol ? { labelColumn: labelCol } : {}) };
  const maxLen = args.int('seq-len') ?? (typeof saved['maxLen'] === 'number' ? saved['maxLen'] : undefined);

  if (inferred === 'classify') {
    const { examples, labels: found } = sl.data.readClassification(table, { ...(textCol ? { textColumn: textCol } : {}), ...(labelCol ? { labelColumn: labelCol } : {}) });
    const labels = (saved['labels'] as string[] | undefined) ?? found;
    // Bytes by default: a classifier must read any text it is given later, not only the training characters.
    const tokenizer = ckpt?.tokenizer ? sl.data.tokenizerFromJSON(ckpt.tokenizer)
      : args.oneOf('tokenizer', ['char', 'byte'] as const) === 'char' ? sl.data.CharTokenizer.fromText(examples.map((e) => e.text).join('')) : new sl.data.ByteTokenizer();
    const { train, val } = sl.data.shuffleSplit(examples);
    const task = sl.classifyTask({ train, val, tokenizer, labels, batchSize, ...(maxLen !== undefined ? { maxLen } : {}), source: { ...source, ...columns } });
    return { kind: 'classify', task, tokenizer, dataPath, unit: tokenizer.kind, summary: `${basename(dataPath)}: ${train.length} train / ${val.length} val examples, labels ${labels.join(', ')}` };
  }

  if (inferred === 'tag') {
    const { examples, tags: found } = sl.data.readTagging(table, { ...(textCol ? { tokensColumn: textCol } : {}), ...(labelCol ? { tagsColumn: labelCol } : {}) });
    const tags = (saved['tags'] as string[] | undefined) ?? found;
    const tokenizer = (ckpt?.tokenizer ? sl.data.tokenizerFromJSON(ckpt.tokenizer) : sl.data.WordTokenizer.fromTokens(examples.map((e) => e.tokens))) as sl.data.WordTokenizer;
    const { train, val } = sl.data.shuffleSplit(examples);
    const task = sl.tagTask({ train, val, tokenizer, tags, batchSize, ...(maxLen !== undefined ? { maxLen } : {}), source: { ...source, ...columns } });
    return { kind: 'tag', task, tokenizer, dataPath, unit: 'token', summary: `${basename(dataPath)}: ${train.length} train / ${val.length} val sentences, tags ${tags.join(', ')}` };
  }

  // forecast
  const features = args.list('columns') ?? (saved['features'] as string[] | undefined);
  const targets = args.list('target') ?? (saved['targets'] as string[] | undefined);
  const dataset = sl.data.ForecastDataset.fromTable(table, {
    window: num('window', 'window', 96), horizon: num('horizon', 'horizon', 24),
    ...(features ? { features } : {}), ...(targets ? { targets } : {}),
    ...(ckpt?.normalizer ? { normalizer: ckpt.normalizer } : {}),
  });
  const task = sl.forecastTask({ dataset, batchSize, source });
  return {
    kind: 'forecast', task, normalizer: dataset.normalizer, dataPath, unit: 'value',
    summary: `${basename(dataPath)}: ${dataset.count('train')} train / ${dataset.count('val')} val windows of ${dataset.window} rows × ${dataset.features.length} columns → ${dataset.horizon} × ${dataset.targets.join(', ')}`,
  };
}

/** Model flags of train (and the budget of compare). */
export const MODEL_OPTIONS: Spec = {
  model: { type: 'string', value: 'FAMILY', help: `model family: ${sl.models.familyNames().join(', ')}`, default: 'lstm' },
  params: { type: 'string', value: 'N', help: "parameter budget: the family's own config of about N parameters", default: '200000' },
  hidden: { type: 'string', value: 'N', help: 'hidden size (recurrent families; overrides --params)' },
  layers: { type: 'string', value: 'N', help: 'layers (recurrent families)' },
  dropout: { type: 'string', value: 'P', help: 'dropout between layers and before the head', default: '0' },
  config: { type: 'string', value: 'JSON', help: 'extra model config fields, e.g. \'{"embeddingDim": 32}\'' },
};

/** Build the model a task needs, through the family registry. */
export function buildModel(args: Args, req: sl.ModelRequirement): sl.TaskModel {
  const family = args.str('model', 'lstm');
  const known = sl.models.familyNames();
  if (!known.includes(family)) throw new UsageError(`--model: expected one of ${known.join(', ')}, got ${JSON.stringify(family)}`);
  const hidden = args.int('hidden'), layers = args.int('layers'), dropout = args.num('dropout', 0, 0.99);
  if (req.kind === 'regressor') {
    if (!['rnn', 'lstm', 'gru'].includes(family)) throw new UsageError(`--model: this task has real-valued inputs, which the recurrent families take: expected rnn, lstm or gru, got ${JSON.stringify(family)}`);
    return new sl.SequenceRegressor({
      cell: family as 'rnn' | 'lstm' | 'gru', inputSize: req.inputSize, outputSize: req.outputSize, hiddenSize: hidden ?? 64, numLayers: layers ?? 1,
      ...(dropout ? { dropout } : {}), ...(args.json('config') ?? {}),
    });
  }
  const config: Record<string, unknown> = { ...sl.models.getFamily(family).configForBudget(req.vocabSize, args.int('params') ?? 200_000), vocabSize: req.vocabSize };
  if (hidden !== undefined) config['hiddenSize'] = hidden;
  if (layers !== undefined) config['numLayers'] = layers;
  if (dropout) config['dropout'] = dropout;
  return sl.models.createModel(family, { ...config, ...(args.json('config') ?? {}) });
}

/** `runs/x.safetensors` → `runs/x.best.safetensors` (and `.metrics.jsonl`). */
export function siblingPath(path: string, suffix: string): string {
  const ext = extname(path);
  return `${ext ? path.slice(0, -ext.length) : path}${suffix}`;
}

export function fmtInt(n: number): string {
  return n.toLocaleString('en-US');
}
