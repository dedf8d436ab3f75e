import * as sl from 'seqlab';
import { UsageError, type Args, type Command } from '../args.js';
import { MODEL_FILE_OPTIONS, NO_TOKENIZER_HINT, openModelFile } from '../weights.js';

export const SAMPLING_OPTIONS = {
  temperature: { type: 'string', value: 'T', help: 'sampling temperature (0: greedy)', default: '0.8' },
  'top-k': { type: 'string', value: 'K', help: 'sample among the K most likely tokens', default: 'all' },
  'top-p': { type: 'string', value: 'P', help: 'nucleus sampling: the most likely tokens up to total probability P, a number in (0, 1]', default: '1' },
  greedy: { type: 'boolean', help: 'always take the most likely token' },
  seed: { type: 'string', value: 'N', help: 'sampling seed', default: '0' },
} as const;

export function samplingFlags(args: Args): sl.SamplingOptions {
  const o: sl.SamplingOptions = { temperature: args.num('temperature', 0) ?? 0.8, seed: args.int('seed', 0) ?? 0 };
  const k = args.int('top-k', 0), p = args.probability('top-p');
  if (k !== undefined) o.topK = k;
  if (p !== undefined) {
    o.topP = p;
  }
  if (args.flag('greedy')) o.greedy = true;
  return o;
}

/** A language model (checkpoint or pretrained weights) with its tokenizer, or a UsageError saying why not. */
export async function loadLM(path: string, args: Args): Promise<{ model: sl.models.LanguageModel; tokenizer: sl.data.Tokenizer; ckpt: sl.Checkpoint }> {
  const ckpt = await openModelFile(path, args);
  const kind = (ckpt.task?.['kind'] as string | undefined) ?? 'lm';
  if (ckpt.model.kind !== 'lm' || kind !== 'lm') {
    throw new UsageError(`${path}: expected a language-model checkpoint, got a ${kind} model. Use 'seqlab eval' or 'seqlab stream' for it`);
  }
  if (!ckpt.tokenizer) throw new UsageError(`${path}: this model has no tokenizer; ${NO_TOKENIZER_HINT}`);
  return { model: sl.modelFromCheckpoint(ckpt) as sl.models.LanguageModel, tokenizer: sl.data.tokenizerFromJSON(ckpt.tokenizer), ckpt };
}

/** A newline (nanoGPT's start), or the first symbol when the vocabulary has none. */
export function defaultPrompt(tokenizer: sl.data.Tokenizer): string {
  try {
    if (tokenizer.encode('\n').length > 0) return '\n';
  } catch {
    // not in the vocabulary
  }
  return tokenizer.decode([0]);
}

export const generate: Command = {
  name: 'generate',
  summary: 'sample text from a language-model checkpoint, streaming each token as it is produced',
  usage: 'seqlab generate CKPT|WEIGHTS [--tokenizer FILE] [--prompt TEXT] [--tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed N]',
  options: {
    ...MODEL_FILE_OPTIONS,
    prompt: { type: 'string', value: 'TEXT', help: 'text to continue', default: 'a newline, as nanoGPT' },
    tokens: { type: 'string', value: 'N', help: 'tokens to generate', default: '500' },
    ...SAMPLING_OPTIONS,
  },
  notes: [
    'The prompt is read once; every new token is one O(1) step of the model with its carried state.',
    'WEIGHTS: a pretrained model as PyTorch saved it (.pth, .bin, nanoGPT ckpt.pt, or safetensors) with --tokenizer.',
  ],
  examples: [
    "seqlab generate runs/tinyshakespeare-lstm.best.safetensors --prompt 'ROMEO:' --tokens 300 --temperature 0.8 --top-k 20",
    "seqlab generate RWKV-x070-World-0.1B.pth --tokenizer rwkv_vocab_v20230424.txt --prompt 'The Eiffel tower is in' --tokens 50",
  ],
  async run(args, io) {
    const path = args.maxPositionals(1).required('a checkpoint path', 0);
    const sampling = samplingFlags(args); // flags first: a typo should not wait for a large checkpoint
    const n = args.int('tokens', 0) ?? 500;
    const { model, tokenizer } = await loadLM(path, args);
    const promptText = args.str('prompt') ?? defaultPrompt(tokenizer);
    let prompt = tokenizer.encode(promptText);
    if (prompt.length === 0) prompt = tokenizer.encode(defaultPrompt(tokenizer));
    const dec = tokenizer.decoder();
    if (args.has('prompt')) io.stdout.write(promptText);
    let lastYield = performance.now();
    for (const id of sl.generate(model, prompt, { ...sampling, maxTokens: n })) {
      io.stdout.write(dec.push(id));
      if (performance.now() - lastYield > 50) {
        // A closed stdout (| head) is reported asynchronously: let it end the program now, not after n tokens.
        await new Promise((r) => setImmediate(r));
        lastYield = performance.now();
      }
    }
    io.stdout.write(`${dec.flush()}\n`);
    return 0;
  },
};
