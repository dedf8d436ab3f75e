/**
 * What RNN, LSTM and GRU share: options, PyTorch's parameters and init, stacking layers, both directions,
 * dropout between layers, batch-first layouts, variable lengths, and the streaming contract. The equations
 * are not here: each direction of each layer is one fused op (src/ops/recurrent.ts) over the whole sequence.
 *
 * Bidirectional layers are a `bidirectional: true` option, as in PyTorch, rather than a wrapper module:
 * the reverse direction's weights live in the same module under `_reverse` names, so PyTorch state dicts
 * load as they are.
 */
import type { RecurrentKind, RecurrentStepShape, RecurrentWeights } from '../../kernels/index.js';
import { Module, parameter } from '../../nn/module.js';
import { uniform_ } from '../../nn/init.js';
import { concat, dropout, narrow, permute, reshape, stack } from '../../ops/index.js';
import { isGradEnabled } from '../../autograd/tape.js';
import { recurrentLayer, recurrentStepInto, type RecurrentLayerWeights } from '../../ops/recurrent.js';
import { zeros } from '../../tensor/creation.js';
import { ConfigError, ShapeError, fmtShape } from '../../tensor/errors.js';
import { Tensor, allocFloat, type FloatArray } from '../../tensor/tensor.js';
import { paramSuffix, stackParamShapes, type StackDims } from './weights.js';

export interface RecurrentOptions {
  inputSize: number;
  hiddenSize: number;
  numLayers?: number;
  bias?: boolean;
  /** Input and output are [n, t, features] instead of [t, n, features]. States stay [L·D, n, h]. */
  batchFirst?: boolean;
  /** Dropout on the outputs of every layer but the last (training only), as PyTorch. */
  dropout?: number;
  bidirectional?: boolean;
}

export interface ForwardOptions {
  /**
   * True lengths of right-padded sequences (any order). Outputs past a sequence's end are zero and the
   * returned state holds each sequence's last valid step, as PyTorch's packed sequences and ONNX
   * sequence_lens. A length of 0 returns the initial state.
   */
  lengths?: readonly number[] | Int32Array;
}

/** What a streaming step reuses from token to token (RecurrentStack.stepPlan). */
interface StepPlan {
  readonly params: readonly Tensor[];
  readonly layers: readonly RecurrentLayerWeights[];
  /** Per layer: the step's shape (N set per call) and the weights' buffers (refreshed per call). */
  readonly shapes: RecurrentStepShape[];
  readonly bufs: RecurrentWeights[];
}

export interface StackState {
  h: Tensor;
  c?: Tensor;
}

/** t is [a, b, c]. */
function sameDims(t: Tensor | undefined, a: number, b: number, c: number): boolean {
  return t !== undefined && t.shape.length === 3 && t.shape[0] === a && t.shape[1] === b && t.shape[2] === c;
}

function positiveInt(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new ConfigError({ op, expected: `${name} to be a positive integer`, got: String(v) });
}

export abstract class RecurrentStack<S extends StackState> extends Module {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  protected readonly dims: StackDims;
  /** Lower-case family name used in messages, e.g. 'lstm'. */
  protected abstract readonly family: string;
  /** Which fused cell each layer direction runs. */
  protected abstract readonly kind: RecurrentKind;

  constructor(opts: RecurrentOptions, gates: number, projSize = 0, family = 'rnn') {
    super();
    const op = `${family}.constructor`;
    positiveInt(op, 'inputSize', opts.inputSize);
    positiveInt(op, 'hiddenSize', opts.hiddenSize);
    this.numLayers = opts.numLayers ?? 1;
    positiveInt(op, 'numLayers', this.numLayers);
    this.dropout = opts.dropout ?? 0;
    if (!(this.dropout >= 0 && this.dropout <= 1)) throw new ConfigError({ op, expected: 'dropout in [0, 1]', got: String(this.dropout) });
    if (!Number.isInteger(projSize) || projSize < 0 || (projSize > 0 && projSize >= opts.hiddenSize)) {
      throw new ConfigError({ op, expected: `projSize an integer in [0, hiddenSize=${opts.hiddenSize})`, got: String(projSize) });
    }
    this.inputSize = opts.inputSize;
    this.hiddenSize = opts.hiddenSize;
    this.bias = opts.bias ?? true;
    this.batchFirst = opts.batchFirst ?? false;
    this.bidirectional = opts.bidirectional ?? false;
    this.dims = {
      gates, inputSize: opts.inputSize, hiddenSize: opts.hiddenSize, outSize: projSize || opts.hiddenSize,
      numLayers: this.numLayers, directions: this.bidirectional ? 2 : 1, bias: this.bias, proj: projSize > 0,
    };
    // PyTorch's default init: every parameter ~ U(−1/√H, 1/√H).
    const k = 1 / Math.sqrt(opts.hiddenSize);
    for (const [name, shape] of stackParamShapes(this.dims)) {
      this.registerParameter(name, uniform_(parameter(zeros(shape)), -k, k));
    }
  }

