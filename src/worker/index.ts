/**
 * seqlab/worker — training and streaming off the main thread, with a small message API.
 *
 * In the worker (a two-line module file, which every bundler handles):
 *
 *   import { serve } from 'seqlab/worker';
 *   serve();
 *
 * On the page:
 *
 *   import { SeqlabWorker } from 'seqlab/worker';
 *   const w = new SeqlabWorker(new Worker(new URL('./worker.js', import.meta.url), { type: 'module' }));
 *   await w.call('init', { threads: navigator.hardwareConcurrency });
 *   await w.call('build', { family: 'lstm', task: { kind: 'text', text }, params: 100_000 });
 *   await w.call('train', { seconds: 10 }, (e) => { if (e.event === 'step') plot(e.data.loss); });
 *   await w.call('generate', { prompt: 'ROMEO:', maxTokens: 200 }, (e) => print(e.data.text));
 *
 * One model (and its task) lives in the worker at a time. Each request gets one reply; long operations
 * send events before it. Inside a Worker the wasm pool may block in Atomics.wait, so threads cost the page
 * nothing. Only the public API is used here.
 */
import * as sl from '../index.js';

/** What a task is built from. `text`: character-level language modelling on the text given. */
export type TaskSpec =
  | { kind: 'text'; text: string; seqLen?: number; batchSize?: number }
  | { kind: 'synthetic'; name: sl.data.SyntheticName; length?: number; symbols?: number; batchSize?: number };

export interface BuildArgs {
  family: string;
  task: TaskSpec;
  /** Parameter budget for the family's own config (default 100 000). */
  params?: number;
  /** Extra or overriding model config fields. */
  config?: Record<string, unknown>;
}

export interface ModelInfo {
  /** The family; for a sequence regressor (the adding task), its cell. */
  family: string;
  params: number;
  /** 0 for a sequence regressor. */
  vocabSize: number;
  config: Record<string, unknown>;
  /** Bytes of streaming state for one stream after 1 and after 1024 tokens (equal unless a KV cache grows). */
  stateBytes: [number, number];
  task: string;
}

export interface TrainArgs extends Omit<sl.TrainerOptions, 'steps' | 'timeLimit' | 'epochs'> {
  steps?: number;
  seconds?: number;
}

export interface GenerateArgs extends sl.SamplingOptions {
  prompt: string;
  maxTokens: number;
}

export interface WorkerInfo {
  version: string;
  backend: string;
  threads: sl.ThreadInfo;
  crossOriginIsolated: boolean;
}

/** The state one worker holds between requests. */
export interface Session {
  model: sl.TaskModel | null;
  task: sl.Task | null;
  tokenizer: sl.data.Tokenizer | null;
  trainer: sl.Trainer | null;
  /** Steps already trained, so a second `train` continues the plots. */
  steps: number;
}

/** Sends an event for the request being served. */
export type Emit = (event: string, data: unknown) => void;
export type Handler = (args: Record<string, unknown>, session: Session, emit: Emit) => unknown;

export interface Request { id: number; op: string; args?: Record<string, unknown> }
export type Reply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { name: string; message: string } }
  | { id: number; event: string; data: unknown };

function needModel(s: Session): sl.TaskModel {
  if (!s.model) throw new sl.ConfigError({ op: 'seqlab/worker', expected: "a model: send 'build' or 'load' first", got: 'none' });
  return s.model;
}

// ---------------------------------------------------------------- request arguments, read from the wire

const SYNTHETIC_NAMES: Record<sl.data.SyntheticName, true> = { copy: true, adding: true, 'selective-copy': true, induction: true };
const isSyntheticName = (v: unknown): v is sl.data.SyntheticName => typeof v === 'string' && Object.hasOwn(SYNTHETIC_NAMES, v);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function bad(op: string, expected: string, got: unknown): never {
  throw new sl.ConfigError({ op, expected, got: JSON.stringify(got) ?? String(got) });
}

/** The optional numeric fields `keys` of `o` (each a number when present, else an error naming it). */
function numbers<K extends string>(op: string, o: Record<string, unknown>, keys: readonly K[]): Partial<Record<K, number>> {
  const out: Partial<Record<K, number>> = {};
  for (const k of keys) {
    const v = o[k];
    if (typeof v === 'number') out[k] = v;
    else if (v !== undefined) bad(op, `${k} to be a number`, v);
  }
  return out;
}

