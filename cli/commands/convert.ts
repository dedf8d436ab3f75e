import * as sl from 'seqlab';
import { loadCheckpoint, loadOnnx, loadWeights, readTextFile, saveCheckpoint, saveSafetensors } from 'seqlab/node';
import { UsageError, type Command } from '../args.js';
import { checkWritable, refuseSameFile } from '../paths.js';
import { fmtInt } from '../setup.js';
import { MODEL_FILE_OPTIONS, checkVocab, detectFamilies, openModelFile } from '../weights.js';

/** An ONNX graph of recurrent layers → a PyTorch-named state dict (bare layers) or a seqlab checkpoint (a language model). */
async function convertOnnx(input: string, output: string, out: { write(s: string): unknown }): Promise<number> {
  const imp = await loadOnnx(input);
  if (imp.kind === 'layer') {
    await saveSafetensors(output, imp.stateDict, { format: 'pt', seqlab_layer: JSON.stringify({ cell: imp.cell, config: imp.config }) });
    out.write(`${output}: ${imp.cell.toUpperCase()} layer state dict ${JSON.stringify(imp.config)} from ONNX opset ${imp.opset} (load it with new sl.nn.${imp.cell.toUpperCase()}(config).loadStateDict)\n`);
    return 0;
  }
  const model = sl.models.createModel(imp.cell, imp.config);
  model.loadStateDict(imp.stateDict);
  await saveCheckpoint(output, { model: sl.modelSpec(model), weights: model.stateDict() });
  out.write(`${output}: seqlab checkpoint, ${imp.cell} language model ${JSON.stringify(imp.config)} from ONNX opset ${imp.opset}, ${fmtInt(model.numParameters())} parameters (no tokenizer: pass --vocab-from TEXT when converting it again to generate text)\n`);
  return 0;
}

/** Keys of a bare recurrent layer (nn.RNN / nn.LSTM / nn.GRU state dict). */
const isBareLayer = (keys: string[]): boolean => keys.includes('weight_ih_l0') && keys.includes('weight_hh_l0');

export const convert: Command = {
  name: 'convert',
  summary: 'PyTorch weights (.pth, .bin, ckpt.pt, safetensors) ⇄ seqlab checkpoint',
  usage: 'seqlab convert IN OUT [--model FAMILY] [--n-head N] [--tokenizer FILE|byte | --vocab-from TEXT]',
  options: {
    ...MODEL_FILE_OPTIONS,
    tokenizer: { ...MODEL_FILE_OPTIONS['tokenizer']!, value: 'FILE|byte', help: `${MODEL_FILE_OPTIONS['tokenizer']!.help}, or byte (vocabulary 256)` },
    'vocab-from': { type: 'string', value: 'PATH', help: 'build the char tokenizer from this text (the one the model was trained on, e.g. nanoGPT shakespeare_char)' },
  },
  notes: [
    'A seqlab checkpoint converts to a plain safetensors state dict with PyTorch key names, which',
    '`model.load_state_dict(safetensors.torch.load_file(OUT))` loads in PyTorch (same module layout: emb, lstm, head).',
    'A PyTorch state dict (safetensors, or torch.save .pth/.bin/ckpt.pt) converts to a checkpoint that seqlab generate/eval/inspect use;',
    "the config is read from the shapes and what the file states (nanoGPT's model_args). A bare nn.RNN/LSTM/GRU state dict converts",
    'to a safetensors state dict that the matching sl.nn module loads.',
  ],
  examples: [
    'seqlab convert runs/tinyshakespeare-lstm.safetensors lstm_state_dict.safetensors',
    'seqlab convert lstm_state_dict.safetensors lstm.safetensors --model lstm --vocab-from data/tinyshakespeare.txt',
    'seqlab convert out-shakespeare-char/ckpt.pt nanogpt.safetensors --vocab-from data/tinyshakespeare.txt',
    'seqlab convert RWKV-x070-World-0.1B.pth rwkv7.safetensors --tokenizer rwkv_vocab_v20230424.txt',
  ],
  async run(args, io) {
    args.maxPositionals(2);
    const input = args.required('an input file', 0), output = args.required('an output file', 1);
    refuseSameFile(input, output);
    checkWritable('OUT', output, 'replace');
    if (input.toLowerCase().endsWith('.onnx')) return convertOnnx(input, output, io.stdout);
    const { tensors, metadata, format } = await loadWeights(input);
    if (metadata['format'] === sl.CHECKPOINT_FORMAT) {
      const ckpt = await loadCheckpoint(input);
      const meta: Record<string, string> = { format: 'pt', seqlab_model: JSON.stringify(ckpt.model) };
      if (ckpt.tokenizer) meta['seqlab_tokenizer'] = JSON.stringify(ckpt.tokenizer);
      await saveSafetensors(output, ckpt.weights, meta);
      io.stdout.write(`${output}: ${Object.keys(ckpt.weights).length} tensors (${fmtInt(Object.values(ckpt.weights).reduce((s, t) => s + t.size, 0))} values) under PyTorch key names\n`);
      return 0;
    }
    if (!args.has('model') && detectFamilies(tensors).length === 0 && isBareLayer(Object.keys(tensors))) {
      await saveSafetensors(output, tensors, { format: 'pt' });
      io.stdout.write(`${output}: a bare recurrent layer's state dict, ${Object.keys(tensors).length} tensors under PyTorch key names (load it with the matching sl.nn module's loadStateDict)\n`);
      return 0;
    }
    const ckpt = await openModelFile(input, args);
    let tokenizer = ckpt.tokenizer;
    const vocabFrom = args.str('vocab-from');
    const model = ckpt.built ?? sl.modelFromCheckpoint(ckpt);
    const vocab = 'vocabSize' in model ? model.vocabSize : undefined;
    if (vocabFrom) {
      tokenizer = sl.data.CharTokenizer.fromText(await readTextFile(vocabFrom)).toJSON();
      const n = sl.data.tokenizerFromJSON(tokenizer).vocabSize;
      if (vocab !== undefined && n !== vocab) throw new UsageError(`--vocab-from: expected a text with ${vocab} distinct characters (the model's vocabulary), got ${n}`);
    }
    if (tokenizer && vocab !== undefined) checkVocab(tokenizer, vocab, args.str('tokenizer') ?? 'the tokenizer');
    const spec = ckpt.model;
    await saveCheckpoint(output, { model: spec, weights: ckpt.weights, ...(tokenizer ? { tokenizer, task: { kind: 'lm' } } : {}) });
    io.stdout.write(`${output}: seqlab checkpoint from ${format === 'torch' ? 'a torch.save file' : 'a safetensors state dict'}, ${spec.kind === 'lm' ? spec.family : 'regressor'} ${JSON.stringify(spec.config)}, ${fmtInt(model.numParameters())} parameters${tokenizer ? `, ${tokenizer.kind} tokenizer` : ' (no tokenizer: pass --tokenizer FILE or --vocab-from TEXT to generate text)'}\n`);
    return 0;
  },
};
