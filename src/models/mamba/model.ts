/**
 * MambaLM (Mamba-1) and Mamba2LM (Mamba-2, SSD): mamba_ssm's MambaLMHeadModel with its parameter names.
 *
 *   r = E[tokens];   r ← r + Mixer_l(RMSNorm_l(r)) for l = 0 … nLayer − 1;   logits = RMSNorm_f(r) · Eᵀ
 *
 * The mixers are pure functions (mixer.ts, mixer2.ts); this file holds the options, the module tree under
 * the official names, the initialisation and the streaming plumbing. The two versions differ only in the
 * mixer, so they share everything else (one family folder, P1).
 *
 * Departures from mamba_ssm, each with the reason:
 * - mamba_ssm's Block adds the residual *before* the norm (`residual = hidden + residual; hidden =
 *   norm(residual)`) to fuse add+norm; r ← r + Mixer(RMSNorm(r)) is the same computation written plainly
 *   (mamba-minimal does the same). The residual stays float32 like `residual_in_fp32=True`.
 * - `forward(tokens, state)` starts from a given state and always returns the final one (mamba_ssm's
 *   forward starts from zeros and only returns states through `inference_params`): that is what makes
 *   chunked prefill and truncated BPTT exact (user-asks #2).
 * - No `d_intermediate` MLP after the mixer (MambaConfig's default is 0), and no attention layers.
 * - `padVocabSizeMultiple` defaults to 1 (MambaLMHeadModel's default), not MambaConfig's 8, so a
 *   small vocabulary is not padded with ids the sampler could emit. Checkpoints carry their padded size.
 */
import { Module } from '../../nn/module.js';
import { kaimingUniform_, normal_, uniform_, zeros_ } from '../../nn/init.js';
import { Embedding, Linear } from '../../nn/layers.js';
import { RMSNorm } from '../../nn/norm.js';
import { add, linear, reshape } from '../../ops/index.js';
import { ones, zeros } from '../../tensor/creation.js';
import { ConfigError } from '../../tensor/errors.js';
import { defaultGenerator } from '../../tensor/random.js';
import { Tensor } from '../../tensor/tensor.js';
import { aBoolean, parseConfig, positiveInt, positiveNumber, type Field, type Schema } from '../config.js';
import type { FamilySpec, LanguageModel, TokenBatch } from '../lm.js';
import { readTokens } from '../recurrent/lm.js';
import {
  canFuseStep, checkLogitsOut, residentDerivedCache, StepBuffers, stepKernels, type DerivedCache, type HeadNorm, type Mamba2StepShape,
  type Mamba2StepWeights, type MambaStepShape, type MambaStepState, type MambaStepWeights,
} from '../../ops/step.js';
import { mambaMixer } from './mixer.js';
import { mamba2Mixer } from './mixer2.js';
import { checkMambaState, initMambaState, mambaStateBytes, type MambaLayerState, type MambaState, type MambaStateDims } from './state.js';
import { canonicalMambaStateDict, inferMamba2Config, inferMambaConfig } from './weights.js';

// ---------------------------------------------------------------- options

/** The options both versions share: mamba_ssm's MambaConfig / Mamba(...) arguments in camelCase (d_model → dModel, …). */
export interface MambaCommonConfig {
  dModel: number;
  nLayer: number;
  vocabSize: number;
  /** SSM state size n. */
  dState?: number;
  /** Width k of the causal conv. */
  dConv?: number;
  /** Inner width di = expand · dModel. */
  expand?: number;
  /** Epsilon of the blocks' and the final RMSNorm (mamba_ssm's norm_epsilon). */
  rmsNormEps?: number;
  /** Round the vocabulary (embedding rows = logits width) up to a multiple of this. */
  padVocabSizeMultiple?: number;
  /** Biases in in_proj and out_proj. */
  bias?: boolean;
  convBias?: boolean;
  /** Δ's initial range: softplus(bias) ~ log-uniform in [dtMin, dtMax], floored at dtInitFloor. */
  dtMin?: number;
  dtMax?: number;
  dtInitFloor?: number;
}

/** Mamba-1 (mamba_simple.py's Mamba). */
export interface MambaConfig extends MambaCommonConfig {
  /** Rank of Δ's projection; 'auto' = ⌈dModel / 16⌉. */
  dtRank?: number | 'auto';
  /** dt_proj.weight ~ U(±dtScale / √dtRank). */
  dtScale?: number;
}

