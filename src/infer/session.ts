/**
 * A stream whose state stays put. `model.step` returns a new state every token (a value the caller owns, so
 * a prefix can be continued several ways); a session instead keeps one state, in wasm memory where the
 * backend keeps parameters, and advances it in place with the model's fused step (`stepInPlace`): no state
 * is allocated per token and the kernels read and write it where it lies. The state leaves the session only
 * as a copy (`state`), and a state handed in is copied (`reset`), so nobody can observe or disturb the
 * session's own buffers. The GPT's KV cache grows in place in slabs the session owns. Models without an
 * in-place step (any model while gradients are recorded) are stepped through `step` instead, with the same
 * results.
 *
 * Wasm memory is invisible to V8's garbage collector, so a process whose JS heap stays small may not collect
 * dropped states for a long time: a session frees its state's wasm memory itself, when `reset` replaces the
 * state and on `dispose` (call it when a stream ends, e.g. a closed connection of a server).
 *
 * @example
 * const s = new sl.StreamSession(model, { batch: 1 });
 * for (const id of prompt) logits = s.step([id]);
 * const saved = sl.serializeState(s.state);      // a copy
 */
import { releaseArray, residentArray } from '../ops/step.js';
import { ConfigError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { LanguageModel } from '../models/lm.js';
import type { StateTree } from './state.js';

/** A copy of a state tree; float32 leaves go into resident storage when `resident` (each listed in `made`). */
function copyState<S extends StateTree>(t: S, resident: boolean, made: Float32Array[] = []): S {
  const copy = (x: unknown): unknown => {
    if (x instanceof Tensor) {
      if (!resident || x.dtype !== 'float32') return new Tensor(x.buf.slice(), x.shape);
      const buf = residentArray(x.size);
      buf.set(x.buf);
      made.push(buf);
      return new Tensor(buf, x.shape);
    }
    if (Array.isArray(x)) return x.map(copy);
    return Object.fromEntries(Object.entries(x as Record<string, unknown>).map(([k, v]) => [k, copy(v)]));
  };
  return copy(t) as S;
}

export interface StreamSessionOptions<S> {
  /** Streams of the initial state when no `state` is given (default 1). */
  batch?: number;
  /** Start from this state (copied); default `model.initState(batch)`. */
  state?: S;
  /**
   * Return the same logits tensor [batch, vocabSize] from every `step`, overwritten by the next one (default
   * false: a new tensor per step, which the caller owns). With it a streamed token allocates nothing in
   * JavaScript where the model steps in place; copy (`logits.clone()`) what must outlive the next step.
   */
  reuseLogits?: boolean;
}

export class StreamSession<S extends StateTree = StateTree> {
  private s: S;
  private readonly batch: number;
  /** The logits every step writes into (`reuseLogits`), else null. */
  private readonly out: Tensor | null;
  /** The resident arrays of the state's copy (only the session sees them, so it may free them). */
  private made: Float32Array[] = [];
  private disposed = false;

  constructor(readonly model: LanguageModel<S>, opts: StreamSessionOptions<S> = {}) {
    this.batch = opts.batch ?? 1;
    if (!Number.isInteger(this.batch) || this.batch < 1) {
      throw new ConfigError({ op: 'StreamSession', expected: 'batch to be a positive integer', got: String(opts.batch) });
    }
    this.s = copyState(opts.state ?? model.initState(this.batch), true, this.made);
    this.out = opts.reuseLogits ? new Tensor(new Float32Array(this.batch * model.vocabSize), [this.batch, model.vocabSize]) : null;
  }

  /**
   * One token per stream (tokens [batch]) → logits [batch, vocabSize]; the session's state advances in place.
   * With `reuseLogits` the same tensor is returned every time.
   */
  step(tokens: Tensor | Int32Array | readonly number[]): Tensor {
    this.checkOpen('step');
    const out = this.out ?? undefined;
    let logits = this.model.stepInPlace?.(tokens, this.s, out) ?? null;
    if (logits === null) {
      const r = this.model.step(tokens, this.s);
      this.s = r.state;
      logits = r.logits;
    }
    // A model that does not write into `out` (its stepInPlace ignores it, or it stepped by value): copied.
    if (this.out === null || logits === this.out || logits.dtype !== 'float32') return logits;
    this.out.buf.set(logits.buf);
    return this.out;
  }

  /** A copy of the current state: a value the caller owns (serialize it, continue it with `model.step`, …). */
  get state(): S {
    this.checkOpen('state');
    return copyState(this.s, false);
  }

  /** Continue from `state` (copied) instead, e.g. one deserialized from bytes. The old state's memory is freed. */
  reset(state: S = this.model.initState(this.batch)): void {
    this.checkOpen('reset');
    const made: Float32Array[] = [];
    const next = copyState(state, true, made);
    this.release();
    this.s = next;
    this.made = made;
  }

  /**
   * End the stream: free the state's wasm memory now rather than at some later garbage collection. The
   * session cannot be used afterwards (`state` read before is a copy and stays valid). Idempotent.
   */
  dispose(): void {
    if (this.disposed) return;
    this.release();
    this.disposed = true;
  }

  private release(): void {
    this.model.releaseState?.(this.s);
    for (const a of this.made) releaseArray(a);
    this.made = [];
  }

  private checkOpen(op: string): void {
    if (this.disposed) throw new ConfigError({ op: `StreamSession.${op}`, expected: 'a session that is not disposed', got: 'a disposed session', hint: 'create a new StreamSession' });
  }
}
