/**
 * `train --resume`: the checkpoint's run continues as if it had never stopped. Every setting that shapes
 * training comes from the checkpoint; a flag that says otherwise is an error naming both values, except
 * the training options of OVERRIDABLE, which `--override` lets replace the checkpoint's. The run's length
 * (--steps, --epochs, --time) is what a resume may change, and it must leave something to train.
 */
import { resolve } from 'node:path';
import * as sl from 'seqlab';
import { UsageError, type Args } from './args.js';

/** Flags whose checkpoint value may be replaced with --override (they change neither shapes nor data order). */
const OVERRIDABLE = ['data', 'eval-tokens', 'lr', 'weight-decay', 'momentum', 'schedule', 'warmup', 'min-lr', 'clip', 'clip-value', 'eval-every', 'patience'] as const;

type Value = string | number | readonly string[];

const show = (v: unknown): string => (Array.isArray(v) ? v.join(',') : typeof v === 'string' || typeof v === 'number' ? String(v) : JSON.stringify(v));
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/** Each flag's value as the checkpoint recorded it (undefined: not recorded, so not checked), and the given value. */
function pairs(args: Args, ckpt: sl.Checkpoint): [flag: string, saved: unknown, given: Value | undefined][] {
  const task = ckpt.task ?? {}, o = ckpt.training?.options ?? {};
  const config = ckpt.model.config as Record<string, unknown>;
  const data = args.str('data');
  const kind = typeof task['kind'] === 'string' ? task['kind'] : undefined;
  return [
    ['data', task['data'], data === undefined ? undefined : data.startsWith('synthetic:') ? data : resolve(data)],
    ['task', kind?.startsWith('synthetic:') ? undefined : kind, args.str('task')],
    ['tokenizer', ckpt.tokenizer?.kind, args.str('tokenizer')],
    ['batch', task['batchSize'], args.int('batch')],
    ['seq-len', task['seqLen'] ?? task['maxLen'], args.int('seq-len')],
    ['batching', task['batching'], args.str('batching')],
    ['eval-tokens', task['evalTokens'], args.int('eval-tokens')],
    ['columns', task['features'], args.list('columns')],
    ['target', task['targets'], args.list('target')],
    ['window', task['window'], args.int('window')],
    ['horizon', task['horizon'], args.int('horizon')],
    ['text-column', task['textColumn'], args.str('text-column')],
    ['label-column', task['labelColumn'], args.str('label-column')],
    ['length', task['length'], args.int('length')],
    ['symbols', task['symbols'], args.int('symbols')],
    ['count', task['count'], args.int('count')],
    ['model', ckpt.model.kind === 'lm' ? ckpt.model.family : config['cell'], args.str('model')],
    ['hidden', config['hiddenSize'], args.int('hidden')],
    ['layers', config['numLayers'], args.int('layers')],
    ['dropout', num(config['dropout']) ?? 0, args.num('dropout')],
    ['optimizer', o['optimizer'], args.str('optimizer')],
    ['lr', o['lr'], args.num('lr')],
    ['weight-decay', o['weightDecay'], args.num('weight-decay')],
    ['momentum', o['momentum'], args.num('momentum')],
    ['schedule', o['schedule'], args.str('schedule')],
    ['warmup', o['warmupSteps'], args.int('warmup', 0)],
    ['min-lr', o['minLr'], args.num('min-lr')],
    ['clip', o['clipNorm'], args.num('clip')],
    ['clip-value', o['clipValue'], args.num('clip-value')],
    ['eval-every', o['evalEvery'], args.int('eval-every', 0)],
    ['patience', o['patience'], args.int('patience', 0)],
    ['seed', o['seed'], args.int('seed', 0)],
  ];
}

