import { basename, extname } from 'node:path';
import * as sl from 'seqlab';
import { loadCheckpoint, metricsLogger, progressReporter, saveCheckpoint } from 'seqlab/node';
import { UsageError, type Args, type Command } from '../args.js';
import { checkResume, resumedOptions } from '../resume.js';
import { checkWritable } from '../paths.js';
import { DATA_OPTIONS, MODEL_OPTIONS, buildModel, fmtInt, loadTask, siblingPath } from '../setup.js';

/** Trainer options given as flags (only those given, so a resumed run keeps the rest from its checkpoint). */
export function trainerFlags(args: Args): sl.TrainerOptions {
  const o: sl.TrainerOptions = {};
  const set = <K extends keyof sl.TrainerOptions>(k: K, v: sl.TrainerOptions[K] | undefined): void => {
    if (v !== undefined) o[k] = v;
  };
  set('steps', args.int('steps'));
  set('epochs', args.num('epochs', 0));
  set('timeLimit', args.seconds('time'));
  set('optimizer', args.oneOf('optimizer', ['adam', 'adamw', 'sgd'] as const));
  set('lr', args.num('lr', 0));
  set('weightDecay', args.num('weight-decay', 0));
  set('momentum', args.num('momentum', 0, 1));
  set('schedule', args.oneOf('schedule', ['constant', 'cosine'] as const));
  set('warmupSteps', args.int('warmup', 0));
  set('minLr', args.num('min-lr', 0));
  set('clipNorm', args.num('clip', 0));
  set('clipValue', args.num('clip-value', 0));
  set('evalEvery', args.int('eval-every', 0));
  set('patience', args.int('patience', 0));
  set('seed', args.int('seed', 0));
  return o;
}

export const TRAIN_OPTIONS = {
  steps: { type: 'string', value: 'N', help: 'optimizer steps', default: '1000 (unless --epochs or --time)' },
  epochs: { type: 'string', value: 'N', help: 'passes over the training data instead of --steps' },
  time: { type: 'string', value: 'DURATION', help: 'stop after this long, e.g. 90s, 3m, 1h' },
  lr: { type: 'string', value: 'LR', help: 'learning rate', default: '2e-3 (Adam), 0.1 (SGD)' },
  optimizer: { type: 'string', value: 'NAME', help: 'adam | adamw | sgd', default: 'adam' },
  'weight-decay': { type: 'string', value: 'W', help: 'weight decay', default: '0 (AdamW: 0.1)' },
  momentum: { type: 'string', value: 'M', help: 'SGD momentum', default: '0.9' },
  schedule: { type: 'string', value: 'KIND', help: 'constant | cosine (nanoGPT: warmup, cosine decay to --min-lr)', default: 'constant' },
  warmup: { type: 'string', value: 'N', help: 'linear warmup steps', default: '0' },
  'min-lr': { type: 'string', value: 'LR', help: 'final learning rate of the cosine schedule', default: 'lr/10' },
  clip: { type: 'string', value: 'NORM', help: 'clip the global gradient norm (0: off)', default: '1.0' },
  'clip-value': { type: 'string', value: 'V', help: 'also clamp each gradient to [-V, V] (char-rnn: 5)', default: 'off' },
  'eval-every': { type: 'string', value: 'N', help: 'evaluate and checkpoint every N steps (0: at the end)', default: '100' },
  patience: { type: 'string', value: 'N', help: 'early stop after N evaluations without a better val loss', default: 'off' },
  seed: { type: 'string', value: 'N', help: 'seed for initialisation, data order and dropout', default: '1337' },
} as const;