  /** Output width of h per direction (projSize when set). */
  get outSize(): number {
    return this.dims.outSize;
  }

  protected param(name: string): Tensor {
    return this.stateDictLive()[name]!;
  }

  /** The weights of layer l, direction d, in the form the fused op takes. */
  private layerWeights(l: number, d: number): RecurrentLayerWeights {
    const s = paramSuffix(l, d);
    return {
      wih: this.param(`weight_ih${s}`), whh: this.param(`weight_hh${s}`),
      bih: this.bias ? this.param(`bias_ih${s}`) : null, bhh: this.bias ? this.param(`bias_hh${s}`) : null,
      whr: this.dims.proj ? this.param(`weight_hr${s}`) : null,
    };
  }

  private live: Record<string, Tensor> | null = null;
  private stateDictLive(): Record<string, Tensor> {
    this.live ??= Object.fromEntries(this.namedParameters());
    return this.live;
  }

  /** Shapes of the state tensors for batch n. */
  protected stateShapes(n: number): { h: number[]; c?: number[] } {
    const ld = this.numLayers * this.dims.directions;
    return this.kind === 'lstm' ? { h: [ld, n, this.outSize], c: [ld, n, this.hiddenSize] } : { h: [ld, n, this.outSize] };
  }

  /** A zero state for `batch` streams. */
  initState(batch = 1): S {
    positiveInt(`${this.family}.initState`, 'batch', batch);
    const s = this.stateShapes(batch);
    return this.toState(zeros(s.h), s.c ? zeros(s.c) : null);
  }

  /** The family's state record: `{ h }`, or `{ h, c }` for an LSTM (the one place the generic S is built). */
  private toState(h: Tensor, c: Tensor | null): S {
    return (c ? { h, c } : { h }) as StackState as S;
  }

  /** Bytes of state per batch of streams: constant, whatever the number of tokens seen. */
  stateBytes(batch = 1): number {
    const s = this.stateShapes(batch);
    const n = (a: number[]) => a.reduce((p, q) => p * q, 1);
    return 4 * (n(s.h) + (s.c ? n(s.c) : 0));
  }

  private checkState(op: string, state: StackState, n: number): void {
    // Called on every streaming step: plain comparisons first; the shapes for the message only on failure.
    const ld = this.numLayers * this.dims.directions;
    if (sameDims(state.h, ld, n, this.outSize) && (this.kind !== 'lstm' || sameDims(state.c, ld, n, this.hiddenSize))) return;
    const want = this.stateShapes(n);
    for (const [name, t, shape] of [['h', state.h, want.h], ['c', state.c, want.c]] as const) {
      if (shape === undefined) continue;
      if (t === undefined) {
        throw new ShapeError({ op, expected: `state.${name} of shape ${fmtShape(shape)} [L·D, N, H]`, got: 'no tensor' });
      }
      if (t.shape.length !== 3 || t.shape.some((d, i) => d !== shape[i])) {
        throw new ShapeError({
          op, expected: `state.${name} of shape ${fmtShape(shape)} [L·D, N, H] (numLayers=${this.numLayers}, directions=${this.dims.directions}, batch=${n})`,
          got: fmtShape(t.shape),
        });
      }
    }
  }