function readTaskSpec(v: unknown): TaskSpec {
  if (!isRecord(v)) return bad('build', "task: { kind: 'text', text } or { kind: 'synthetic', name }", v);
  if (v['kind'] === 'text') {
    const text = v['text'];
    if (typeof text !== 'string') return bad('build', 'task.text to be a string', text);
    return { kind: 'text', text, ...numbers('build', v, ['seqLen', 'batchSize']) };
  }
  if (v['kind'] === 'synthetic') {
    const name = v['name'];
    if (!isSyntheticName(name)) return bad('build', `task.name one of ${Object.keys(SYNTHETIC_NAMES).join(', ')}`, name);
    return { kind: 'synthetic', name, ...numbers('build', v, ['length', 'symbols', 'batchSize']) };
  }
  return bad('build', "task.kind 'text' or 'synthetic'", v['kind']);
}

function readBuildArgs(args: Record<string, unknown>): BuildArgs {
  const { family, task, config } = args;
  if (typeof family !== 'string') return bad('build', 'family: a model family name', family);
  if (config !== undefined && !isRecord(config)) return bad('build', 'config: an object', config);
  return { family, task: readTaskSpec(task), ...numbers('build', args, ['params']), ...(config !== undefined ? { config } : {}) };
}

function readGenerateArgs(args: Record<string, unknown>): GenerateArgs {
  const { prompt, maxTokens, greedy } = args;
  if (typeof prompt !== 'string') return bad('generate', 'prompt: a string', prompt);
  if (typeof maxTokens !== 'number') return bad('generate', 'maxTokens: a number', maxTokens);
  if (greedy !== undefined && typeof greedy !== 'boolean') return bad('generate', 'greedy: a boolean', greedy);
  return { prompt, maxTokens, ...numbers('generate', args, ['temperature', 'topK', 'topP', 'seed']), ...(greedy !== undefined ? { greedy } : {}) };
}

const isCell = (f: string): f is keyof typeof sl.CELL_GATES => Object.hasOwn(sl.CELL_GATES, f);

function needLM(s: Session, op: string): sl.models.LanguageModel {
  const m = needModel(s);
  if (m instanceof sl.SequenceRegressor) throw new sl.ConfigError({ op, expected: 'a language model', got: 'a sequence regressor (real values in and out)' });
  return m;
}

function countParams(m: sl.TaskModel): number {
  return m.parameters().reduce((n, p) => n + p.size, 0);
}

export function modelInfo(s: Session): ModelInfo {
  const m = needModel(s);
  const regressor = m instanceof sl.SequenceRegressor;
  return {
    family: regressor ? m.config.cell : m.family, params: countParams(m), vocabSize: regressor ? 0 : m.vocabSize, config: { ...m.config },
    stateBytes: [m.stateBytes(1, 1), m.stateBytes(1, 1024)], task: s.task?.kind ?? 'none',
  };
}

function buildTask(spec: TaskSpec): { task: sl.Task; tokenizer: sl.data.Tokenizer | null } {
  if (spec.kind === 'text') {
    if (typeof spec.text !== 'string' || spec.text.length < 64) {
      throw new sl.ConfigError({ op: 'build', expected: 'task.text of at least 64 characters', got: typeof spec.text === 'string' ? `${spec.text.length} characters` : typeof spec.text });
    }
    const tokenizer = sl.data.CharTokenizer.fromText(spec.text);
    const { train, val } = sl.data.splitTrainVal(tokenizer.encode(spec.text));
    const seqLen = Math.min(spec.seqLen ?? 64, Math.max(8, Math.floor(val.length / 2) - 1));
    const task = sl.lmTask({ train, val, tokenizer, batchSize: spec.batchSize ?? 16, seqLen, evalTokens: 4096 });
    return { task, tokenizer };
  }
  if (spec.kind === 'synthetic') {
    const { kind: _kind, name, batchSize, ...o } = spec;
    return { task: sl.syntheticTask({ name, batchSize: batchSize ?? 32, ...o }), tokenizer: null };
  }
  throw new sl.ConfigError({ op: 'build', expected: "task.kind 'text' or 'synthetic'", got: JSON.stringify((spec as { kind?: unknown }).kind) });
}

