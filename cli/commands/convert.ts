import * as sl from 'seqlab';
import { loadCheckpoint, loadSafetensors, readTextFile, saveCheckpoint, saveSafetensors } from 'seqlab/node';
import { UsageError, type Command } from '../args.js';
import { fmtInt } from '../setup.js';
import { detectFamilies } from './inspect.js';

export const convert: Command = {
  name: 'convert',
  summary: 'PyTorch safetensors ⇄ seqlab checkpoint',
  usage: 'seqlab convert IN OUT [--model FAMILY] [--vocab-from TEXT | --tokenizer byte]',
  options: {
    model: { type: 'string', value: 'FAMILY', help: 'the family of a PyTorch state dict', default: 'detected from the key names' },
    'vocab-from': { type: 'string', value: 'PATH', help: 'build the char tokenizer from this text (the one the model was trained on)' },
    tokenizer: { type: 'string', value: 'byte', help: 'use the byte tokenizer (vocabulary 256)' },
  },
  notes: [
    'A seqlab checkpoint converts to a plain safetensors state dict with PyTorch key names, which',
    '`model.load_state_dict(safetensors.torch.load_file(OUT))` loads in PyTorch (same module layout: emb, lstm, head).',
    'A PyTorch state dict converts to a checkpoint that seqlab generate/eval/inspect use; the config is read from the shapes.',
  ],
  examples: [
    'seqlab convert runs/tinyshakespeare-lstm.safetensors lstm_state_dict.safetensors',
    'seqlab convert lstm_state_dict.safetensors lstm.safetensors --model lstm --vocab-from data/tinyshakespeare.txt',
  ],
  async run(args, io) {
    args.maxPositionals(2);
    const input = args.required('an input file', 0), output = args.required('an output file', 1);
    const { tensors, metadata } = await loadSafetensors(input);
    if (metadata['format'] === sl.CHECKPOINT_FORMAT) {
      const ckpt = await loadCheckpoint(input);
      const meta: Record<string, string> = { format: 'pt', seqlab_model: JSON.stringify(ckpt.model) };
      if (ckpt.tokenizer) meta['seqlab_tokenizer'] = JSON.stringify(ckpt.tokenizer);
      await saveSafetensors(output, ckpt.weights, meta);
      io.stdout.write(`${output}: ${Object.keys(ckpt.weights).length} tensors (${fmtInt(Object.values(ckpt.weights).reduce((s, t) => s + t.size, 0))} values) under PyTorch key names\n`);
      return 0;
    }
    // A plain state dict: seqlab's own export remembers its model and tokenizer; otherwise detect them.
    const savedModel = metadata['seqlab_model'] ? (JSON.parse(metadata['seqlab_model']) as sl.ModelSpec) : undefined;
    let spec: sl.ModelSpec, model: sl.TaskModel;
    if (savedModel) {
      spec = savedModel;
      model = sl.modelFromCheckpoint({ model: spec, weights: tensors });
    } else {
      const family = args.str('model') ?? detectFamilies(tensors)[0];
      if (family === undefined) {
        throw new UsageError(`${input}: expected the state dict of one of ${sl.models.familyNames().join(', ')}, got keys ${Object.keys(tensors).slice(0, 4).join(', ')}…; pass --model`);
      }
      model = sl.models.modelFromStateDict(family, tensors);
      spec = sl.modelSpec(model);
    }
    let tokenizer: sl.data.TokenizerJSON | undefined = metadata['seqlab_tokenizer'] ? (JSON.parse(metadata['seqlab_tokenizer']) as sl.data.TokenizerJSON) : undefined;
    const vocabFrom = args.str('vocab-from');
    if (vocabFrom) tokenizer = sl.data.CharTokenizer.fromText(await readTextFile(vocabFrom)).toJSON();
    else if (args.has('tokenizer')) tokenizer = sl.data.tokenizerFromJSON({ kind: args.oneOf('tokenizer', ['byte'] as const)! }).toJSON();
    const vocab = 'vocabSize' in model ? model.vocabSize : undefined;
    if (!tokenizer && vocab === 256) tokenizer = { kind: 'byte' };
    if (tokenizer && vocab !== undefined) {
      const n = sl.data.tokenizerFromJSON(tokenizer).vocabSize;
      if (n !== vocab) throw new UsageError(`--vocab-from: expected a text with ${vocab} distinct characters (the model's vocabulary), got ${n}`);
    }
    await saveCheckpoint(output, { model: spec, weights: model.stateDict(), ...(tokenizer ? { tokenizer, task: { kind: 'lm' } } : {}) });
    io.stdout.write(`${output}: seqlab checkpoint, ${spec.kind === 'lm' ? spec.family : 'regressor'} ${JSON.stringify(spec.config)}, ${fmtInt(model.numParameters())} parameters${tokenizer ? `, ${tokenizer.kind} tokenizer` : ' (no tokenizer: pass --vocab-from TEXT to generate text)'}\n`);
    return 0;
  },
};
