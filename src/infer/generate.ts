/**
 * Sampling and generation for any `LanguageModel`. The prompt is read once (`forward` over it, one pass);
 * every new token then costs one `step` with the carried state — the prefix is never re-run, so each token
 * costs the same however long the text grows (nanoGPT's `generate` re-runs up to block_size tokens instead).
 *
 * A model with a finite context (`config.blockSize`, the transformer) gets a fresh state from the last half of
 * its context whenever the context fills, as nanoGPT crops its input to block_size.
 *
 * Sampling follows nanoGPT / Hugging Face: logits / temperature, then keep the top-k logits, then keep the
 * smallest set of most probable tokens whose probabilities sum to ≥ top-p (nucleus sampling, Holtzman et
 * al. 2020), then draw from the renormalised softmax. temperature 0 (or `greedy`) takes the argmax.
 */
import { noGrad } from '../autograd/tape.js';
import type { LanguageModel } from '../models/lm.js';
import { ConfigError } from '../tensor/errors.js';
import { Generator as Rng } from '../tensor/random.js';
import { StreamSession } from './session.js';
import type { StateTree } from './state.js';

export interface SamplingOptions {
  /** > 0; default 1. 0 means greedy. */
  temperature?: number;
  /** Keep only the k most likely tokens (0 or undefined: all). */
  topK?: number;
  /** Keep the most likely tokens up to cumulative probability p, in (0, 1] (1: all). */
  topP?: number;
  /** Always take the most likely token. */
  greedy?: boolean;
  /** Seed of a fresh generator (default 0), unless `generator` is given. */
  seed?: number;
  generator?: Rng;
}

export function checkSampling(o: SamplingOptions): void {
  const bad = (expected: string, got: unknown): never => {
    throw new ConfigError({ op: 'sample', expected, got: String(got) });
  };
  if (o.temperature !== undefined && !(o.temperature >= 0 && Number.isFinite(o.temperature))) bad('temperature ≥ 0', o.temperature);
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 0)) bad('topK an integer ≥ 0', o.topK);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) bad('topP in (0, 1]', o.topP);
}

function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

/** Draw a token id from one row of logits. */
export function sampleLogits(logits: ArrayLike<number>, opts: SamplingOptions, rng: Rng): number {
  const temperature = opts.temperature ?? 1;
  if (opts.greedy || temperature === 0) return argmax(logits);
  const V = logits.length;
  // Candidates sorted by logit, descending (ties: lower id first, so results are deterministic).
  let order = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
  if (opts.topK && opts.topK < V) order = order.slice(0, opts.topK);
  const max = logits[order[0]!]!;
  const p = order.map((i) => Math.exp((logits[i]! - max) / temperature));
  let total = p.reduce((a, b) => a + b, 0);
  const topP = opts.topP ?? 1;
  if (topP < 1) {
    let cum = 0, keep = 0;
    while (keep < p.length && cum < topP * total) cum += p[keep++]!;
    order = order.slice(0, Math.max(1, keep));
    p.length = order.length;
    total = p.reduce((a, b) => a + b, 0);
  }
  let u = rng.uniform() * total;
  for (let j = 0; j < order.length; j++) {
    u -= p[j]!;
    if (u < 0) return order[j]!;
  }
  return order[order.length - 1]!;
}

export interface GenerateOptions extends SamplingOptions {
  /** New tokens to produce. */
  maxTokens: number;
  /** Read the prompt from this state (e.g. a saved session) instead of zeros. */
  state?: StateTree;
}

/**
 * Yield `maxTokens` new token ids, one at a time as they are produced, continuing `prompt` (token ids, at
 * least one). The model runs in eval mode without recording gradients. The generator's return value is the
 * state after the prompt and every yielded token but the last (continue with `prompt = [last]`).
 *
 * @example
 * for (const id of sl.generate(model, tok.encode('ROMEO:'), { maxTokens: 100, temperature: 0.8, topK: 20 })) {
 *   process.stdout.write(tok.decode([id]));
 * }
 */
/** The longest context a model can hold (its config's `blockSize`, e.g. the transformer's), or Infinity. */
export function contextLimit(model: LanguageModel): number {
  const b = model.config['blockSize'];
  return typeof b === 'number' && Number.isInteger(b) && b > 0 ? b : Infinity;
}

export function* generate(model: LanguageModel, prompt: ArrayLike<number>, opts: GenerateOptions): Generator<number, StateTree, void> {
  checkSampling(opts);
  if (!(Number.isInteger(opts.maxTokens) && opts.maxTokens >= 0)) throw new ConfigError({ op: 'generate', expected: 'maxTokens an integer ≥ 0', got: String(opts.maxTokens) });
  if (prompt.length === 0) {
    throw new ConfigError({ op: 'generate', expected: 'a prompt of at least one token', got: 'an empty prompt', hint: "start from a newline, as nanoGPT does: tokenizer.encode('\\n')" });
  }
  const rng = opts.generator ?? new Rng(opts.seed ?? 0);
  const limit = contextLimit(model);
  // Only a model with a finite context needs the recent tokens (to rebuild its state when the context fills).
  const recent: number[] = Number.isFinite(limit) ? Array.from(prompt as ArrayLike<number>).slice(-limit) : [];
  const read = (ids: number[], state: StateTree | null): { last: Float32Array; state: StateTree } => {
    const r = noGrad(() => model.forward([ids], state));
    const V = r.logits.shape[2]!;
    return { last: r.logits.data.slice((ids.length - 1) * V, ids.length * V), state: r.state };
  };
  const wasTraining = model.training;
  model.eval();
  let session: StreamSession | null = null;
  try {
    let { last, state } = read(Number.isFinite(limit) ? recent : Array.from(prompt as ArrayLike<number>), opts.state ?? null);
    // The stream's state stays put in a session (advanced in place where the model can, session.ts).
    const stream = (session = new StreamSession(model, { state }));
    let inContext = Math.min(prompt.length, limit);
    for (let i = 0; i < opts.maxTokens; i++) {
      const id = sampleLogits(last, opts, rng);
      yield id;
      if (i === opts.maxTokens - 1) break;
      if (inContext >= limit) {
        // The context is full (a transformer's learned positions end at blockSize): start a new state from the
        // last half of it, as nanoGPT crops its context — the only case where tokens are read again.
        recent.push(id);
        recent.splice(0, recent.length - Math.max(1, Math.floor(limit / 2)));
        ({ last, state } = read(recent, null));
        stream.reset(state);
        inContext = recent.length;
        continue;
      }
      last = noGrad(() => stream.step([id])).data;
      inContext++;
      if (Number.isFinite(limit)) {
        recent.push(id);
        if (recent.length > limit) recent.shift();
      }
    }
    return stream.state;
  } finally {
    // Also when the caller stops early (break or return on the iterator): the KV memory is freed now.
    session?.dispose();
    model.train(wasTraining);
  }
}
