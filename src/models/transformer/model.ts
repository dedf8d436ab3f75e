/**
 * GPT: the KV-cache transformer baseline, nanoGPT's model (GPT-2's architecture) with its parameter names.
 *
 *   x = wte[tokens] + wpe[positions];   x = block_l(x) for l = 0 … nLayer − 1;   logits = ln_f(x) · wteᵀ
 *
 * Token and learned position embeddings, nLayer pre-LayerNorm blocks (block.ts), a final LayerNorm and an
 * output head tied to the token embedding (`lm_head.weight` is `transformer.wte.weight`). Streaming keeps a
 * KV cache (state.ts) that grows with every token — the point of comparing it with the constant-size state of
 * the recurrent families. Positions are a learned table of `blockSize` rows, so a stream cannot go past
 * `blockSize` tokens: like nanoGPT's assert, forward and step refuse with both numbers in the message.
 *
 * Departures from nanoGPT, each with the reason:
 * - nanoGPT has no KV cache (its `generate` re-runs the cropped context each step). Here `forward(tokens,
 *   state)` continues a cached prefix; tests prove it equals the full forward.
 * - nanoGPT returns logits for the last position only at inference; `forward` here always returns all
 *   positions ([n, t, V]), as the LanguageModel contract asks.
 * - Attention is one fused op (ops/attention.ts). With attention dropout active (training, dropout > 0) the
 *   composite twin runs instead, which is nanoGPT's manual attention path with `attn_dropout` on the weights.
 */
import { Module, nearestKey } from '../../nn/module.js';
import { ModuleList } from '../../nn/module-list.js';
import { normal_, zeros_ } from '../../nn/init.js';
import { Embedding, Linear } from '../../nn/layers.js';
import { LayerNorm } from '../../nn/norm.js';
import { add, dropout, linear, reshape } from '../../ops/index.js';
import { causalAttention, causalAttentionComposite } from '../../ops/attention.js';
import { ConfigError, ShapeError } from '../../tensor/errors.js';
import { Tensor } from '../../tensor/tensor.js';
import { configObject } from '../config.js';
import type { FamilySpec, LanguageModel, TokenBatch } from '../lm.js';
import { readTokens } from '../recurrent/lm.js';
import { canFuseStep, checkLogitsOut, StepBuffers, stepKernels, type GptStepShape, type GptStepWeights, type HeadNorm } from '../../ops/step.js';
import { extendCache, extendInPlace, releaseSlab, type Slab } from './kv-cache.js';
import { gptBlock, type GPTBlockOps } from './block.js';
import { checkGPTState, gptPosition, gptStateBytes, initGPTState, type GPTLayerCache, type GPTState } from './state.js';
import { canonicalGPTStateDict, gptConfigFromModelArgs, gptParamShapes, inferGPTConfig } from './weights.js';

/** nanoGPT's GPTConfig in camelCase. Every field defaults to `GPT_DEFAULTS`. */
export interface GPTConfig {
  /** Longest sequence (rows of the position table `transformer.wpe`). */
  blockSize?: number;
  vocabSize?: number;
  nLayer?: number;
  nHead?: number;
  /** Model width C; must be divisible by nHead. */
  nEmbd?: number;
  /** Dropout on the embeddings, the attention weights, and both residual branches (training only). */
  dropout?: number;
  /** Biases in the Linears and LayerNorms, like GPT-2 (false: weights only). */
  bias?: boolean;
}

/** nanoGPT's GPTConfig defaults (GPT-2 124M with the vocabulary padded to 50304). */
export const GPT_DEFAULTS = {
  blockSize: 1024, vocabSize: 50304, nLayer: 12, nHead: 12, nEmbd: 768, dropout: 0, bias: true,
} satisfies Required<GPTConfig>;

/** nanoGPT's LayerNorm epsilon. */
export const GPT_LAYER_NORM_EPS = 1e-5;

