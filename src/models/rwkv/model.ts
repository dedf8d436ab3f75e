/**
 * The RWKV language model, versions 6 ("Finch", x060) and 7 ("Goose", x070) as one class with `version` as an
 * option, following the official GPT-mode code (BlinkDL/RWKV-LM RWKV-v5/rwkv_v6_demo.py, RWKV-v7/rwkv_v7_demo.py):
 *
 *   x = ln0(emb[tokens]);   per block: x = x + att(ln1(x));  x = x + ffn(ln2(x));   logits = head(ln_out(x))
 *
 * `forward` runs whole chunks in parallel over the batch and in one fused WKV call per block; `step` is the
 * same code on one token. The state (state.ts) carries everything between chunks, so a sequence fed in
 * chunks, or token by token, gives the same logits as one pass. Mixer equations: mixer.ts; checkpoint keys:
 * weights.ts; initialisation and every convention decision: README.md.
 */
import { Module, parameter } from '../../nn/module.js';
import { ModuleList } from '../../nn/module-list.js';
import { Embedding, Linear } from '../../nn/layers.js';
import { LayerNorm } from '../../nn/norm.js';
import { GroupNorm } from '../../nn/group-norm.js';
import { orthogonal_, uniform_ } from '../../nn/init.js';
import { add, reshape } from '../../ops/index.js';
import { zeros } from '../../tensor/creation.js';
import { ShapeError, WeightImportError } from '../../tensor/errors.js';
import { numel } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { configObject } from '../config.js';
import type { FamilySpec, LanguageModel, TokenBatch } from '../lm.js';
import { readTokens } from '../recurrent/lm.js';
import {
  canFuseStep, sized, checkLogitsOut, StepBuffers, stepKernels, type HeadNorm, type LnPair, type Rwkv6StepShape, type Rwkv6StepWeights,
  type Rwkv7StepShape, type Rwkv7StepWeights,
} from '../../ops/step.js';
import {
  channelMix6, channelMix7, timeMix6, timeMix7, type ChannelMix6Weights, type ChannelMix7Weights, type TimeMix6Weights, type TimeMix7Weights,
} from './mixer.js';
import {
  checkRWKVState, initRWKVState, rwkvStateBytes, rwkvStateFromTimeState, rwkvTimeStateDict, type RWKVLayerState, type RWKVState,
} from './state.js';
import { parsePartialRWKVConfig, parseRWKVConfig, resolveRWKVConfig, type RWKVConfig, type RWKVVersion, type ResolvedRWKVConfig } from './config.js';
import { channelMixShapes, detectRWKVVersion, inferRWKVConfig, rwkvParameterShapes, timeMixShapes, toModelShapes } from './weights.js';

export { parseRWKVConfig, resolveRWKVConfig, rwkvDefaults, type RWKVConfig, type RWKVVersion, type ResolvedRWKVConfig } from './config.js';

type Shapes = [string, number[]][];

/**
 * A time-mix or channel-mix: owns the tensors named in its weights.ts table — plain parameters under their
 * official names, `*.weight` entries as bias-free Linear children, `ln_x` as a GroupNorm (one group per head).
 */
class Mixer extends Module {
  /** Every tensor by local name: 'x_r', 'time_maa_w1', …, 'receptance' (a Linear's weight), 'ln_x.weight'. */
  readonly t: Record<string, Tensor> = {};

  constructor(shapes: Shapes, nh: number) {
    super();
    for (const [name, shape] of shapes) {
      const [mod, leaf] = name.split('.') as [string, string | undefined];
      if (leaf === undefined) {
        this.t[name] = this.registerParameter(name, parameter(zeros(shape)));
      } else if (mod === 'ln_x') {
        if (leaf === 'weight') {
          const gn = this.registerModule('ln_x', new GroupNorm({ numGroups: nh, numChannels: shape[0]!, eps: 64e-5 }));
          this.t['ln_x.weight'] = gn.weight!;
          this.t['ln_x.bias'] = gn.bias!;
        }
      } else {
        this.t[mod] = this.registerModule(mod, new Linear({ inFeatures: shape[1]!, outFeatures: shape[0]!, bias: false })).weight;
      }
    }
  }