/** The built-in operations. */
export const handlers: Record<string, Handler> = {
  async init(args) {
    await sl.ready();
    if (typeof args['threads'] === 'number') sl.setThreads(args['threads']);
    const info: WorkerInfo = {
      version: sl.VERSION, backend: sl.getBackend(), threads: sl.threadInfo(),
      crossOriginIsolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true,
    };
    return info;
  },

  setThreads(args) {
    sl.setThreads(Number(args['n']));
    return sl.threadInfo();
  },

  build(args, s) {
    const a = readBuildArgs(args);
    const { task, tokenizer } = buildTask(a.task);
    const req = task.requires;
    if (req.kind === 'regressor') {
      // Real values in and out (the adding problem): a recurrent SequenceRegressor of about the budget.
      const cell = a.family;
      if (!isCell(cell)) throw new sl.ConfigError({ op: 'build', expected: `rnn, lstm or gru for ${task.kind} (real-valued inputs)`, got: JSON.stringify(cell) });
      const hiddenSize = Math.max(8, Math.round(Math.sqrt((a.params ?? 100_000) / sl.CELL_GATES[cell])));
      const model = new sl.SequenceRegressor({ cell, inputSize: req.inputSize, outputSize: req.outputSize, hiddenSize, ...(a.config ?? {}) });
      Object.assign(s, { model, task, tokenizer: null, trainer: null, steps: 0 });
      return modelInfo(s);
    }
    const family = sl.models.getFamily(a.family);
    const config = { ...family.configForBudget(req.vocabSize, a.params ?? 100_000), vocabSize: req.vocabSize, ...(a.config ?? {}) };
    Object.assign(s, { model: sl.models.createModel(a.family, config), task, tokenizer, trainer: null, steps: 0 });
    return modelInfo(s);
  },

  async train(args, s, emit) {
    const m = needModel(s);
    if (!s.task) throw new sl.ConfigError({ op: 'train', expected: "a task: send 'build' first", got: 'a loaded model without one' });
    const { seconds, steps, ...rest } = args as TrainArgs;
    const offset = s.steps;
    const trainer = new sl.Trainer(m, s.task, {
      evalEvery: 0, ...rest,
      ...(steps !== undefined ? { steps } : {}), ...(seconds !== undefined ? { timeLimit: seconds } : {}),
      ...(steps === undefined && seconds === undefined ? { steps: 100 } : {}),
    }, {
      onEvent: (e) => {
        if (e.type === 'step') emit('step', { ...e, step: e.step + offset });
        else if (e.type === 'eval') emit('eval', { ...e, step: e.step + offset });
      },
    });
    s.trainer = trainer;
    try {
      const r = await trainer.run();
      s.steps += r.steps;
      return r;
    } finally {
      s.trainer = null;
    }
  },

  stop(_args, s) {
    s.trainer?.stop();
    return s.trainer !== null;
  },

  evaluate(_args, s) {
    const m = needModel(s);
    if (!s.task) throw new sl.ConfigError({ op: 'evaluate', expected: 'a task', got: 'none' });
    m.eval();
    try { return s.task.evaluate(m); } finally { m.train(); }
  },

  generate(args, s, emit) {
    const m = needLM(s, 'generate');
    const { prompt, maxTokens, ...sampling } = readGenerateArgs(args);
    const tok = s.tokenizer;
    const ids = tok ? Array.from(tok.encode(prompt)) : [0];
    const limit = sl.contextLimit(m);
    const decode = tok?.decoder();
    let text = '';
    let i = 0;
    for (const id of sl.generate(m, ids, { ...sampling, maxTokens })) {
      const piece = decode ? decode.push(id) : ` ${id}`;
      text += piece;
      i++;
      emit('token', { id, text: piece, index: i, stateBytes: m.stateBytes(1, Math.min(ids.length + i, limit)) });
    }
    return { text };
  },

  save(_args, s) {
    const m = needModel(s);
    const ckpt: sl.Checkpoint = {
      model: sl.modelSpec(m), weights: m.stateDict(),
      ...(s.tokenizer ? { tokenizer: s.tokenizer.toJSON() } : {}),
      ...(s.task ? { task: s.task.describe().task } : {}),
    };
    return sl.encodeCheckpoint(ckpt);
  },

  load(args, s) {
    const ckpt = sl.decodeCheckpoint(args['bytes'] as Uint8Array, String(args['name'] ?? 'checkpoint'));
    const model = sl.modelFromCheckpoint(ckpt);
    const tokenizer = ckpt.tokenizer ? sl.data.tokenizerFromJSON(ckpt.tokenizer) : null;
    // Keep the current task when the vocabulary still fits it, so training can go on.
    const task = s.task?.requires.kind === 'lm' && !(model instanceof sl.SequenceRegressor) && s.task.requires.vocabSize === model.vocabSize ? s.task
      : s.task?.requires.kind === 'regressor' && model instanceof sl.SequenceRegressor && s.task.requires.inputSize === model.config.inputSize ? s.task : null;
    Object.assign(s, { model, tokenizer: tokenizer ?? (task ? s.tokenizer : null), task, trainer: null, steps: 0 });
    return modelInfo(s);
  },

  /** A PyTorch (or official Mamba/RWKV/nanoGPT) state dict as safetensors; the family is inferred from shapes. */
  loadStateDict(args, s) {
    const { tensors } = sl.io.readSafetensors(args['bytes'] as Uint8Array, String(args['name'] ?? 'safetensors'));
    const model = sl.models.modelFromStateDict(String(args['family']), tensors);
    const task = s.task?.requires.kind === 'lm' && s.task.requires.vocabSize === model.vocabSize ? s.task : null;
    Object.assign(s, { model, task, tokenizer: task ? s.tokenizer : null, trainer: null, steps: 0 });
    return modelInfo(s);
  },

  info(_args, s) {
    return modelInfo(s);
  },
};