const NUMERIC_KEYS = ['blockSize', 'vocabSize', 'nLayer', 'nHead', 'nEmbd', 'dropout'] as const;
const CONFIG_KEYS = [...NUMERIC_KEYS, 'bias'];

/** Read a GPTConfig from a plain record (CLI, registry), rejecting unknown keys and wrong types. */
export function parseGPTConfig(obj: unknown, op = 'GPT'): GPTConfig {
  const out: GPTConfig = {};
  for (const [k, v] of Object.entries(configObject(obj, op))) {
    if (v === undefined) continue;
    if (k === 'bias') {
      if (typeof v !== 'boolean') throw new ConfigError({ op, expected: 'bias to be a boolean', got: JSON.stringify(v) });
      out.bias = v;
    } else if ((NUMERIC_KEYS as readonly string[]).includes(k)) {
      if (typeof v !== 'number') throw new ConfigError({ op, expected: `${k} to be a number`, got: JSON.stringify(v) });
      out[k as (typeof NUMERIC_KEYS)[number]] = v;
    } else {
      const near = nearestKey(k, CONFIG_KEYS);
      throw new ConfigError({ op, expected: `GPTConfig keys (${CONFIG_KEYS.join(', ')})`, got: `'${k}'`, ...(near ? { hint: `did you mean '${near}'?` } : {}) });
    }
  }
  return out;
}