  private get lnX() { return { weight: this.get('ln_x.weight'), bias: this.get('ln_x.bias') }; }
  timeMix6(): TimeMix6Weights { return { ...this.pick(TIME_MIX6), ln_x: this.lnX }; }
  timeMix7(): TimeMix7Weights {
    return { ...this.pick(TIME_MIX7), v0: this.t['v0'] ?? null, v1: this.t['v1'] ?? null, v2: this.t['v2'] ?? null, ln_x: this.lnX };
  }
  channelMix6(): ChannelMix6Weights { return this.pick(CHANNEL_MIX6); }
  channelMix7(): ChannelMix7Weights { return this.pick(CHANNEL_MIX7); }

  private get(name: string): Tensor {
    const v = this.t[name];
    if (v === undefined) throw new Error(`RWKV: the mixer has no tensor '${name}' (its shapes table and the mixer's weights disagree)`);
    return v;
  }

  /** The named tensors as a typed record; the return types above make each list complete. */
  private pick<K extends string>(names: readonly K[]): Record<K, Tensor> {
    const out: Partial<Record<K, Tensor>> = {};
    for (const k of names) out[k] = this.get(k);
    return out as Record<K, Tensor>; // every name was set just above
  }
}

// The tensors each mixer function reads, by their official names (ln_x and RWKV-7's optional v0–v2 apart).
const TIME_MIX6 = [
  'time_maa_x', 'time_maa_w', 'time_maa_k', 'time_maa_v', 'time_maa_r', 'time_maa_g', 'time_maa_w1', 'time_maa_w2',
  'time_decay', 'time_decay_w1', 'time_decay_w2', 'time_faaaa', 'receptance', 'key', 'value', 'gate', 'output',
] as const satisfies readonly (keyof TimeMix6Weights)[];
const TIME_MIX7 = [
  'x_r', 'x_w', 'x_k', 'x_v', 'x_a', 'x_g', 'w0', 'w1', 'w2', 'a0', 'a1', 'a2', 'g1', 'g2', 'k_k', 'k_a', 'r_k',
  'receptance', 'key', 'value', 'output',
] as const satisfies readonly (keyof TimeMix7Weights)[];
const CHANNEL_MIX6 = ['time_maa_k', 'time_maa_r', 'key', 'receptance', 'value'] as const satisfies readonly (keyof ChannelMix6Weights)[];
const CHANNEL_MIX7 = ['x_k', 'key', 'value'] as const satisfies readonly (keyof ChannelMix7Weights)[];

/** One layer's state buffers as the fused step kernels update them. */
type FusedState = { attXPrev: Float32Array; wkv: Float32Array; ffnXPrev: Float32Array };
const EMPTY = new Float32Array(0);

/** One block: x = x + att(ln1(x)); x = x + ffn(ln2(x)), with ln0 applied first in block 0. */
class RWKVBlock extends Module {
  readonly ln1: LayerNorm;
  readonly ln2: LayerNorm;
  readonly ln0: LayerNorm | null;
  readonly att: Mixer;
  readonly ffn: Mixer;

  constructor(private readonly c: ResolvedRWKVConfig, readonly layer: number) {
    super();
    const ln = () => new LayerNorm({ normalizedShape: c.dModel });
    this.ln1 = this.registerModule('ln1', ln());
    this.ln2 = this.registerModule('ln2', ln());
    this.ln0 = this.registerModule('ln0', layer === 0 ? ln() : null);
    this.att = this.registerModule('att', new Mixer(timeMixShapes(c, layer), c.dModel / c.headSize));
    this.ffn = this.registerModule('ffn', new Mixer(channelMixShapes(c), 0));
  }