/** Defaults of mamba_ssm's `Mamba` module and MixerModel (see the file header for padVocabSizeMultiple). */
export const MAMBA_DEFAULTS = {
  dState: 16, dConv: 4, expand: 2, dtRank: 'auto', rmsNormEps: 1e-5, padVocabSizeMultiple: 1, bias: false, convBias: true,
  dtMin: 0.001, dtMax: 0.1, dtInitFloor: 1e-4, dtScale: 1,
} satisfies Required<Omit<MambaConfig, 'dModel' | 'nLayer' | 'vocabSize'>>;

/** Mamba-2 (mamba2.py's Mamba2): headdim, ngroups, chunk_size → chunkSize, D_has_hdim → DHasHdim, A_init_range → AInitRange. */
export interface Mamba2Config extends MambaCommonConfig {
  /** Channels per head (hs); expand·dModel must be a multiple of it. */
  headdim?: number;
  /** Groups of B and C; must divide the number of heads. */
  ngroups?: number;
  /** Chunk length of the SSD form (training and prefill). Any value ≥ 1 gives the same result. */
  chunkSize?: number;
  /** D per channel ([di]) instead of per head ([nh]). */
  DHasHdim?: boolean;
  /** A = −exp(A_log) with −A ~ U(AInitRange) at init. */
  AInitRange?: readonly [number, number];
}

export const MAMBA2_DEFAULTS = {
  dState: 128, dConv: 4, expand: 2, headdim: 64, ngroups: 1, chunkSize: 256, rmsNormEps: 1e-5, padVocabSizeMultiple: 1,
  bias: false, convBias: true, DHasHdim: false, AInitRange: [1, 16], dtMin: 0.001, dtMax: 0.1, dtInitFloor: 1e-4,
} satisfies Required<Omit<Mamba2Config, 'dModel' | 'nLayer' | 'vocabSize'>>;

/** mamba2.py's fixed epsilon of the gated RMSNorm. */
export const MAMBA2_GATED_NORM_EPS = 1e-5;

const dtRankField: Field = { ok: (v) => v === 'auto' || positiveInt.ok(v), want: "a positive integer or 'auto'" };
const rangeField: Field = {
  ok: (v) => Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number' && v[0] > 0 && v[1] >= v[0],
  want: 'a pair [lo, hi] with 0 < lo ≤ hi',
};
const MAMBA_FIELDS: Schema<MambaConfig> = {
  dModel: positiveInt, nLayer: positiveInt, vocabSize: positiveInt, dState: positiveInt, dConv: positiveInt, expand: positiveNumber,
  dtRank: dtRankField, rmsNormEps: positiveNumber, padVocabSizeMultiple: positiveInt, bias: aBoolean, convBias: aBoolean,
  dtMin: positiveNumber, dtMax: positiveNumber, dtInitFloor: positiveNumber, dtScale: positiveNumber,
};
const MAMBA2_FIELDS: Schema<Mamba2Config> = {
  dModel: positiveInt, nLayer: positiveInt, vocabSize: positiveInt, dState: positiveInt, dConv: positiveInt, expand: positiveNumber,
  headdim: positiveInt, ngroups: positiveInt, chunkSize: positiveInt, rmsNormEps: positiveNumber, padVocabSizeMultiple: positiveInt,
  bias: aBoolean, convBias: aBoolean, DHasHdim: aBoolean, AInitRange: rangeField, dtMin: positiveNumber, dtMax: positiveNumber,
  dtInitFloor: positiveNumber,
};
const REQUIRED = ['dModel', 'nLayer', 'vocabSize'] as const;

/** A Mamba-1 config read from untrusted input (unknown keys, wrong types or values are ConfigErrors). */
export const parseMambaConfig = (raw: unknown, op = 'MambaLM'): MambaConfig => parseConfig(raw, MAMBA_FIELDS, op, { required: REQUIRED });
/** A Mamba-2 config read from untrusted input. */
export const parseMamba2Config = (raw: unknown, op = 'Mamba2LM'): Mamba2Config => parseConfig(raw, MAMBA2_FIELDS, op, { required: REQUIRED });

export type ResolvedMambaConfig = Required<Omit<MambaConfig, 'dtRank'>> & { dtRank: number };
export type ResolvedMamba2Config = Required<Mamba2Config>;