  /**
   * Run the whole sequence. `input` is [t, n, inputSize] ([n, t, inputSize] with batchFirst); `output` is
   * [t, n, D·outSize] (or batch-first); `state` is the final state, layer-major, as PyTorch's (h_n, c_n).
   * Passing a returned state continues the sequence (truncated BPTT; gradients flow into the earlier chunk
   * unless you `detachState` it).
   */
  forward(input: Tensor, state?: S | null, opts: ForwardOptions = {}): { output: Tensor; state: S } {
    const op = `${this.family}.forward`;
    if (input.ndim !== 3 || input.shape[2] !== this.inputSize) {
      const layout = this.batchFirst ? 'n, t' : 't, n';
      throw new ShapeError({
        op, expected: `input [${layout}, ${this.inputSize}] (inputSize=${this.inputSize}, batchFirst=${this.batchFirst})`,
        got: fmtShape(input.shape),
        ...(input.ndim === 2 ? { hint: 'for one timestep use step(x, state); for one sequence add a batch dim of 1' } : {}),
      });
    }
    const x0 = this.batchFirst ? permute(input, [1, 0, 2]) : input;
    const [T, N] = [x0.shape[0]!, x0.shape[1]!];
    const lengths = opts.lengths === undefined ? null : this.checkLengths(op, opts.lengths, T, N);
    const st = state ?? this.initState(N);
    this.checkState(op, st, N);

    const D = this.dims.directions;
    const hs: Tensor[] = [], cs: Tensor[] = [];
    let x = x0;
    for (let l = 0; l < this.numLayers; l++) {
      const ys: Tensor[] = [];
      for (let d = 0; d < D; d++) {
        const idx = l * D + d;
        const h0 = reshape(narrow(st.h, 0, idx, 1), [N, this.outSize]);
        const c0 = st.c ? reshape(narrow(st.c, 0, idx, 1), [N, this.hiddenSize]) : null;
        const r = recurrentLayer(this.kind, x, this.layerWeights(l, d), h0, c0, { reverse: d === 1, lengths });
        ys.push(r.y);
        hs.push(r.hn);
        if (r.cn) cs.push(r.cn);
      }
      x = D === 2 ? concat(ys, 2) : ys[0]!;
      if (l < this.numLayers - 1 && this.dropout > 0) x = dropout(x, this.dropout, this.training);
    }
    const output = this.batchFirst ? permute(x, [1, 0, 2]) : x;
    return { output, state: this.toState(stack(hs, 0), cs.length ? stack(cs, 0) : null) };
  }

  private checkLengths(op: string, lengths: readonly number[] | Int32Array, T: number, N: number): Int32Array {
    if (lengths.length !== N) {
      throw new ShapeError({ op, expected: `lengths with one entry per sequence (${N})`, got: `${lengths.length} entries` });
    }
    const out = new Int32Array(N);
    for (let i = 0; i < N; i++) {
      const v = lengths[i]!;
      if (!Number.isInteger(v) || v < 0 || v > T) {
        throw new ShapeError({ op, expected: `lengths that are integers in [0, ${T}] (the padded length)`, got: `${v} at position ${i}` });
      }
      out[i] = v;
    }
    return out;
  }

  /**
   * One timestep for `n` streams: x is [n, inputSize]; returns output [n, outSize] and the new state.
   * Equal to `forward` over the same sequence. State is O(1) in the number of tokens seen.
   */
  step(x: Tensor, state?: S | null): { output: Tensor; state: S } {
    this.checkStepInput(this.opName('step'), x);
    const n = x.shape[0]!;
    const st = state ?? this.initState(n);
    if (this.canStepInPlace(x, st)) return this.stepFresh(x, st);
    const r = this.forward(reshape(x, this.batchFirst ? [n, 1, this.inputSize] : [1, n, this.inputSize]), state);
    return { output: reshape(r.output, [n, this.outSize]), state: r.state };
  }

  /** `family.method` for messages, made once per method: a template string per token is a streamed step's garbage. */
  private readonly opNames = new Map<string, string>();
  private opName(method: 'step' | 'stepInPlace'): string {
    let name = this.opNames.get(method);
    if (name === undefined) this.opNames.set(method, (name = `${this.family}.${method}`));
    return name;
  }

  private checkStepInput(op: string, x: Tensor): void {
    if (this.bidirectional) {
      throw new ConfigError({
        op, expected: 'a unidirectional model',
        got: 'bidirectional: true',
        hint: 'a bidirectional model needs the whole sequence (its reverse direction starts at the end), so it can neither stream nor generate; use forward() on complete sequences',
      });
    }
    if (x.ndim !== 2 || x.shape[1] !== this.inputSize) {
      throw new ShapeError({ op, expected: `x [n, ${this.inputSize}] (one timestep)`, got: fmtShape(x.shape) });
    }
  }

  /**
   * Streaming fast path: with nothing to record (no grad mode, or nothing requires grad), no dropout to
   * apply and one dtype throughout, a step is one kernel call per layer on the state buffers — no tape
   * and no intermediate tensors. Same arithmetic as `forward`, so the results are identical.
   */
  private canStepInPlace(x: Tensor, st: S): boolean {
    this.checkState(this.opName('step'), st, x.shape[0]!);
    if (this.training && this.dropout > 0 && this.numLayers > 1) return false;
    const dtype = x.dtype, grad = isGradEnabled();
    if (st.h.dtype !== dtype || (st.c !== undefined && st.c.dtype !== dtype)) return false;
    if (grad && (x.requiresGrad || st.h.requiresGrad || st.c?.requiresGrad === true)) return false;
    for (const p of this.stepPlan().params) if (p.dtype !== dtype || (grad && p.requiresGrad)) return false;
    return true;
  }