  forward(x: Tensor, s: RWKVLayerState, vFirst: Tensor | null): { x: Tensor; state: RWKVLayerState; vFirst: Tensor | null } {
    const nh = this.c.dModel / this.c.headSize;
    if (this.ln0) x = this.ln0.forward(x);
    const mixState = { xPrev: s.attXPrev, wkv: s.wkv };
    const att = this.c.version === 6
      ? { ...timeMix6(this.ln1.forward(x), mixState, this.att.timeMix6(), nh), vFirst }
      : timeMix7(this.ln1.forward(x), mixState, vFirst, this.att.timeMix7(), nh);
    x = add(x, att.out);
    const ffn = this.c.version === 6
      ? channelMix6(this.ln2.forward(x), s.ffnXPrev, this.ffn.channelMix6())
      : channelMix7(this.ln2.forward(x), s.ffnXPrev, this.ffn.channelMix7());
    x = add(x, ffn.out);
    return { x, state: { attXPrev: att.state.xPrev, wkv: att.state.wkv, ffnXPrev: ffn.xPrev }, vFirst: att.vFirst };
  }

  /** The kernels' arguments, kept from token to token (fields refreshed per call: a step allocates nothing). */
  private args6: { s: Rwkv6StepShape; w: Rwkv6StepWeights } | null = null;
  private args7: { s: Rwkv7StepShape; w: Rwkv7StepWeights } | null = null;

  /** @internal One RWKV-6 token of this block with the fused kernel (kernels/step.ts): x [b, d] and the state in place. */
  fusedStep6(x: Float32Array, b: number, st: FusedState): void {
    const a = this.att.t, f = this.ffn.t;
    const args = this.args6 ??= this.init6();
    args.s.b = b;
    const w = args.w;
    refreshLn(w.ln0, this.ln0); refreshLn(w.ln1, this.ln1); refreshLn(w.ln2, this.ln2);
    refresh(w, a, TIME_MIX6);
    w.ln_x.weight = a['ln_x.weight']!.buf; w.ln_x.bias = a['ln_x.bias']!.buf;
    w.ffnMaaK = f['time_maa_k']!.buf; w.ffnMaaR = f['time_maa_r']!.buf; w.ffnKey = f['key']!.buf;
    w.ffnReceptance = f['receptance']!.buf; w.ffnValue = f['value']!.buf;
    stepKernels().rwkv6Step(args.s, w, x, st);
  }

  private init6(): { s: Rwkv6StepShape; w: Rwkv6StepWeights } {
    const c = this.c, a = this.att.t, f = this.ffn.t, d = c.dModel;
    const T = (k: string) => a[k]!.buf, F = (k: string) => f[k]!.buf;
    return {
      s: { b: 0, d, nh: d / c.headSize, hs: c.headSize, f: c.dimFfn, dm: a['time_maa_w2']!.shape[1]!, dw: a['time_decay_w1']!.shape[1]!, first: this.ln0 !== null },
      w: {
        ln0: this.ln0 ? lnPair(this.ln0) : null, ln1: lnPair(this.ln1), ln2: lnPair(this.ln2),
        time_maa_x: T('time_maa_x'), time_maa_w: T('time_maa_w'), time_maa_k: T('time_maa_k'), time_maa_v: T('time_maa_v'),
        time_maa_r: T('time_maa_r'), time_maa_g: T('time_maa_g'), time_maa_w1: T('time_maa_w1'), time_maa_w2: T('time_maa_w2'),
        time_decay: T('time_decay'), time_decay_w1: T('time_decay_w1'), time_decay_w2: T('time_decay_w2'), time_faaaa: T('time_faaaa'),
        receptance: T('receptance'), key: T('key'), value: T('value'), gate: T('gate'), output: T('output'),
        ln_x: { weight: T('ln_x.weight'), bias: T('ln_x.bias') },
        ffnMaaK: F('time_maa_k'), ffnMaaR: F('time_maa_r'), ffnKey: F('key'), ffnReceptance: F('receptance'), ffnValue: F('value'),
      },
    };
  }