interface WorkerScope {
  onmessage: ((e: MessageEvent<Request>) => void) | null;
  postMessage(m: Reply, transfer?: Transferable[]): void;
}

/** This worker's global scope, or a clear error when `serve()` runs where there is none. */
function workerScope(): WorkerScope {
  const g: unknown = globalThis;
  const ok = (v: unknown): v is WorkerScope => typeof v === 'object' && v !== null && 'postMessage' in v && typeof v.postMessage === 'function';
  if (!ok(g)) throw new sl.ConfigError({ op: 'seqlab/worker', expected: 'serve() inside a Worker (a global postMessage)', got: 'no postMessage on globalThis', hint: 'pass the scope: serve({}, scope)' });
  return g;
}

/** Transfer the buffers of byte results instead of copying them. */
function transferables(v: unknown): Transferable[] {
  return v instanceof Uint8Array && v.buffer instanceof ArrayBuffer ? [v.buffer] : [];
}

/**
 * Serve requests in this worker: the built-in operations plus `extra` ones (which may replace built-ins).
 * Requests run one at a time in arrival order, except `stop`, which is answered at once so that it can
 * end a running `train`.
 */
export function serve(extra: Record<string, Handler> = {}, scope: WorkerScope = workerScope()): Session {
  const table: Record<string, Handler> = { ...handlers, ...extra };
  const session: Session = { model: null, task: null, tokenizer: null, trainer: null, steps: 0 };
  let queue: Promise<void> = Promise.resolve();
  const run = async (req: Request): Promise<void> => {
    const h = table[req.op];
    try {
      if (!h) throw new sl.ConfigError({ op: 'seqlab/worker', expected: `one of ${Object.keys(table).join(', ')}`, got: JSON.stringify(req.op) });
      const result = await h(req.args ?? {}, session, (event, data) => scope.postMessage({ id: req.id, event, data }));
      scope.postMessage({ id: req.id, ok: true, result }, transferables(result));
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      scope.postMessage({ id: req.id, ok: false, error: { name: err.name, message: err.message } });
    }
  };
  scope.onmessage = (e) => {
    if (e.data.op === 'stop') void run(e.data);
    else queue = queue.then(() => run(e.data));
  };
  return session;
}

export interface WorkerEvent { event: string; data: unknown }

interface PageWorker {
  postMessage(m: Request, transfer?: Transferable[]): void;
  addEventListener(type: 'message', fn: (e: MessageEvent<Reply>) => void): void;
  terminate(): void;
}

/** The page's side: `call(op, args, onEvent)` resolves with the reply or rejects with the worker's error. */
export class SeqlabWorker {
  private next = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; onEvent?: ((e: WorkerEvent) => void) | undefined }>();

  constructor(readonly worker: PageWorker) {
    worker.addEventListener('message', (e) => {
      const m = e.data;
      const p = this.pending.get(m.id);
      if (!p) return;
      if ('event' in m) { p.onEvent?.({ event: m.event, data: m.data }); return; }
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(Object.assign(new Error(m.error.message), { name: m.error.name }));
    });
  }

  call<T = unknown>(op: string, args: Record<string, unknown> = {}, onEvent?: (e: WorkerEvent) => void, transfer: Transferable[] = []): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onEvent });
      this.worker.postMessage({ id, op, args }, transfer);
    });
  }

  terminate(): void {
    this.worker.terminate();
    for (const p of this.pending.values()) p.reject(new Error('seqlab/worker: terminated'));
    this.pending.clear();
  }
}