function innerWidth(op: string, dModel: number, expand: number): number {
  const di = Math.round(expand * dModel);
  if (Math.abs(di - expand * dModel) > 1e-9) {
    throw new ConfigError({ op, expected: 'expand · dModel to be an integer (the inner width)', got: `${expand} · ${dModel}` });
  }
  return di;
}

export function resolveMambaConfig(config: MambaConfig): ResolvedMambaConfig {
  const c = { ...MAMBA_DEFAULTS, ...parseMambaConfig(config) };
  innerWidth('MambaLM', c.dModel, c.expand);
  return { ...c, dtRank: c.dtRank === 'auto' ? Math.ceil(c.dModel / 16) : c.dtRank };
}

export function resolveMamba2Config(config: Mamba2Config): ResolvedMamba2Config {
  const op = 'Mamba2LM';
  const c = { ...MAMBA2_DEFAULTS, ...parseMamba2Config(config, op) };
  const di = innerWidth(op, c.dModel, c.expand);
  if (di % c.headdim !== 0) {
    throw new ConfigError({ op, expected: `expand · dModel (${di}) to be a multiple of headdim`, got: `headdim=${c.headdim}` });
  }
  if ((di / c.headdim) % c.ngroups !== 0) {
    throw new ConfigError({ op, expected: `ngroups to divide the number of heads (${di / c.headdim})`, got: `ngroups=${c.ngroups}` });
  }
  return c;
}

/** Embedding rows: vocabSize rounded up to a multiple of padVocabSizeMultiple (MambaLMHeadModel). */
export const paddedVocab = (c: { vocabSize: number; padVocabSizeMultiple: number }): number =>
  Math.ceil(c.vocabSize / c.padVocabSizeMultiple) * c.padVocabSizeMultiple;

// ---------------------------------------------------------------- initialisation (mamba_ssm's)

/**
 * dt_proj.bias / dt_bias: Δ₀ = exp(U·(ln dtMax − ln dtMin) + ln dtMin) floored at dtInitFloor, so that Δ₀ is
 * log-uniform in [dtMin, dtMax]; the bias is softplus⁻¹(Δ₀) = Δ₀ + log(−expm1(−Δ₀)) (pytorch#72759), so
 * that softplus(bias) = Δ₀ at init.
 */
function initDtBias(bias: Tensor, c: { dtMin: number; dtMax: number; dtInitFloor: number }): void {
  const lo = Math.log(c.dtMin), hi = Math.log(c.dtMax);
  for (let i = 0; i < bias.size; i++) {
    const dt = Math.max(Math.exp(lo + (hi - lo) * defaultGenerator.uniform()), c.dtInitFloor);
    bias.buf[i] = dt + Math.log(-Math.expm1(-dt));
  }
}

/** nn.Conv1d(c, c, k, groups=c)'s default init: weight and bias ~ U(±1/√k) (fan_in = k). */
function initConv(w: Tensor, b: Tensor | null): void {
  const k = w.shape[2]!;
  uniform_(w, -1 / Math.sqrt(k), 1 / Math.sqrt(k));
  if (b) uniform_(b, -1 / Math.sqrt(k), 1 / Math.sqrt(k));
}

/**
 * MixerModel's `_init_weights`: embedding ~ N(0, 0.02), Linear biases 0 (except dt_proj.bias), and
 * out_proj.weight re-drawn kaiming-uniform(a=√5) then scaled by 1/√nLayer (GPT-2's residual scaling with
 * one residual per layer).
 */
function initBackbone(model: MambaLMBase<BackboneConfig>, nLayer: number): void {
  normal_(model.embedding.weight, 0, 0.02);
  for (const block of model.blocks) {
    const mixer = block.mixer as MambaMixer | Mamba2Mixer;
    for (const lin of [mixer.inProj, mixer.outProj]) if (lin.bias) zeros_(lin.bias);
    kaimingUniform_(mixer.outProj.weight, { a: Math.sqrt(5) });
    for (let i = 0; i < mixer.outProj.weight.size; i++) mixer.outProj.weight.buf[i]! /= Math.sqrt(nLayer);
  }
}

// ---------------------------------------------------------------- modules (official names)