export const train: Command = {
  name: 'train',
  summary: 'train a model on a text or CSV file (or a synthetic task), with checkpoints and a metrics log',
  usage: 'seqlab train [--data PATH] [--model FAMILY] [--task KIND] [--out CKPT] [options]',
  options: {
    ...DATA_OPTIONS,
    ...MODEL_OPTIONS,
    ...TRAIN_OPTIONS,
    out: { type: 'string', value: 'CKPT', help: 'latest checkpoint (the best one goes to CKPT with .best before the extension)', default: 'runs/<data>-<model>.safetensors' },
    resume: { type: 'string', value: 'CKPT', help: "continue a run from its checkpoint, bit for bit as if never stopped: every setting comes from the checkpoint, a flag that contradicts it is an error; --steps/--epochs/--time set the whole run's length" },
    override: { type: 'boolean', help: "with --resume: let the given --lr, --weight-decay, --momentum, --schedule, --warmup, --min-lr, --clip, --clip-value, --eval-every, --patience, --eval-tokens or --data replace the checkpoint's (the run then differs from one go)" },
    log: { type: 'string', value: 'PATH', help: 'JSONL metrics log', default: 'CKPT with .metrics.jsonl' },
    quiet: { type: 'boolean', help: 'no progress output' },
  },
  notes: [
    'Ctrl-C (SIGINT), SIGTERM and SIGHUP stop after the current step and save a checkpoint that --resume continues',
    '(exit codes 130, 143, 129; a second signal quits at once). A closed stdout or stderr (| head, | tee) only silences the output.',
    'A non-finite loss or gradient stops training (exit code 1) and leaves the last good checkpoint intact.',
  ],
  examples: [
    'seqlab train --model lstm --time 3m                      # char-LM on the bundled Tiny Shakespeare',
    'seqlab train --data my.txt --model gru --hidden 256 --layers 2 --steps 2000 --out gru.safetensors',
    'seqlab train --data ETTh1.csv --task forecast --target OT --window 96 --horizon 24',
    'seqlab train --data synthetic:copy --model lstm --steps 500',
    'seqlab train --resume runs/tinyshakespeare-lstm.safetensors --steps 4000',
  ],
  async run(args, io) {
    args.maxPositionals(0);
    const resumeFrom = args.str('resume');
    const ckpt = resumeFrom ? await loadCheckpoint(resumeFrom) : undefined;
    if (ckpt && !ckpt.training) throw new UsageError(`--resume: expected a checkpoint written by seqlab train (with training state), got ${JSON.stringify(resumeFrom)} without one`);
    if (ckpt) checkResume(args, ckpt, resumeFrom!);
    else if (args.flag('override')) throw new UsageError("--override: only with --resume. See 'seqlab train --help'.");
    // A resumed run evaluates on what it did before (all of val when the checkpoint recorded no limit).
    const savedEval = ckpt?.task?.['evalTokens'];
    const loaded = await loadTask(args, ckpt, ckpt ? (typeof savedEval === 'number' ? { evalTokens: savedEval } : {}) : { evalTokens: 16384 });
    const seed = args.int('seed', 0) ?? (ckpt?.training?.options['seed'] as number | undefined) ?? 1337;
    sl.manualSeed(seed);
    const model = ckpt ? sl.modelFromCheckpoint(ckpt) : buildModel(args, loaded.task.requires);
    const family = ckpt ? (ckpt.model.kind === 'lm' ? ckpt.model.family : String(ckpt.model.config.cell)) : args.str('model', 'lstm');
    const out = args.str('out') ?? resumeFrom ?? `runs/${basename(loaded.dataPath, extname(loaded.dataPath)).replace(/^synthetic:/, '')}-${family}.safetensors`;
    const best = siblingPath(out, `.best${extname(out) || '.safetensors'}`);
    const log = args.str('log') ?? siblingPath(out, '.metrics.jsonl');
    checkWritable('out', out, 'replace');
    checkWritable('out', best, 'replace');
    checkWritable('log', log, 'append');
    const options = ckpt?.training ? resumedOptions(ckpt.training.options as sl.TrainerOptions, { ...trainerFlags(args), seed }) : { ...trainerFlags(args), seed };
    const quiet = args.flag('quiet');
    const say = (s: string): void => {
      if (!quiet) io.stderr.write(`${s}\n`);
    };
    say(`data: ${loaded.summary}`);
    say(`model: ${family} ${JSON.stringify(ckpt?.model.config ?? (model as { config: object }).config)}`);
    const report = quiet ? () => undefined : progressReporter({ stream: io.stderr, unit: loaded.unit, itemName: loaded.kind === 'classify' || loaded.kind === 'tag' ? 'ex' : 'tok' });
    const logEvent = metricsLogger(log);
    const trainer = new sl.Trainer(model, loaded.task, options, {
      onEvent: (e) => {
        report(e);
        logEvent(e);
      },
      save: async (c, kind) => {
        await saveCheckpoint(kind === 'best' ? best : out, c);
      },
    });
    if (ckpt?.training) trainer.restore(ckpt.training);
    let interruptCode = 130;
    const off = io.onInterrupt((code) => {
      interruptCode = code;
      trainer.stop();
    });
    let result: sl.TrainResult;
    try {
      result = await trainer.run();
    } finally {
      off();
    }
    if (result.reason === 'non-finite') {
      io.stderr.write(`seqlab train: ${result.message}\n`);
      return 1;
    }
    say(`checkpoints: ${out} (latest, step ${result.steps})${result.best ? `, ${best} (best, step ${result.best.step})` : ''}; metrics log: ${log}`);
    // The rate and the seconds are this run's; a resumed run also names the whole training's wall time.
    const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
    const rate = `${fmtInt(Math.round(result.itemsPerSec))} ${loaded.kind === 'classify' || loaded.kind === 'tag' ? 'examples' : 'tokens'}/s`;
    say(ckpt
      ? `${rate} over ${secs(result.runMs)} for this run's ${fmtInt(result.runSteps)} steps (${fmtInt(result.steps)} steps and ${secs(result.elapsedMs)} in all, runs before the checkpoint included)`
      : `${rate} over ${secs(result.runMs)} (${fmtInt(result.runSteps)} steps)`);
    return result.reason === 'interrupted' ? interruptCode : 0;
  },
};