  /** @internal One RWKV-7 token of this block with the fused kernel (kernels/step.ts): x [b, d] and the state in place. */
  fusedStep7(x: Float32Array, b: number, vFirst: Float32Array, st: FusedState): void {
    const a = this.att.t, f = this.ffn.t;
    const args = this.args7 ??= this.init7();
    args.s.b = b;
    const w = args.w;
    refreshLn(w.ln0, this.ln0); refreshLn(w.ln1, this.ln1); refreshLn(w.ln2, this.ln2);
    refresh(w, a, TIME_MIX7);
    w.v0 = a['v0']?.buf ?? null; w.v1 = a['v1']?.buf ?? null; w.v2 = a['v2']?.buf ?? null;
    w.ln_x.weight = a['ln_x.weight']!.buf; w.ln_x.bias = a['ln_x.bias']!.buf;
    w.ffnXk = f['x_k']!.buf; w.ffnKey = f['key']!.buf; w.ffnValue = f['value']!.buf;
    stepKernels().rwkv7Step(args.s, w, x, vFirst, st);
  }

  private init7(): { s: Rwkv7StepShape; w: Rwkv7StepWeights } {
    const c = this.c, a = this.att.t, f = this.ffn.t, d = c.dModel;
    const T = (k: string) => a[k]!.buf;
    const width = (k: string) => a[k]?.shape[1] ?? 0;
    return {
      s: {
        b: 0, d, nh: d / c.headSize, hs: c.headSize, f: c.dimFfn, dw: width('w1'), da: width('a1'), dv: width('v1'), dg: width('g1'),
        first: this.ln0 !== null,
      },
      w: {
        ln0: this.ln0 ? lnPair(this.ln0) : null, ln1: lnPair(this.ln1), ln2: lnPair(this.ln2),
        x_r: T('x_r'), x_w: T('x_w'), x_k: T('x_k'), x_v: T('x_v'), x_a: T('x_a'), x_g: T('x_g'),
        w0: T('w0'), w1: T('w1'), w2: T('w2'), a0: T('a0'), a1: T('a1'), a2: T('a2'),
        v0: a['v0']?.buf ?? null, v1: a['v1']?.buf ?? null, v2: a['v2']?.buf ?? null, g1: T('g1'), g2: T('g2'),
        k_k: T('k_k'), k_a: T('k_a'), r_k: T('r_k'), receptance: T('receptance'), key: T('key'), value: T('value'), output: T('output'),
        ln_x: { weight: T('ln_x.weight'), bias: T('ln_x.bias') }, ffnXk: f['x_k']!.buf, ffnKey: f['key']!.buf, ffnValue: f['value']!.buf,
      },
    };
  }
}

/** Copy the current buffers of the weights whose kernel name is their parameter name (a buffer may have been replaced). */
function refresh<W, K extends keyof W & string>(w: W, from: Record<string, Tensor>, keys: readonly K[]): void {
  for (let i = 0; i < keys.length; i++) w[keys[i]!] = from[keys[i]!]!.buf as W[K];
}

const lnPair = (m: LayerNorm): LnPair => ({ weight: m.weight!.buf, bias: m.bias!.buf });
function refreshLn(p: LnPair | null, m: LayerNorm | null): void {
  if (p === null || m === null) return;
  p.weight = m.weight!.buf;
  p.bias = m.bias!.buf;
}

export interface RWKVOptions {
  /** Run the official initialisation (default true). Loading weights skips it. */
  initialize?: boolean;
}