  /**
   * The parameters and each layer's weights, looked up again only when the module's parameter list changes
   * (Module.parameterList, a cached list: loading weights copies into the same tensors); with each layer's
   * step shape and weight buffers, records the step updates in place instead of making new ones per token.
   */
  private plan: StepPlan | null = null;
  private stepPlan(): StepPlan {
    const params = this.parameterList();
    if (this.plan?.params !== params) {
      const layers = Array.from({ length: this.numLayers }, (_, l) => this.layerWeights(l, 0));
      this.plan = {
        params, layers,
        shapes: layers.map((_, l) => ({ kind: this.kind, N: 0, I: l === 0 ? this.inputSize : this.outSize, H: this.hiddenSize, P: this.outSize })),
        bufs: layers.map((w) => ({ wih: w.wih.buf, whh: w.whh.buf, bih: null, bhh: null, whr: null })),
      };
    }
    return this.plan;
  }

  private stepFresh(x: Tensor, st: S): { output: Tensor; state: S } {
    const n = x.shape[0]!, P = this.outSize, H = this.hiddenSize, L = this.numLayers, ld = L * this.dims.directions;
    const h = allocFloat(x.dtype, L * n * P), c = st.c ? allocFloat(x.dtype, L * n * H) : null;
    h.set(st.h.buf);
    if (c) c.set(st.c!.buf);
    const y = this.advance(x, h, c);
    return { output: new Tensor(y, [n, P]), state: this.toState(new Tensor(h, [ld, n, P]), c ? new Tensor(c, [ld, n, H]) : null) };
  }

  /**
   * `step` that overwrites `state` in place and returns the output [n, outSize], written into `out` when given:
   * nothing is allocated per token (StreamSession advances its own copy this way). Null, leaving `state` as
   * it was, where the step has to be recorded or cannot run in place (see canStepInPlace); use `step` then.
   */
  stepInPlace(x: Tensor, state: S, out?: Tensor): Tensor | null {
    const op = this.opName('stepInPlace'), n = x.shape[0]!;
    this.checkStepInput(op, x);
    if (out !== undefined && (out.dtype !== x.dtype || out.ndim !== 2 || out.shape[0] !== n || out.shape[1] !== this.outSize)) {
      throw new ShapeError({ op, expected: `out: a ${x.dtype} tensor [${n}, ${this.outSize}]`, got: `${out.dtype} ${fmtShape(out.shape)}` });
    }
    if (!this.canStepInPlace(x, state)) return null;
    const y = this.advance(x, state.h.buf, state.c?.buf ?? null, out?.buf);
    return out ?? new Tensor(y, [n, this.outSize]);
  }

  /** Every layer on one token, the states h [L, n, P] and c [L, n, H] advanced in place; returns the last layer's y. */
  private advance(x: Tensor, h: FloatArray, c: FloatArray | null, out?: FloatArray): FloatArray {
    const n = x.shape[0]!, P = this.outSize, H = this.hiddenSize, L = this.numLayers, plan = this.stepPlan();
    let input = x.buf;
    for (let l = 0; l < L; l++) {
      // Only the last layer's output leaves; the ones between layers go through one reused buffer per parity.
      const y = l === L - 1 ? out ?? allocFloat(x.dtype, n * P) : this.between(l & 1, x.dtype, n * P);
      const s = plan.shapes[l]!, w = plan.bufs[l]!, t = plan.layers[l]!;
      s.N = n;
      // The tensors' current buffers, assigned rather than rebuilt (a tensor's buffer may be replaced).
      w.wih = t.wih.buf; w.whh = t.whh.buf; w.bih = t.bih?.buf ?? null; w.bhh = t.bhh?.buf ?? null; w.whr = t.whr?.buf ?? null;
      // Layer l's rows of the [L, n, ·] states, as offsets (no views).
      recurrentStepInto(s, input, w, h, l * n * P, c, l * n * H, y);
      input = y;
    }
    return input;
  }

  private readonly betweenBufs: (FloatArray | null)[] = [null, null];
  private between(parity: number, dtype: Tensor['dtype'], n: number): FloatArray {
    const b = this.betweenBufs[parity];
    if (b && b.length === n && (b instanceof Float64Array) === (dtype === 'float64')) return b;
    return (this.betweenBufs[parity] = allocFloat(dtype, n));
  }

  override toString(): string {
    const extra = [
      this.numLayers > 1 ? `numLayers=${this.numLayers}` : '', this.bidirectional ? 'bidirectional' : '',
      this.batchFirst ? 'batchFirst' : '', this.dropout ? `dropout=${this.dropout}` : '', this.bias ? '' : 'bias=false',
      this.dims.proj ? `projSize=${this.outSize}` : '',
    ].filter(Boolean);
    return `${this.constructor.name}(${this.inputSize}, ${this.hiddenSize}${extra.length ? ', ' + extra.join(', ') : ''})`;
  }
}