/** nn.Conv1d(c, c, k, groups=c): weight [c, 1, k], bias [c] — mamba_ssm's `conv1d`. */
class DepthwiseConv1d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(c: number, k: number, bias: boolean) {
    super();
    this.weight = this.registerParameter('weight', new Tensor(new Float32Array(c * k), [c, 1, k], true));
    this.bias = this.registerParameter('bias', bias ? new Tensor(new Float32Array(c), [c], true) : null);
    initConv(this.weight, this.bias);
  }
}

const EMPTY = new Float32Array(0);

interface Mixer extends Module {
  forward(u: Tensor, state: MambaLayerState): { out: Tensor; state: MambaLayerState };
  fusedStep(norm: RMSNorm, x: Float32Array, b: number, conv: Float32Array, ssm: Float32Array): void;
}

/** mamba_simple.py's `Mamba`: parameters in its registration order; the math is `mambaMixer`. */
export class MambaMixer extends Module implements Mixer {
  readonly ALog: Tensor;
  readonly D: Tensor;
  readonly inProj: Linear;
  readonly conv1d: DepthwiseConv1d;
  readonly xProj: Linear;
  readonly dtProj: Linear;
  readonly outProj: Linear;

  constructor(c: ResolvedMambaConfig) {
    super();
    const d = c.dModel, di = Math.round(c.expand * d), n = c.dState, r = c.dtRank;
    // A_log = log(1, 2, …, n) in every row (S4D-Real: A = −(1, 2, …, n)); D = 1.
    const aLog = Float32Array.from({ length: di * n }, (_, i) => Math.log(1 + (i % n)));
    this.ALog = this.registerParameter('A_log', new Tensor(aLog, [di, n], true));
    this.D = this.registerParameter('D', new Tensor(new Float32Array(di).fill(1), [di], true));
    this.inProj = this.registerModule('in_proj', new Linear({ inFeatures: d, outFeatures: 2 * di, bias: c.bias }));
    this.conv1d = this.registerModule('conv1d', new DepthwiseConv1d(di, c.dConv, c.convBias));
    this.xProj = this.registerModule('x_proj', new Linear({ inFeatures: di, outFeatures: r + 2 * n, bias: false }));
    this.dtProj = this.registerModule('dt_proj', new Linear({ inFeatures: r, outFeatures: di }));
    this.outProj = this.registerModule('out_proj', new Linear({ inFeatures: di, outFeatures: d, bias: c.bias }));
    const std = c.dtScale / Math.sqrt(r); // dt_init='random'
    uniform_(this.dtProj.weight, -std, std);
    initDtBias(this.dtProj.bias!, c);
  }

  private aCache: DerivedCache | null = null;
  /** The kernel's arguments, kept from token to token (fields refreshed per call: a step allocates nothing). */
  private args: { s: MambaStepShape; w: MambaStepWeights; st: MambaStepState } | null = null;

  /**
   * @internal One token of this block (RMSNorm then mixer) with the fused kernel: x is the residual [b, d],
   * updated in place, and so are conv and ssm. A = −exp(A_log) is cached and refreshed only where A_log changed.
   */
  fusedStep(norm: RMSNorm, x: Float32Array, b: number, conv: Float32Array, ssm: Float32Array): void {
    const di = this.ALog.shape[0]!, n = this.ALog.shape[1]!;
    this.aCache ??= residentDerivedCache(di * n);
    const a = this.args ??= {
      s: { b, d: this.outProj.weight.shape[0]!, di, n, r: this.dtProj.weight.shape[1]!, k: this.conv1d.weight.shape[2]!, eps: norm.eps },
      w: {} as MambaStepWeights, st: { conv: EMPTY, ssm: EMPTY },
    };
    a.s.b = b;
    a.s.eps = norm.eps;
    const w = a.w;
    w.norm = norm.weight!.buf; w.inProj = this.inProj.weight.buf; w.inProjBias = this.inProj.bias?.buf ?? null;
    w.convWeight = this.conv1d.weight.buf; w.convBias = this.conv1d.bias?.buf ?? null; w.xProj = this.xProj.weight.buf;
    w.dtProj = this.dtProj.weight.buf; w.dtProjBias = this.dtProj.bias!.buf; w.ALog = this.ALog.buf; w.D = this.D.buf;
    w.outProj = this.outProj.weight.buf; w.outProjBias = this.outProj.bias?.buf ?? null;
    a.st.conv = conv;
    a.st.ssm = ssm;
    stepKernels().mambaStep(a.s, w, this.aCache, x, a.st);
    a.st.conv = a.st.ssm = EMPTY; // the model keeps no caller's state alive
  }