/**
 * RWKV-6 / RWKV-7 language model. Parameters carry the official checkpoint names (`emb.weight`,
 * `blocks.0.att.w0`, …), so `stateDict()` saves and `RWKV.fromStateDict` loads RWKV-LM checkpoints.
 *
 * @example
 * const m = new sl.models.RWKV({ version: 7, vocabSize: 256, dModel: 128, numLayers: 2, headSize: 32 });
 * let state = m.initState(1);
 * const { logits } = m.forward([[1, 2, 3]]);            // [1, 3, 256]
 * ({ state } = m.step([4], state));                     // one token, constant-size state
 */
export class RWKV extends Module implements LanguageModel<RWKVState> {
  readonly family: 'rwkv6' | 'rwkv7';
  readonly vocabSize: number;
  readonly config: Readonly<ResolvedRWKVConfig>;
  readonly emb: Embedding;
  readonly blocks: ModuleList<RWKVBlock>;
  readonly ln_out: LayerNorm;
  readonly head: Linear;

  constructor(config: RWKVConfig, opts: RWKVOptions = {}) {
    super();
    const c = resolveRWKVConfig(config);
    this.config = c;
    this.family = c.version === 6 ? 'rwkv6' : 'rwkv7';
    this.vocabSize = c.vocabSize;
    this.emb = this.registerModule('emb', new Embedding({ numEmbeddings: c.vocabSize, embeddingDim: c.dModel }));
    this.blocks = this.registerModule('blocks', new ModuleList(Array.from({ length: c.numLayers }, (_, i) => new RWKVBlock(c, i))));
    this.ln_out = this.registerModule('ln_out', new LayerNorm({ normalizedShape: c.dModel }));
    this.head = this.registerModule('head', new Linear({ inFeatures: c.dModel, outFeatures: c.vocabSize, bias: false }));
    if (opts.initialize ?? true) this.initialize();
  }

  initState(batch = 1): RWKVState {
    return initRWKVState(this.config, batch, this.emb.weight.dtype);
  }

  stateBytes(batch = 1): number {
    return rwkvStateBytes(this.config, batch);
  }

  /**
   * A state from an official state-tuning file (`blocks.{i}.att.time_state` [nh, hs, hs] per layer, as saved
   * by RWKV-PEFT and loaded by ChatRWKV and RWKV-Runner), repeated for `batch` streams.
   */
  stateFromTimeState(dict: Record<string, Tensor>, batch = 1): RWKVState {
    return rwkvStateFromTimeState(dict, this.config, batch);
  }

  /** Stream `stream` of a state as an official state file's tensors (save with `seqlab/node` saveSafetensors). */
  timeStateDict(state: RWKVState, stream = 0): Record<string, Tensor> {
    const batch = state.layers[0]?.wkv.shape[0] ?? 1;
    checkRWKVState('rwkv.timeStateDict', state, this.config, batch);
    if (!Number.isInteger(stream) || stream < 0 || stream >= batch) {
      throw new ShapeError({ op: 'rwkv.timeStateDict', expected: `stream in [0, ${batch})`, got: String(stream) });
    }
    return rwkvTimeStateDict(state, this.config, stream);
  }

  forward(tokens: TokenBatch, state?: RWKVState | null): { logits: Tensor; state: RWKVState } {
    const { ids, n, t } = readTokens('rwkv.forward', tokens);
    const s = state ?? this.initState(n);
    if (t === 0) {
      checkRWKVState('rwkv.forward', s, this.config, n);
      return { logits: zeros([n, 0, this.vocabSize], { dtype: this.emb.weight.dtype }), state: s };
    }
    return this.run('rwkv.forward', this.emb.forward(ids, [n, t]), s);
  }

  step(tokens: Tensor | Int32Array | readonly number[], state: RWKVState): { logits: Tensor; state: RWKVState } {
    if (canFuseStep(this.parameterList())) return this.fusedStep(this.bufs.readTokens(tokens), state);
    const ids = tokens instanceof Tensor ? Int32Array.from(tokens.buf) : Int32Array.from(tokens);
    const r = this.run('rwkv.step', this.emb.forward(ids, [ids.length, 1]), state);
    return { logits: reshape(r.logits, [ids.length, this.vocabSize]), state: r.state };
  }

