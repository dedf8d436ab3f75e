/**
 * Any model file a command is given: a seqlab checkpoint, or the weights of a pretrained model (a PyTorch
 * state dict as safetensors, or a torch.save `.pth` / `.bin` / nanoGPT `ckpt.pt`) with its tokenizer file.
 * Weights are read as an in-memory checkpoint, so generate, stream, eval, inspect and convert treat both alike.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as sl from 'seqlab';
import { loadWeights, readTextFile, type WeightsFile } from 'seqlab/node';
import { UsageError, type Args, type Spec } from './args.js';

export const MODEL_FILE_OPTIONS: Spec = {
  model: { type: 'string', value: 'FAMILY', help: `the family of a PyTorch state dict (${sl.models.familyNames().join(', ')})`, default: 'detected from the key names' },
  'n-head': { type: 'string', value: 'N', help: 'GPT: attention heads (changes no weight shape, so a state dict cannot tell)', default: "nanoGPT ckpt.pt's model_args" },
  tokenizer: { type: 'string', value: 'FILE', help: "a pretrained model's tokenizer: RWKV World vocabulary (rwkv_vocab_*.txt) or Hugging Face tokenizer.json" },
  config: { type: 'string', value: 'JSON', help: 'config values a state dict cannot show, e.g. \'{"ngroups": 8}\' for Mamba-2 (its config.json n_groups)' },
};

export const NO_TOKENIZER_HINT = 'pass --tokenizer FILE: the RWKV World vocabulary (rwkv_vocab_v20230424.txt) or a Hugging Face tokenizer.json (Mamba: GPT-NeoX\'s; nanoGPT: GPT-2\'s); seqlab convert IN OUT --tokenizer FILE keeps it in the checkpoint';

/**
 * A tokenizer file: a tokenizer.json (JSON; with the tokenizer_config.json beside it, as the Hub ships them) or
 * an RWKV World vocabulary (anything else).
 */
export async function readTokenizerFile(path: string): Promise<sl.data.TokenizerJSON> {
  const text = await readTextFile(path);
  if (!text.trimStart().startsWith('{')) return new sl.data.RWKVWorldTokenizer(text).toJSON();
  const cfgPath = join(dirname(path), 'tokenizer_config.json');
  return new sl.data.HFTokenizer(text, existsSync(cfgPath) ? await readTextFile(cfgPath) : '{}').toJSON();
}

/** Families whose fromStateDict takes these tensors (a missing config value such as GPT's nHead still counts). */
export function detectFamilies(tensors: Record<string, sl.Tensor>): string[] {
  return sl.models.familyNames().filter((f) => {
    try {
      sl.models.modelFromStateDict(f, tensors);
      return true;
    } catch (e) {
      return e instanceof sl.ConfigError;
    }
  });
}

/** The config a weights file states for a family (nanoGPT's model_args; seqlab's own export) plus flags. */
function statedConfig(family: string, w: WeightsFile, args: Args): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  if (w.metadata['seqlab_model']) Object.assign(config, (JSON.parse(w.metadata['seqlab_model']) as { config?: Record<string, unknown> }).config ?? {});
  if (family === 'gpt' && w.objects['model_args'] !== undefined) Object.assign(config, sl.models.GPT.configFromModelArgs(w.objects['model_args']));
  Object.assign(config, args.json('config') ?? {});
  const nHead = args.int('n-head', 1);
  if (nHead !== undefined) {
    if (family !== 'gpt') throw new UsageError(`--n-head: only the gpt family has attention heads, got --model ${family}`);
    config['nHead'] = nHead;
  }
  return config;
}

/**
 * Open a model file as a checkpoint. For weights, the family comes from --model or the key names, the
 * config from the shapes and what the file states, the tokenizer from --tokenizer (or a byte tokenizer for
 * a 256-symbol vocabulary).
 */
export async function openModelFile(path: string, args: Args): Promise<sl.Checkpoint & { source: 'checkpoint' | WeightsFile['format']; built?: sl.models.LanguageModel }> {
  const w = await loadWeights(path);
  const tokFile = args.str('tokenizer');
  const tokenizer = tokFile && tokFile !== 'byte' ? await readTokenizerFile(tokFile) : tokFile === 'byte' ? ({ kind: 'byte' } as const) : undefined;
  if (w.checkpoint) return { ...w.checkpoint, ...(tokenizer ? { tokenizer } : {}), source: 'checkpoint' };
  const savedFamily = w.metadata['seqlab_model'] ? (JSON.parse(w.metadata['seqlab_model']) as { family?: string }).family : undefined;
  const family = args.str('model') ?? savedFamily ?? (args.has('n-head') ? 'gpt' : undefined);
  if (family !== undefined && !sl.models.familyNames().includes(family)) throw new UsageError(`--model: expected one of ${sl.models.familyNames().join(', ')}, got ${JSON.stringify(family)}`);
  const build = (f: string): sl.models.LanguageModel => {
    try {
      return sl.models.modelFromStateDict(f, w.tensors, statedConfig(f, w, args));
    } catch (e) {
      if (f === 'gpt' && e instanceof sl.ConfigError && /config\.nHead/.test(e.message)) throw new UsageError(`${path}: the number of attention heads is not in the file (it changes no weight shape); pass --n-head N`);
      throw e;
    }
  };
  // Without --model, the first family whose fromStateDict takes the tensors (built once: real models are large).
  let model: sl.models.LanguageModel | undefined;
  if (family !== undefined) model = build(family);
  else {
    for (const f of sl.models.familyNames()) {
      try {
        model = build(f);
        break;
      } catch (e) {
        if (e instanceof UsageError) throw e;
      }
    }
  }
  if (model === undefined) {
    const keys = Object.keys(w.tensors);
    throw new UsageError(`${path}: expected the weights of a language model (${sl.models.familyNames().join(', ')}), got ${keys.length} tensors (${keys.slice(0, 3).join(', ')}${keys.length > 3 ? ', …' : ''}); pass --model FAMILY to see why it does not load as that family`);
  }
  const saved = w.metadata['seqlab_tokenizer'] ? (JSON.parse(w.metadata['seqlab_tokenizer']) as sl.data.TokenizerJSON) : undefined;
  const tok = tokenizer ?? saved ?? (model.vocabSize === 256 ? ({ kind: 'byte' } as const) : undefined);
  if (tok) checkVocab(tok, model.vocabSize, tokFile ?? 'the tokenizer');
  return { model: sl.modelSpec(model), weights: model.stateDict(), ...(tok ? { tokenizer: tok, task: { kind: 'lm' } } : {}), source: w.format, built: model };
}

/** A tokenizer must not produce ids the model has no row for (a model's vocabulary may be padded past it). */
export function checkVocab(tok: sl.data.TokenizerJSON, modelVocab: number, what: string): void {
  const n = sl.data.tokenizerFromJSON(tok).vocabSize;
  if (n > modelVocab) throw new UsageError(`${what}: expected a tokenizer of at most ${modelVocab} ids (the model's vocabulary), got ${n}`);
}
