import * as sl from 'seqlab';
import { formatMetrics } from 'seqlab/node';
import { UsageError, type Command } from '../args.js';
import { MODEL_FILE_OPTIONS, NO_TOKENIZER_HINT, openModelFile } from '../weights.js';
import { DATA_OPTIONS, fmtInt, loadTask } from '../setup.js';

export const evaluate: Command = {
  name: 'eval',
  summary: "evaluate a checkpoint on its data's validation split (or on another file)",
  usage: 'seqlab eval CKPT|WEIGHTS [--tokenizer FILE] [--data PATH] [--eval-tokens N] [--json]',
  options: {
    ...MODEL_FILE_OPTIONS,
    data: DATA_OPTIONS['data']!,
    batch: DATA_OPTIONS['batch']!,
    'seq-len': DATA_OPTIONS['seq-len']!,
    'eval-tokens': DATA_OPTIONS['eval-tokens']!,
    json: { type: 'boolean', help: 'print the metrics as JSON' },
  },
  notes: ['The data file defaults to the one the checkpoint was trained on; its tokenizer, labels, columns and normalisation come from the checkpoint.'],
  examples: ['seqlab eval runs/tinyshakespeare-lstm.best.safetensors', 'seqlab eval model.safetensors --data other.txt --eval-tokens 20000 --json'],
  async run(args, io) {
    const path = args.maxPositionals(1).required('a checkpoint path', 0);
    const ckpt = await openModelFile(path, args);
    if (ckpt.model.kind === 'lm' && !ckpt.tokenizer) throw new UsageError(`${path}: this model has no tokenizer; ${NO_TOKENIZER_HINT}`);
    const loaded = await loadTask(args, ckpt);
    const model = sl.modelFromCheckpoint(ckpt);
    model.eval();
    const t0 = performance.now();
    const metrics = loaded.task.evaluate(model);
    const secs = (performance.now() - t0) / 1000;
    if (args.flag('json')) io.stdout.write(`${JSON.stringify({ checkpoint: path, data: loaded.dataPath, ...metrics })}\n`);
    else {
      io.stdout.write(`${loaded.summary}\n`);
      io.stdout.write(`${formatMetrics(metrics, loaded.unit)}  (${secs.toFixed(1)} s; model ${fmtInt(model.numParameters())} parameters)\n`);
    }
    return 0;
  },
};