  /**
   * `step` that overwrites `state` (float32 tensors) in place with the fused kernels, the logits written into
   * `out` when given; null where it cannot. Allocates nothing per token but the logits (none with `out`).
   */
  stepInPlace(tokens: Tensor | Int32Array | readonly number[], state: RWKVState, out?: Tensor): Tensor | null {
    const ids = this.bufs.readTokens(tokens);
    checkRWKVState('rwkv.stepInPlace', state, this.config, ids.length);
    if (out !== undefined) checkLogitsOut('rwkv.stepInPlace', out, ids.length, this.vocabSize);
    for (let i = 0; i < state.layers.length; i++) {
      const l = state.layers[i]!;
      if (!(l.attXPrev.buf instanceof Float32Array && l.wkv.buf instanceof Float32Array && l.ffnXPrev.buf instanceof Float32Array)) return null;
    }
    return canFuseStep(this.parameterList()) ? this.advance(ids, state.layers, out ?? null) : null;
  }

  private readonly bufs = new StepBuffers();
  private vFirst: Float32Array = new Float32Array(0);
  private headNorm: HeadNorm | null = null;
  /** Per layer, the state buffers as the kernels take them (reused: filled per token). */
  private fused: FusedState[] = [];

  /**
   * `step` with one fused kernel call per block (ops/step.ts): the same equations without a tensor per
   * operation. The returned state is new (the caller's is left as it was), like the op-by-op step's.
   */
  private fusedStep(ids: Int32Array, state: RWKVState): { logits: Tensor; state: RWKVState } {
    checkRWKVState('rwkv.step', state, this.config, ids.length);
    const copy = (t: Tensor) => new Tensor(new Float32Array(t.buf), t.shape);
    const layers = state.layers.map((old) => ({ attXPrev: copy(old.attXPrev), wkv: copy(old.wkv), ffnXPrev: copy(old.ffnXPrev) }));
    return { logits: this.advance(ids, layers, null), state: { layers } };
  }

  /** The fused blocks on the state buffers (float32, updated in place), then the head: logits [n, V]. */
  private advance(ids: Int32Array, layers: readonly RWKVLayerState[], out: Tensor | null): Tensor {
    const n = ids.length, x = this.bufs.embed('rwkv.step', this.emb.weight, ids);
    this.vFirst = sized(this.vFirst, n * this.config.dModel); // resident: block 0 writes it, the others read it in place
    for (let l = 0; l < layers.length; l++) {
      const s = layers[l]!, f = this.fused[l] ??= { attXPrev: EMPTY, wkv: EMPTY, ffnXPrev: EMPTY };
      f.attXPrev = s.attXPrev.buf as Float32Array; f.wkv = s.wkv.buf as Float32Array; f.ffnXPrev = s.ffnXPrev.buf as Float32Array;
      const block = this.blocks.at(l)!;
      if (this.config.version === 6) block.fusedStep6(x, n, f);
      else block.fusedStep7(x, n, this.vFirst, f);
      // Drop the references: the model keeps no caller's state alive.
      f.attXPrev = f.wkv = f.ffnXPrev = EMPTY;
    }
    this.headNorm ??= { kind: 'layer', weight: this.ln_out.weight, bias: this.ln_out.bias, eps: this.ln_out.eps };
    return this.bufs.head(x, n, this.headNorm, this.head.weight, out);
  }

  private run(op: string, x: Tensor, state: RWKVState): { logits: Tensor; state: RWKVState } {
    checkRWKVState(op, state, this.config, x.shape[0]!);
    const layers: RWKVLayerState[] = [];
    let vFirst: Tensor | null = null;
    for (const block of this.blocks) {
      const r = block.forward(x, state.layers[block.layer]!, vFirst);
      x = r.x;
      vFirst = r.vFirst;
      layers.push(r.state);
    }
    return { logits: this.head.forward(this.ln_out.forward(x)), state: { layers } };
  }

