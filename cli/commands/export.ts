import * as sl from 'seqlab';
import { atomicWriteFile } from 'seqlab/node';
import { UsageError, type Command } from '../args.js';
import { MODEL_FILE_OPTIONS, openModelFile } from '../weights.js';

export const exportCommand: Command = {
  name: 'export',
  summary: 'write an RNN/LSTM/GRU language model as ONNX, with its state as explicit inputs and outputs',
  usage: 'seqlab export CKPT OUT.onnx [--opset N]',
  options: {
    model: MODEL_FILE_OPTIONS['model']!,
    opset: { type: 'string', value: 'N', help: 'ONNX opset (9–17)', default: '17' },
  },
  notes: [
    "Inputs: tokens (int64 [batch, time]) and one float input per state tensor, state_in.h (and state_in.c for LSTM),",
    '[layers, batch, hidden]; zeros are initState. Outputs: logits [batch, time, vocab] and state_out.h (state_out.c):',
    "feed them back as state_in to continue the sequence. 'seqlab inspect OUT.onnx' lists them.",
  ],
  examples: ['seqlab export runs/lstm.best.safetensors lstm.onnx', 'seqlab export runs/gru.safetensors gru.onnx --opset 13'],
  async run(args, io) {
    args.maxPositionals(2);
    const input = args.required('a checkpoint', 0), output = args.required('an output .onnx path', 1);
    const opset = args.int('opset', 9) ?? 17;
    if (opset > 17) throw new UsageError(`--opset: expected an integer in 9–17, got "${opset}"`);
    const ckpt = await openModelFile(input, args);
    const model = ckpt.built ?? sl.modelFromCheckpoint(ckpt);
    if (!(model instanceof sl.models.RecurrentLM)) {
      const what = ckpt.model.kind === 'lm' ? ckpt.model.family : 'sequence regressor';
      throw new UsageError(`${input}: expected an rnn, lstm or gru language model (what ONNX's RNN/GRU/LSTM operators express), got a ${what} model`);
    }
    await atomicWriteFile(output, sl.io.toOnnx(model, { opset }));
    const state = Object.keys(model.initState(1)).map((k) => `state_in.${k}`).join(', ');
    io.stdout.write(`${output}: ONNX opset ${opset}, ${model.family} language model; inputs tokens, ${state}; outputs logits, ${state.replaceAll('state_in', 'state_out')}\n`);
    return 0;
  },
};
