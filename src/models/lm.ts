/**
 * The contract every language-model family implements (RecurrentLM, and later Mamba, RWKV, GPT), so the
 * Trainer, the sampler, the CLI and `seqlab compare` treat them all alike with no special cases.
 *
 * Tokens are batch-first [n, t] integers. The state is a plain record of tensors owned by the caller:
 * `forward(tokens, state)` continues from it, `step` consumes one token per stream.
 */
import type { Module } from '../nn/module.js';
import type { Tensor } from '../tensor/tensor.js';
import type { StateTree } from './state-tree.js';

export type TokenBatch = Tensor | Int32Array | readonly (readonly number[])[];

/**
 * The streaming contract of every model with a state (the language models, SequenceRegressor): a typed
 * state record allocated once per stream and advanced one step at a time; `step` over a sequence equals
 * `forward` over it.
 */
export interface Streaming<S extends StateTree, X, Out> {
  initState(batch?: number): S;
  /** Bytes of state for `batch` streams after `tokensSeen` steps (constant for recurrent families). */
  stateBytes(batch?: number, tokensSeen?: number): number;
  /** One step per stream, from `state` to the returned state. */
  step(x: X, state: S): Out & { state: S };
}

export interface LanguageModel<S extends StateTree = StateTree>
  extends Module, Streaming<S, Tensor | Int32Array | readonly number[], { logits: Tensor }> {
  /** Registry name of the family, e.g. 'lstm', 'gru', 'rnn', 'mamba', 'rwkv7', 'gpt'. */
  readonly family: string;
  readonly vocabSize: number;
  /** JSON-serialisable options that rebuild this model with `createModel(family, config)`. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Whole sequences: tokens [n, t] → logits [n, t, vocabSize] and the state after the last token. */
  forward(tokens: TokenBatch, state?: S | null): { logits: Tensor; state: S };
  /** One token per stream: tokens [n] → logits [n, vocabSize]. Equal to `forward` over the same tokens. */
  step(tokens: Tensor | Int32Array | readonly number[], state: S): { logits: Tensor; state: S };
  initState(batch?: number): S;
  /**
   * One token per stream that overwrites `state` in place and returns the logits — no new state is allocated
   * (StreamSession keeps its state this way). Returns null, leaving `state` untouched, where the model cannot
   * (recording on, float64, a KV cache that has to grow); use `step` then. With `out` (float32 [n, vocabSize])
   * the logits are written into it and `out` is returned, so that a streamed token allocates nothing.
   */
  stepInPlace?(tokens: Tensor | Int32Array | readonly number[], state: S, out?: Tensor): Tensor | null;
  /**
   * Free now the wasm memory `stepInPlace` gave `state` beyond its own tensors (the GPT's KV slabs), for a
   * caller that will not use the state again (StreamSession on `reset` and `dispose`); otherwise it is freed
   * when the state is garbage-collected.
   */
  releaseState?(state: S): void;
  /** Bytes of state for `batch` streams after `tokensSeen` tokens (constant for recurrent families). */
  stateBytes(batch?: number, tokensSeen?: number): number;
}

export interface FamilySpec {
  /** Human name for tables, e.g. 'LSTM'. */
  title: string;
  /** Build from a config read from untrusted input (CLI, checkpoint metadata): each family parses it. */
  create(config: unknown): LanguageModel;
  /** Build from a checkpoint's tensors (official key names), inferring the config from shapes; `config` overrides. */
  fromStateDict(dict: Record<string, Tensor>, config?: unknown): LanguageModel;
  /** A config of roughly `params` parameters for a vocabulary, used by `seqlab compare` for equal budgets. */
  configForBudget(vocabSize: number, params: number): Record<string, unknown>;
  /**
   * The parameters `create(config)` would allocate, computed without allocating: a checkpoint's config is
   * checked against the weights it carries before the model is built (an edited width cannot allocate GBs).
   */
  parameterCount(config: unknown): number;
}