  /**
   * The official initialisation: x060 from rwkv_v6_demo.py (`RWKV_Tmix_x060.__init__` + `init_params`), x070
   * from train_temp/src/model.py (`RWKV_Tmix_x070.__init__` + `generate_init_weight`). README.md lists it.
   */
  initialize(): void {
    const c = this.config, d = c.dModel, L = c.numLayers;
    uniform_(this.emb.weight, -1e-4, 1e-4);
    orthogonal_(this.head.weight, c.vocabSize > d ? 0.5 * Math.sqrt(c.vocabSize / d) : 0.5);
    for (const block of this.blocks) {
      (c.version === 6 ? init6 : init7)(block.att.t, block.ffn.t, c, block.layer);
      block.att.t['ln_x.weight']!.buf.fill(((1 + block.layer) / L) ** 0.7);
    }
  }

  /**
   * Build from a checkpoint's tensors under the official names: the version is detected from the keys and the
   * config read from the shapes (an explicit `config` overrides). A dict of another family or version throws
   * a WeightImportError naming what was found and what was expected; strict loading lists every bad key.
   */
  static fromStateDict(dict: Record<string, Tensor>, config: Partial<RWKVConfig> = {}): RWKV {
    const op = 'RWKV.fromStateDict';
    const found = detectRWKVVersion(dict, op);
    if (config.version !== undefined && config.version !== found) {
      throw new WeightImportError({
        op, expected: `an RWKV-${config.version} state dict (version ${config.version} was asked for)`,
        got: `an RWKV-${found} state dict ('blocks.0.att.${found === 6 ? 'time_maa_w1' : 'w0'}')`,
        hint: 'omit version to take it from the keys',
      });
    }
    const c = resolveRWKVConfig(inferRWKVConfig(dict, found, config, op));
    const m = new RWKV(c, { initialize: false });
    m.loadStateDict(toModelShapes(dict, c));
    return m;
  }
}

// ---------------------------------------------------------------- initialisation

const ddd = (d: number, i: number) => i / d;
const frac = (n: number, d: number) => (d > 1 ? n / (d - 1) : 0);
const fill = (t: Tensor, f: (i: number) => number) => { for (let i = 0; i < t.size; i++) t.buf[i] = f(i); };

/** Ratios of RWKV-LM's init: r01 = l/(L−1) (0 for one layer, where Python would divide by zero), r1 = 1 − l/L. */
function ratios(layer: number, L: number) {
  return { r01: L > 1 ? layer / (L - 1) : 0, r1: 1 - layer / L };
}

function init6(att: Record<string, Tensor>, ffn: Record<string, Tensor>, c: ResolvedRWKVConfig, layer: number): void {
  const d = c.dModel, { r01, r1 } = ratios(layer, c.numLayers), T = (k: string) => att[k]!;
  for (const m of ['x', 'w', 'k']) fill(T(`time_maa_${m}`), (i) => 1 - ddd(d, i) ** r1);
  fill(T('time_maa_v'), (i) => 1 - (ddd(d, i) ** r1 + 0.3 * r01));
  for (const m of ['r', 'g']) fill(T(`time_maa_${m}`), (i) => 1 - ddd(d, i) ** (0.5 * r1));
  uniform_(T('time_maa_w2'), -0.01, 0.01);
  fill(T('time_decay'), (n) => -6 + 5 * frac(n, d) ** (0.7 + 1.3 * r01));
  uniform_(T('time_decay_w2'), -0.01, 0.01);
  fill(T('time_faaaa'), (n) => r01 * (1 - frac(n, d)) + (((n + 1) % 3) - 1) * 0.1);
  orthogonal_(T('receptance'), 1);
  orthogonal_(T('key'), 0.1);
  orthogonal_(T('value'), 1);
  orthogonal_(T('gate'), 0.1);
  T('output').buf.fill(0);
  // time_maa_w1 and time_decay_w1 stay zero; ln_x is set by the caller.
  for (const m of ['k', 'r']) fill(ffn[`time_maa_${m}`]!, (i) => 1 - ddd(d, i) ** r1);
  orthogonal_(ffn['key']!, 1);
  ffn['receptance']!.buf.fill(0);
  ffn['value']!.buf.fill(0);
}