function resolveConfig(config: GPTConfig): Required<GPTConfig> {
  const c = { ...GPT_DEFAULTS, ...config };
  for (const k of ['blockSize', 'vocabSize', 'nLayer', 'nHead', 'nEmbd'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new ConfigError({ op: 'GPT', expected: `${k} to be a positive integer`, got: String(c[k]) });
  }
  if (c.nEmbd % c.nHead !== 0) {
    throw new ConfigError({ op: 'GPT', expected: `nEmbd divisible by nHead (head width nEmbd / nHead)`, got: `nEmbd=${c.nEmbd}, nHead=${c.nHead}` });
  }
  if (!(c.dropout >= 0 && c.dropout <= 1)) throw new ConfigError({ op: 'GPT', expected: 'dropout in [0, 1]', got: String(c.dropout) });
  return c;
}

/** nanoGPT's CausalSelfAttention parameters: `c_attn` (q, k, v of all heads) and the output `c_proj`. */
export class GPTAttention extends Module {
  readonly cAttn: Linear;
  readonly cProj: Linear;
  constructor(C: number, bias: boolean) {
    super();
    this.cAttn = this.registerModule('c_attn', new Linear({ inFeatures: C, outFeatures: 3 * C, bias }));
    this.cProj = this.registerModule('c_proj', new Linear({ inFeatures: C, outFeatures: C, bias }));
  }
}

/** nanoGPT's MLP parameters: `c_fc` (C → 4C) and `c_proj` (4C → C). */
export class GPTMLP extends Module {
  readonly cFc: Linear;
  readonly cProj: Linear;
  constructor(C: number, bias: boolean) {
    super();
    this.cFc = this.registerModule('c_fc', new Linear({ inFeatures: C, outFeatures: 4 * C, bias }));
    this.cProj = this.registerModule('c_proj', new Linear({ inFeatures: 4 * C, outFeatures: C, bias }));
  }
}

/** One block's parameters under nanoGPT's names (`ln_1`, `attn.*`, `ln_2`, `mlp.*`); the math is `gptBlock`. */
/** A tensor's buffer, null for an absent bias. */
const bufOf = (t: Tensor | null) => t?.buf ?? null;

export class GPTBlock extends Module {
  readonly ln1: LayerNorm;
  readonly attn: GPTAttention;
  readonly ln2: LayerNorm;
  readonly mlp: GPTMLP;
  constructor(C: number, bias: boolean) {
    super();
    this.ln1 = this.registerModule('ln_1', new LayerNorm({ normalizedShape: C, bias, eps: GPT_LAYER_NORM_EPS }));
    this.attn = this.registerModule('attn', new GPTAttention(C, bias));
    this.ln2 = this.registerModule('ln_2', new LayerNorm({ normalizedShape: C, bias, eps: GPT_LAYER_NORM_EPS }));
    this.mlp = this.registerModule('mlp', new GPTMLP(C, bias));
  }

  /** The kernel's arguments, kept from token to token (fields refreshed per call). */
  private args: { s: GptStepShape; w: GptStepWeights } | null = null;

  /** @internal One token of this block with the fused kernel (kernels/step.ts): x [b, C] in place, row p of k and v written. */
  fusedStep(x: Float32Array, b: number, H: number, p: number, cap: number, k: Float32Array, v: Float32Array): void {
    const a = this.args ??= {
      s: { b, C: this.attn.cProj.weight.shape[0]!, H, p, cap, eps: GPT_LAYER_NORM_EPS },
      w: {
        ln1: { weight: this.ln1.weight!.buf, bias: bufOf(this.ln1.bias) }, cAttn: this.attn.cAttn.weight.buf, cAttnBias: bufOf(this.attn.cAttn.bias),
        attnProj: this.attn.cProj.weight.buf, attnProjBias: bufOf(this.attn.cProj.bias), ln2: { weight: this.ln2.weight!.buf, bias: bufOf(this.ln2.bias) },
        cFc: this.mlp.cFc.weight.buf, cFcBias: bufOf(this.mlp.cFc.bias), mlpProj: this.mlp.cProj.weight.buf, mlpProjBias: bufOf(this.mlp.cProj.bias),
      },
    };
    a.s.b = b; a.s.H = H; a.s.p = p; a.s.cap = cap;
    const w = a.w;
    w.ln1.weight = this.ln1.weight!.buf; w.ln1.bias = bufOf(this.ln1.bias); w.cAttn = this.attn.cAttn.weight.buf; w.cAttnBias = bufOf(this.attn.cAttn.bias);
    w.attnProj = this.attn.cProj.weight.buf; w.attnProjBias = bufOf(this.attn.cProj.bias); w.ln2.weight = this.ln2.weight!.buf; w.ln2.bias = bufOf(this.ln2.bias);
    w.cFc = this.mlp.cFc.weight.buf; w.cFcBias = bufOf(this.mlp.cFc.bias); w.mlpProj = this.mlp.cProj.weight.buf; w.mlpProjBias = bufOf(this.mlp.cProj.bias);
    stepKernels().gptStep(a.s, w, x, k, v);
  }

  forward(x: Tensor, past: GPTLayerCache, ops: GPTBlockOps): { x: Tensor; cache: GPTLayerCache } {
    return gptBlock(x, {
      ln_1: this.ln1, c_attn: this.attn.cAttn, attn_c_proj: this.attn.cProj, ln_2: this.ln2, c_fc: this.mlp.cFc, mlp_c_proj: this.mlp.cProj,
    }, past, ops);
  }
}

export class GPT extends Module implements LanguageModel<GPTState> {
  readonly family = 'gpt';
  readonly vocabSize: number;
  readonly config: Readonly<Required<GPTConfig>>;
  readonly wte: Embedding;
  readonly wpe: Embedding;
  readonly blocks: readonly GPTBlock[];
  readonly lnF: LayerNorm;

  constructor(config: GPTConfig = {}) {
    super();
    const c = resolveConfig(config);
    this.config = c;
    this.vocabSize = c.vocabSize;
    const C = c.nEmbd;
    // Module tree and names as nanoGPT's nn.ModuleDict: transformer.{wte, wpe, h.{i}, ln_f}, lm_head.
    const transformer = this.registerModule('transformer', new Module());
    this.wte = transformer.registerModule('wte', new Embedding({ numEmbeddings: c.vocabSize, embeddingDim: C }));
    this.wpe = transformer.registerModule('wpe', new Embedding({ numEmbeddings: c.blockSize, embeddingDim: C }));
    this.blocks = [...transformer.registerModule('h', new ModuleList(Array.from({ length: c.nLayer }, () => new GPTBlock(C, c.bias))))];
    this.lnF = transformer.registerModule('ln_f', new LayerNorm({ normalizedShape: C, bias: c.bias, eps: GPT_LAYER_NORM_EPS }));
    // Weight tying: the head is the token embedding (one tensor under both names, as in PyTorch).
    this.registerModule('lm_head', new Module()).registerParameter('weight', this.wte.weight);
    this.resetParameters();
  }

  /**
   * nanoGPT's init: Linear weights and embeddings ~ N(0, 0.02), biases 0, LayerNorms (1, 0), and the
   * residual projections (`*.c_proj.weight`) ~ N(0, 0.02/√(2·nLayer)) (GPT-2 paper §2.3).
   */
  resetParameters(): void {
    for (const m of this.modules()) {
      if (m instanceof Linear) {
        normal_(m.weight, 0, 0.02);
        if (m.bias) zeros_(m.bias);
      } else if (m instanceof Embedding) normal_(m.weight, 0, 0.02);
    }
    for (const [name, p] of this.namedParameters()) if (name.endsWith('c_proj.weight')) normal_(p, 0, 0.02 / Math.sqrt(2 * this.config.nLayer));
  }

  initState(batch = 1): GPTState {
    if (!Number.isInteger(batch) || batch < 1) throw new ConfigError({ op: 'gpt.initState', expected: 'batch to be a positive integer', got: String(batch) });
    return initGPTState(this.config, batch);
  }

  /**
   * Bytes of KV cache for `batch` streams after `tokensSeen` tokens (default: a full block, the most a stream
   * can hold): 4 · 2 · nLayer · batch · tokensSeen · nEmbd — linear in tokens, unlike the recurrent families.
   */
  stateBytes(batch = 1, tokensSeen: number = this.config.blockSize): number {
    return gptStateBytes(this.config, batch, tokensSeen);
  }

  /** Whole sequences, or a continuation of `state`'s cached prefix: tokens [n, t] → logits [n, t, V]. */
  forward(tokens: TokenBatch, state?: GPTState | null): { logits: Tensor; state: GPTState } {
    const { ids, n, t } = readTokens('gpt.forward', tokens);
    return this.run('gpt.forward', ids, n, t, state ?? null);
  }

  /**
   * One token per stream over the KV cache: tokens [n] → logits [n, V]. Equal to `forward` (tested). Generate
   * under `sl.noGrad` (as `generate` does): with recording on, each step's cache extension joins the tape, and
   * the caches of all earlier steps stay reachable for as long as the state is.
   */
  step(tokens: Tensor | Int32Array | readonly number[], state: GPTState): { logits: Tensor; state: GPTState } {
    if (!(this.training && this.config.dropout > 0) && canFuseStep(this.parameterList())) return this.fusedStep(this.bufs.readTokens(tokens), state);
    const ids = tokens instanceof Tensor ? Int32Array.from(tokens.buf) : Int32Array.from(tokens);
    const r = this.run('gpt.step', ids, ids.length, 1, state);
    return { logits: reshape(r.logits, [ids.length, this.vocabSize]), state: r.state };
  }

  /**
   * `step` with one fused kernel call per block (ops/step.ts) over a KV cache grown in place for any number
   * of streams (kv-cache.ts: a slab per layer, the state's tensors made only when read).
   * The returned state is new; the caller's is left as it was, like the op-by-op step's.
   */
  private readonly bufs = new StepBuffers();
  private headNorm: HeadNorm | null = null;

  private fusedStep(ids: Int32Array, state: GPTState): { logits: Tensor; state: GPTState } {
    const layers = state.layers.slice();
    return { logits: this.advance('gpt.step', ids, state, layers, null, null), state: { layers } };
  }

  /**
   * `step` that advances `state` itself (StreamSession's own state): its layer caches are replaced by the
   * ones one token longer, written into the slab the state already owns while it has room. The slabs the
   * state outgrows are freed at once (nothing else can see them), and `releaseState` frees the rest, so a
   * session's KV memory does not wait for a garbage collection that a small JS heap may not trigger.
   */
  stepInPlace(tokens: Tensor | Int32Array | readonly number[], state: GPTState, out?: Tensor): Tensor | null {
    if ((this.training && this.config.dropout > 0) || !canFuseStep(this.parameterList())) return null;
    const ids = this.bufs.readTokens(tokens);
    if (out !== undefined) checkLogitsOut('gpt.stepInPlace', out, ids.length, this.vocabSize);
    let owned = this.ownedSlabs.get(state);
    if (owned === undefined) this.ownedSlabs.set(state, owned = []);
    return this.advance('gpt.stepInPlace', ids, state, state.layers, out ?? null, owned);
  }

  /** Free now the KV slabs `stepInPlace` gave `state`; the state must not be used again. */
  releaseState(state: GPTState): void {
    const p = gptPosition(state);
    for (const slab of this.ownedSlabs.get(state) ?? []) releaseOwned(slab, p);
    this.ownedSlabs.delete(state);
  }

  /** The slab per layer each in-place state owns (stepInPlace's states only; value states are GC'd). */
  private readonly ownedSlabs = new WeakMap<GPTState, Slab[]>();

  /** One token for every stream of `state`: the caches one token longer go into `layers`; logits returned. */
  private advance(op: string, ids: Int32Array, state: GPTState, layers: GPTLayerCache[], out: Tensor | null, owned: Slab[] | null): Tensor {
    const n = ids.length, C = this.config.nEmbd;
    const p = checkGPTState(op, state, this.config, n);
    this.checkRoom(op, p, 1);
    const x = this.bufs.embed(op, this.wte.weight, ids), pos = this.wpe.weight.buf;
    for (let i = 0; i < n * C; i++) x[i]! += pos[p * C + (i % C)]!;
    for (let l = 0; l < this.blocks.length; l++) {
      // An owned cache takes the new row where it lies (no allocation); otherwise a new layer cache.
      let slab = owned !== null ? extendInPlace(state.layers[l]!, p) : null;
      if (slab === null) {
        const r = extendCache(state.layers[l]!, n, p, C, this.config.blockSize);
        slab = r.slab;
        layers[l] = r.next();
        // In place, a slab that extendCache returns is always a new one (the old one was full or not the
        // state's own): the state owns it. A slab the state did not make (a value state handed to stepInPlace)
        // is never freed here.
        if (owned !== null) {
          const prev = owned[l];
          if (prev !== undefined && prev !== slab) releaseOwned(prev, p);
          owned[l] = slab;
        }
      }
      this.blocks[l]!.fusedStep(x, n, this.config.nHead, p, slab.cap, slab.k, slab.v);
    }
    this.headNorm ??= { kind: 'layer', weight: this.lnF.weight, bias: this.lnF.bias, eps: GPT_LAYER_NORM_EPS };
    return this.bufs.head(x, n, this.headNorm, this.wte.weight, out);
  }

  private run(op: string, ids: Int32Array, n: number, t: number, state: GPTState | null): { logits: Tensor; state: GPTState } {
    const past = state ?? this.initState(n);
    const p = checkGPTState(op, past, this.config, n);
    this.checkRoom(op, p, t);
    const pos = Int32Array.from({ length: t }, (_, i) => p + i);
    let x = add(this.wte.forward(ids, [n, t]), this.wpe.forward(pos, [t])); // [n, t, C] + [t, C]
    x = dropout(x, this.config.dropout, this.training); //                    transformer.drop
    const ops = this.blockOps();
    const layers = this.blocks.map((block, l) => {
      const r = block.forward(x, past.layers[l]!, ops);
      x = r.x;
      return r.cache;
    });
    const logits = linear(this.lnF.forward(x), this.wte.weight); //           lm_head, tied to wte
    return { logits, state: { layers } };
  }

  /** Positions come from wpe's blockSize rows: p cached plus t new tokens must fit. */
  private checkRoom(op: string, p: number, t: number): void {
    if (p + t > this.config.blockSize) {
      const bs = this.config.blockSize;
      throw new ShapeError(
        {
          op,
          hint: `positions come from a learned table of blockSize rows (transformer.wpe); keep at most the last ${bs} tokens `
            + 'and start a new state from them (nanoGPT crops its context the same way), or use a model with a larger blockSize',
        },
        p === 0
          ? `cannot forward a sequence of length ${t}, block size is only ${bs}`
          : `cannot forward ${t} more token${t === 1 ? '' : 's'} after the ${p} in the cache (${p + t} positions), block size is only ${bs}`,
      );
    }
  }

  private blockOps(): GPTBlockOps {
    const { dropout: p, nHead: H } = this.config;
    const training = this.training;
    return {
      eps: GPT_LAYER_NORM_EPS,
      attend: training && p > 0
        ? (q, k, v) => causalAttentionComposite(q, k, v, H, { p, training })
        : (q, k, v) => causalAttention(q, k, v, H),
      drop: (x) => dropout(x, p, training),
    };
  }

  /**
   * Build from a checkpoint under nanoGPT's names (also HF GPT-2's, with its Conv1D weights transposed; see
   * weights.ts). The config is read off the shapes; nHead changes no shape, so `config.nHead` is required
   * (a nanoGPT ckpt.pt states it: `GPT.configFromModelArgs(objects.model_args)`). Explicit fields override.
   */
  static fromStateDict(dict: Readonly<Record<string, Tensor>>, config: GPTConfig = {}): GPT {
    const canonical = canonicalGPTStateDict(dict).dict;
    const m = new GPT({ ...inferGPTConfig(canonical, config.nHead), ...config });
    m.loadStateDict(canonical);
    return m;
  }

  /** nanoGPT's checkpoint `model_args` (`readTorch(ckptPt).objects.model_args`) as a config for fromStateDict. */
  static configFromModelArgs(modelArgs: unknown): GPTConfig {
    return gptConfigFromModelArgs(modelArgs);
  }
}

/**
 * Free a slab an in-place state made, left with p rows: only when no other layer cache took a row past them
 * (`model.step` on that state extends the slab as a value, and its state still reads it), else the garbage
 * collector frees it once that state is gone.
 */
function releaseOwned(slab: Slab, p: number): void {
  if (slab.filled === p) releaseSlab(slab);
}

/** Parameters of a GPT (the tied head counted once). */
export function gptParamCount(c: Required<GPTConfig>): number {
  return gptParamShapes(c).reduce((s, [k, shape]) => (k === 'lm_head.weight' ? s : s + shape.reduce((a, b) => a * b, 1)), 0);
}

export const gptFamily: FamilySpec = {
  title: 'GPT (KV cache)',
  create: (config) => new GPT(parseGPTConfig(config, 'createModel(gpt)')),
  fromStateDict: (dict, config) => GPT.fromStateDict(dict, parseGPTConfig(config ?? {}, 'GPT.fromStateDict')),
  /** Two layers, head width 16, blockSize 256; the width grows in steps of 16 while the count fits. */
  configForBudget: (vocabSize, params) => {
    const at = (nEmbd: number) => ({ ...GPT_DEFAULTS, vocabSize, blockSize: 256, nLayer: 2, nHead: nEmbd / 16, nEmbd });
    let C = 16;
    while (gptParamCount(at(C + 16)) <= params) C += 16;
    return at(C);
  },
  parameterCount: (config) => gptParamCount({ ...GPT_DEFAULTS, ...parseGPTConfig(config, 'GPT') } as Required<GPTConfig>),
};