  forward(u: Tensor, state: MambaLayerState): { out: Tensor; state: MambaLayerState } {
    return mambaMixer(u, {
      inProj: this.inProj.weight, inProjBias: this.inProj.bias, convWeight: this.conv1d.weight, convBias: this.conv1d.bias,
      xProj: this.xProj.weight, dtProjWeight: this.dtProj.weight, dtProjBias: this.dtProj.bias!, ALog: this.ALog, D: this.D,
      outProj: this.outProj.weight, outProjBias: this.outProj.bias,
    }, state);
  }
}

/** mamba2.py's `Mamba2` (rmsnorm=True, norm_before_gate=False, d_ssm = d_inner); the math is `mamba2Mixer`. */
export class Mamba2Mixer extends Module implements Mixer {
  readonly dtBias: Tensor;
  readonly ALog: Tensor;
  readonly D: Tensor;
  readonly inProj: Linear;
  readonly conv1d: DepthwiseConv1d;
  readonly norm: Module & { weight: Tensor };
  readonly outProj: Linear;
  private readonly dims: { nh: number; hs: number; g: number; n: number; chunkSize: number; eps: number };

  constructor(c: ResolvedMamba2Config) {
    super();
    const d = c.dModel, di = Math.round(c.expand * d), n = c.dState, g = c.ngroups, nh = di / c.headdim;
    this.dims = { nh, hs: c.headdim, g, n, chunkSize: c.chunkSize, eps: MAMBA2_GATED_NORM_EPS };
    this.inProj = this.registerModule('in_proj', new Linear({ inFeatures: d, outFeatures: 2 * di + 2 * g * n + nh, bias: c.bias }));
    this.conv1d = this.registerModule('conv1d', new DepthwiseConv1d(di + 2 * g * n, c.dConv, c.convBias));
    this.dtBias = this.registerParameter('dt_bias', zeros([nh]));
    this.dtBias.requiresGrad = true;
    initDtBias(this.dtBias, c);
    // A_log = log(U(AInitRange)) per head; D = 1.
    const [lo, hi] = c.AInitRange;
    this.ALog = this.registerParameter('A_log', new Tensor(Float32Array.from({ length: nh }, () => Math.log(lo + (hi - lo) * defaultGenerator.uniform())), [nh], true));
    this.D = this.registerParameter('D', ones([c.DHasHdim ? di : nh], { requiresGrad: true }));
    const norm = new Module() as Module & { weight: Tensor }; // RMSNormGated(di, group_size=di/ngroups)
    norm.weight = norm.registerParameter('weight', ones([di], { requiresGrad: true }));
    this.norm = this.registerModule('norm', norm);
    this.outProj = this.registerModule('out_proj', new Linear({ inFeatures: di, outFeatures: d, bias: c.bias }));
  }

  private aCache: DerivedCache | null = null;
  /** The kernel's arguments, kept from token to token (fields refreshed per call: a step allocates nothing). */
  private args: { s: Mamba2StepShape; w: Mamba2StepWeights; st: MambaStepState } | null = null;

  /** @internal One token of this block with the fused kernel, as MambaMixer.fusedStep (A = −exp(A_log) per head, cached). */
  fusedStep(norm: RMSNorm, x: Float32Array, b: number, conv: Float32Array, ssm: Float32Array): void {
    const { nh, hs, g, n, eps } = this.dims;
    this.aCache ??= residentDerivedCache(nh);
    const a = this.args ??= {
      s: { b, d: this.outProj.weight.shape[0]!, nh, hs, g, n, k: this.conv1d.weight.shape[2]!, eps: norm.eps, normEps: eps, dPerChannel: this.D.size !== nh },
      w: {} as Mamba2StepWeights, st: { conv: EMPTY, ssm: EMPTY },
    };
    a.s.b = b;
    a.s.eps = norm.eps;
    const w = a.w;
    w.norm = norm.weight!.buf; w.inProj = this.inProj.weight.buf; w.inProjBias = this.inProj.bias?.buf ?? null;
    w.convWeight = this.conv1d.weight.buf; w.convBias = this.conv1d.bias?.buf ?? null; w.dtBias = this.dtBias.buf; w.ALog = this.ALog.buf;
    w.D = this.D.buf; w.gatedNorm = this.norm.weight.buf; w.outProj = this.outProj.weight.buf; w.outProjBias = this.outProj.bias?.buf ?? null;
    a.st.conv = conv;
    a.st.ssm = ssm;
    stepKernels().mamba2Step(a.s, w, this.aCache, x, a.st);
    a.st.conv = a.st.ssm = EMPTY; // the model keeps no caller's state alive
  }

