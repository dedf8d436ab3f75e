import * as sl from 'seqlab';
import { formatMetrics, loadCheckpoint } from 'seqlab/node';
import type { Command } from '../args.js';
import { DATA_OPTIONS, fmtInt, loadTask } from '../setup.js';

export const evaluate: Command = {
  name: 'eval',
  summary: "evaluate a checkpoint on its data's validation split (or on another file)",
  usage: 'seqlab eval CKPT [--data PATH] [--eval-tokens N] [--json]',
  options: {
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
    const ckpt = await loadCheckpoint(path);
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