function init7(att: Record<string, Tensor>, ffn: Record<string, Tensor>, c: ResolvedRWKVConfig, layer: number): void {
  const d = c.dModel, N = c.headSize, { r01, r1 } = ratios(layer, c.numLayers), T = (k: string) => att[k]!;
  const shift: [string, number][] = [['r', 0.2], ['w', 0.9], ['k', 0.7], ['v', 0.7], ['a', 0.9], ['g', 0.2]];
  for (const [m, p] of shift) fill(T(`x_${m}`), (i) => 1 - ddd(d, i) ** (p * r1));
  const linear = (n: number) => frac(n, d) - 0.5;
  const zigzag = (n: number) => { const z = N > 1 ? ((n % N) - (N - 1) / 2) / ((N - 1) / 2) : 0; return z * Math.abs(z); };
  // ortho_init(x [D, d], scale): gain √(D/d) when D > d.
  const lora2 = (t: Tensor, scale: number) => orthogonal_(t, scale * (t.shape[0]! > d ? Math.sqrt(t.shape[0]! / d) : 1));
  fill(T('w0'), (n) => -6 + 6 * frac(n, d) ** (1 + r01 ** 0.3) + 0.5 + zigzag(n) * 2.5);
  lora2(T('w2'), 0.1);
  fill(T('a0'), (n) => -0.19 + zigzag(n) * 0.3 + linear(n) * 0.4);
  lora2(T('a2'), 0.1);
  if (att['v0']) { fill(T('v0'), (n) => 0.73 - linear(n) * 0.4); lora2(T('v2'), 0.1); }
  lora2(T('g2'), 0.1);
  fill(T('k_k'), (n) => 0.71 - linear(n) * 0.1);
  T('k_a').buf.fill(1.02);
  T('r_k').buf.fill(-0.04);
  orthogonal_(T('receptance'), 1);
  orthogonal_(T('key'), 0.1);
  orthogonal_(T('value'), 1);
  T('output').buf.fill(0);
  // w1, a1, v1 and g1 stay zero; ln_x is set by the caller.
  fill(ffn['x_k']!, (i) => 1 - ddd(d, i) ** (r1 ** 4));
  orthogonal_(ffn['key']!, 1);
  ffn['value']!.buf.fill(0);
}

// ---------------------------------------------------------------- registry entries

/** Parameters of a config: the sum over the checkpoint key table. */
export function rwkvParameterCount(config: RWKVConfig): number {
  return rwkvParameterShapes(resolveRWKVConfig(config)).reduce((s, [, shape]) => s + numel(shape), 0);
}

function rwkvFamily(version: RWKVVersion): FamilySpec {
  return {
    title: `RWKV-${version}`,
    create: (config) => new RWKV(parseRWKVConfig({ ...configObject(config, 'RWKV'), version })),
    fromStateDict: (dict, config) => RWKV.fromStateDict(dict, { ...parsePartialRWKVConfig(config ?? {}), version }),
    configForBudget: (vocabSize, params) => {
      // Two layers, heads of 32, width grown in steps of 32 while the parameter count fits the budget.
      const make = (dModel: number): RWKVConfig => ({ version, vocabSize, dModel, numLayers: 2, headSize: 32 });
      let d = 32;
      while (rwkvParameterCount(make(d + 32)) <= params) d += 32;
      return { ...make(d) };
    },
    parameterCount: (config) => rwkvParameterCount(parseRWKVConfig({ ...configObject(config, 'RWKV'), version })),
  };
}

export const rwkv6Family = rwkvFamily(6);
export const rwkv7Family = rwkvFamily(7);