  forward(u: Tensor, state: MambaLayerState): { out: Tensor; state: MambaLayerState } {
    return mamba2Mixer(u, {
      inProj: this.inProj.weight, inProjBias: this.inProj.bias, convWeight: this.conv1d.weight, convBias: this.conv1d.bias,
      dtBias: this.dtBias, ALog: this.ALog, D: this.D, normWeight: this.norm.weight, outProj: this.outProj.weight,
      outProjBias: this.outProj.bias,
    }, this.dims, state);
  }
}

/** mamba_ssm's Block (mixer first, then norm, as registered there). */
class MambaBlock extends Module {
  readonly mixer: Mixer;
  readonly norm: RMSNorm;
  constructor(mixer: Mixer, dModel: number, eps: number) {
    super();
    this.mixer = this.registerModule('mixer', mixer);
    this.norm = this.registerModule('norm', new RMSNorm({ normalizedShape: dModel, eps }));
  }
}

// ---------------------------------------------------------------- the language models

type BackboneConfig = { dModel: number; nLayer: number; vocabSize: number; padVocabSizeMultiple: number; rmsNormEps: number };

abstract class MambaLMBase<C extends BackboneConfig> extends Module implements LanguageModel<MambaState> {
  abstract readonly family: 'mamba' | 'mamba2';
  readonly config: Readonly<C>;
  readonly vocabSize: number;
  readonly embedding: Embedding;
  readonly blocks: readonly MambaBlock[];
  readonly normF: RMSNorm;

  constructor(c: C, makeMixer: () => Mixer, private readonly stateDims: MambaStateDims) {
    super();
    this.config = c;
    this.vocabSize = paddedVocab(c);
    // Module tree as MambaLMHeadModel: backbone.{embedding, layers.{i}, norm_f}, lm_head.
    const backbone = this.registerModule('backbone', new Module());
    this.embedding = backbone.registerModule('embedding', new Embedding({ numEmbeddings: this.vocabSize, embeddingDim: c.dModel }));
    const layers = backbone.registerModule('layers', new Module());
    this.blocks = Array.from({ length: c.nLayer }, (_, i) => layers.registerModule(String(i), new MambaBlock(makeMixer(), c.dModel, c.rmsNormEps)));
    this.normF = backbone.registerModule('norm_f', new RMSNorm({ normalizedShape: c.dModel, eps: c.rmsNormEps }));
    // Weight tying: the head is the embedding (one tensor under both names, as in PyTorch).
    this.registerModule('lm_head', new Module()).registerParameter('weight', this.embedding.weight);
    initBackbone(this, c.nLayer);
  }

  initState(batch = 1): MambaState {
    if (!Number.isInteger(batch) || batch < 1) {
      throw new ConfigError({ op: `${this.family}.initState`, expected: 'batch to be a positive integer', got: String(batch) });
    }
    return initMambaState(this.stateDims, batch);
  }

  /** Bytes of state for `batch` streams — the same after any number of tokens. */
  stateBytes(batch = 1): number {
    return mambaStateBytes(this.stateDims, batch);
  }

  /** Whole sequences, continuing `state` (zeros when omitted): tokens [n, t] → logits [n, t, V]. */
  forward(tokens: TokenBatch, state?: MambaState | null): { logits: Tensor; state: MambaState } {
    const { ids, n, t } = readTokens(`${this.family}.forward`, tokens);
    return this.run(`${this.family}.forward`, ids, n, t, state ?? null);
  }

  /** One token per stream: tokens [n] → logits [n, V]. The same computation as `forward` over one token. */
  step(tokens: Tensor | Int32Array | readonly number[], state: MambaState): { logits: Tensor; state: MambaState } {
    if (canFuseStep(this.parameterList())) return this.fusedStep(this.bufs.readTokens(tokens), state);
    const ids = tokens instanceof Tensor ? Int32Array.from(tokens.buf) : Int32Array.from(tokens);
    const r = this.run(`${this.family}.step`, ids, ids.length, 1, state);
    return { logits: reshape(r.logits, [ids.length, this.vocabSize]), state: r.state };
  }