/** --params and --config describe a model too: they conflict when the model they give differs from the checkpoint's. */
function modelConflicts(args: Args, ckpt: sl.Checkpoint): string[] {
  const out: string[] = [];
  const config = ckpt.model.config as Record<string, unknown>;
  const params = args.int('params');
  if (params !== undefined && ckpt.model.kind === 'lm' && typeof config['vocabSize'] === 'number') {
    const want = sl.models.getFamily(ckpt.model.family).configForBudget(config['vocabSize'], params) as Record<string, unknown>;
    const keep = new Set(['hiddenSize', 'numLayers'].filter((k) => args.has(k === 'hiddenSize' ? 'hidden' : 'layers')));
    if (Object.entries(want).some(([k, v]) => !keep.has(k) && !same(v, config[k]))) {
      const n = Object.values(ckpt.weights).reduce((s, t) => s + t.size, 0);
      out.push(`--params ${params} (checkpoint: a model of ${n.toLocaleString('en-US')} parameters)`);
    }
  }
  for (const [k, v] of Object.entries(args.json('config') ?? {})) {
    if (!same(v, config[k])) out.push(`--config ${k}=${JSON.stringify(v)} (checkpoint: ${k}=${JSON.stringify(config[k] ?? null)})`);
  }
  return out;
}

/** Refuse flags that contradict the checkpoint `path`, and a run length it has already reached. */
export function checkResume(args: Args, ckpt: sl.Checkpoint, path: string): void {
  const override = args.flag('override');
  const conflicts: string[] = [], overridable: string[] = [];
  for (const [flag, saved, given] of pairs(args, ckpt)) {
    if (given === undefined || saved === undefined || same(given, saved)) continue;
    const text = `--${flag} ${args.str(flag)} (checkpoint: ${show(saved)})`;
    if ((OVERRIDABLE as readonly string[]).includes(flag)) {
      if (!override) overridable.push(text);
    } else conflicts.push(text);
  }
  conflicts.push(...modelConflicts(args, ckpt));
  const all = [...conflicts, ...overridable];
  if (all.length > 0) {
    const hint = overridable.length > 0 ? `; --override lets ${overridable.map((s) => s.split(' ')[0]).join(', ')} replace the checkpoint's value${overridable.length > 1 ? 's' : ''} (the run then differs from one go)` : '';
    throw new UsageError(`--resume: these flags contradict the checkpoint: ${all.join(', ')}. A resumed run continues the checkpoint's run as if never stopped: drop them${hint}.`);
  }

  const tr = ckpt.training!;
  const at = `the run in ${JSON.stringify(path)} is already at step ${tr.step}`;
  const stepsFlag = args.int('steps'), timeFlag = args.seconds('time');
  const savedSteps = args.has('epochs') ? undefined : num(tr.options['steps']), savedTime = num(tr.options['timeLimit']);
  if (stepsFlag !== undefined && stepsFlag <= tr.step) throw new UsageError(`--steps ${stepsFlag}: ${at}; give more steps than that to train further.`);
  if (stepsFlag === undefined && savedSteps !== undefined && tr.step >= savedSteps) {
    throw new UsageError(`--resume: ${at} of its ${savedSteps}; pass --steps N (more than ${tr.step}) to train further.`);
  }
  const time = timeFlag ?? savedTime;
  if (time !== undefined && tr.elapsedMs >= time * 1000) {
    const spent = `has already trained for ${(tr.elapsedMs / 1000).toFixed(1)} s`;
    throw new UsageError(timeFlag !== undefined
      ? `--time ${args.str('time')}: the run in ${JSON.stringify(path)} ${spent} (the limit counts the whole run); give a longer time.`
      : `--resume: the run in ${JSON.stringify(path)} ${spent}, its time limit of ${time} s; pass a longer --time to train further.`);
  }
}

/** The checkpoint's trainer options with the run-length flags (and, with --override, the others) applied. */
export function resumedOptions(saved: sl.TrainerOptions, flags: sl.TrainerOptions): sl.TrainerOptions {
  const base: sl.TrainerOptions = { ...saved };
  if (flags.epochs !== undefined) delete base.steps; // epochs replace the step count (the Trainer takes one of the two)
  return { ...base, ...flags };
}