  /**
   * `step` that overwrites `state` (float32 tensors) in place with the fused kernels, the logits written into
   * `out` when given; null where it cannot. Allocates nothing per token but the logits (none with `out`).
   */
  stepInPlace(tokens: Tensor | Int32Array | readonly number[], state: MambaState, out?: Tensor): Tensor | null {
    const op = this.family === 'mamba' ? 'mamba.stepInPlace' : 'mamba2.stepInPlace', ids = this.bufs.readTokens(tokens);
    checkMambaState(op, state, this.stateDims, ids.length);
    if (out !== undefined) checkLogitsOut(op, out, ids.length, this.vocabSize);
    for (let l = 0; l < state.layers.length; l++) {
      const s = state.layers[l]!;
      if (!(s.conv.buf instanceof Float32Array && s.ssm.buf instanceof Float32Array)) return null;
    }
    return canFuseStep(this.parameterList()) ? this.advance(ids, state.layers, out ?? null) : null;
  }

  private readonly bufs = new StepBuffers();
  private headNorm: HeadNorm | null = null;

  /**
   * `step` with one fused kernel call per block (ops/step.ts): the same equations without a tensor per
   * operation. The returned state is new (the caller's is left as it was), like the op-by-op step's.
   */
  private fusedStep(ids: Int32Array, state: MambaState): { logits: Tensor; state: MambaState } {
    checkMambaState(`${this.family}.step`, state, this.stateDims, ids.length);
    const layers = state.layers.map((old) => ({
      conv: new Tensor(new Float32Array(old.conv.buf), old.conv.shape), ssm: new Tensor(new Float32Array(old.ssm.buf), old.ssm.shape),
    }));
    return { logits: this.advance(ids, layers, null), state: { layers } };
  }

  /** The fused blocks on the state buffers (float32, updated in place), then the head: logits [n, V]. */
  private advance(ids: Int32Array, layers: readonly MambaLayerState[], out: Tensor | null): Tensor {
    const n = ids.length, x = this.bufs.embed(this.family === 'mamba' ? 'mamba.step' : 'mamba2.step', this.embedding.weight, ids);
    for (let l = 0; l < this.blocks.length; l++) {
      const block = this.blocks[l]!, s = layers[l]!;
      block.mixer.fusedStep(block.norm, x, n, s.conv.buf as Float32Array, s.ssm.buf as Float32Array);
    }
    this.headNorm ??= { kind: 'rms', weight: this.normF.weight, bias: null, eps: this.normF.eps };
    return this.bufs.head(x, n, this.headNorm, this.embedding.weight, out);
  }

  private run(op: string, ids: Int32Array, n: number, t: number, state: MambaState | null): { logits: Tensor; state: MambaState } {
    const s = state ?? this.initState(n);
    checkMambaState(op, s, this.stateDims, n);
    let r = this.embedding.forward(ids, [n, t]); //                    the residual stream [n, t, d]
    const layers = this.blocks.map((block, l) => {
      const m = block.mixer.forward(block.norm.forward(r), s.layers[l]!);
      r = add(r, m.out); //                                             r ← r + Mixer(RMSNorm(r))
      return m.state;
    });
    const logits = linear(this.normF.forward(r), this.embedding.weight); // lm_head, tied to the embedding
    return { logits, state: { layers } };
  }
}

/** Mamba-1 (selective SSM) language model. */
export class MambaLM extends MambaLMBase<ResolvedMambaConfig> {
  readonly family = 'mamba';

  constructor(config: MambaConfig) {
    const c = resolveMambaConfig(config), di = Math.round(c.expand * c.dModel);
    super(c, () => new MambaMixer(c), { nLayer: c.nLayer, conv: [di, c.dConv], ssm: [di, c.dState] });
  }

  /** Build from a mamba_ssm / HF checkpoint (weights.ts); the config comes from the shapes, `config` overrides. */
  static fromStateDict(dict: Readonly<Record<string, Tensor>>, config: Partial<MambaConfig> = {}): MambaLM {
    const canonical = canonicalMambaStateDict(dict, 1);
    const m = new MambaLM({ ...inferMambaConfig(canonical), ...config });
    m.loadStateDict(canonical);
    return m;
  }
}

/** Mamba-2 (SSD) language model. */
export class Mamba2LM extends MambaLMBase<ResolvedMamba2Config> {
  readonly family = 'mamba2';

  constructor(config: Mamba2Config) {
    const c = resolveMamba2Config(config), di = Math.round(c.expand * c.dModel), convDim = di + 2 * c.ngroups * c.dState;
    super(c, () => new Mamba2Mixer(c), { nLayer: c.nLayer, conv: [convDim, c.dConv], ssm: [di / c.headdim, c.headdim, c.dState] });
  }

  /**
   * Build from a mamba_ssm / HF checkpoint (weights.ts); the config comes from the shapes, `config`
   * overrides (ngroups cannot be read off the shapes: pass it when it is not 1; chunkSize is free).
   */
  static fromStateDict(dict: Readonly<Record<string, Tensor>>, config: Partial<Mamba2Config> = {}): Mamba2LM {
    const canonical = canonicalMambaStateDict(dict, 2);
    const m = new Mamba2LM({ ...inferMamba2Config(canonical, config.ngroups), ...config });
    m.loadStateDict(canonical);
    return m;
  }
}

// ---------------------------------------------------------------- parameter counts and families

/** Parameters of a MambaLM (the tied head counted once). */
export function mambaParamCount(c: ResolvedMambaConfig): number {
  const d = c.dModel, di = Math.round(c.expand * d), n = c.dState, r = c.dtRank, k = c.dConv;
  const mixer = 2 * di * d + (c.bias ? 2 * di : 0) + di * k + (c.convBias ? di : 0) + (r + 2 * n) * di
    + di * r + di + di * n + di + d * di + (c.bias ? d : 0);
  return paddedVocab(c) * d + c.nLayer * (mixer + d) + d;
}

/** Parameters of a Mamba2LM (the tied head counted once). */
export function mamba2ParamCount(c: ResolvedMamba2Config): number {
  const d = c.dModel, di = Math.round(c.expand * d), n = c.dState, g = c.ngroups, nh = di / c.headdim, k = c.dConv;
  const inRows = 2 * di + 2 * g * n + nh, convDim = di + 2 * g * n;
  const mixer = inRows * d + (c.bias ? inRows : 0) + convDim * k + (c.convBias ? convDim : 0) + 2 * nh
    + (c.DHasHdim ? di : nh) + di + d * di + (c.bias ? d : 0);
  return paddedVocab(c) * d + c.nLayer * (mixer + d) + d;
}

/** The widest dModel (a multiple of `step`) whose model fits `params`, at least `step`. */
function widest<C>(params: number, step: number, at: (dModel: number) => C, count: (c: C) => number): C {
  let d = step;
  while (count(at(d + step)) <= params) d += step;
  return at(d);
}

export const mambaFamily: FamilySpec = {
  title: 'Mamba',
  create: (config) => new MambaLM(parseMambaConfig(config)),
  fromStateDict: (dict, config) => MambaLM.fromStateDict(dict, parseConfig<Partial<MambaConfig>>(config ?? {}, MAMBA_FIELDS, 'MambaLM')),
  /** Two layers, mamba_ssm's defaults otherwise; dModel grows in steps of 16 while the count fits. */
  configForBudget: (vocabSize, params) =>
    widest(params, 16, (dModel) => ({ dModel, nLayer: 2, vocabSize }), (c) => mambaParamCount(resolveMambaConfig(c))),
  parameterCount: (config) => mambaParamCount(resolveMambaConfig(parseMambaConfig(config))),
};

export const mamba2Family: FamilySpec = {
  title: 'Mamba-2',
  create: (config) => new Mamba2LM(parseMamba2Config(config)),
  fromStateDict: (dict, config) => Mamba2LM.fromStateDict(dict, parseConfig<Partial<Mamba2Config>>(config ?? {}, MAMBA2_FIELDS, 'Mamba2LM')),
  /**
   * Two layers, headdim 32, dState 64 and chunks of 64: at small budgets mamba2's default dState 128 would
   * spend most parameters on in_proj's B and C rows. dModel grows in steps of 16.
   */
  configForBudget: (vocabSize, params) =>
    widest(params, 16, (dModel) => ({ dModel, nLayer: 2, vocabSize, headdim: 32, dState: 64, chunkSize: 64 }), (c) => mamba2ParamCount(resolveMamba2Config(c))),
  parameterCount: (config) => mamba2ParamCount(resolveMamba2Config(parseMamba2Config(config))),
};
