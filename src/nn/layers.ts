/**
 * Basic layers with PyTorch's names, parameter shapes, initialisation and defaults: Linear, Embedding,
 * Dropout. Each `forward` checks its input once and names the module in the error.
 */
import { dropout, indexSelect, linear } from '../ops/index.js';
import { zeros } from '../tensor/creation.js';
import { ConfigError, DTypeError, ShapeError, fmtShape } from '../tensor/errors.js';
import { Generator, defaultGenerator } from '../tensor/random.js';
import { stridesOf } from '../tensor/shape.js';
import { Tensor, tensor, type DType, type NestedArray } from '../tensor/tensor.js';
import { kaimingUniform_, normal_, uniform_ } from './init.js';
import { Module, parameter } from './module.js';

function checkSize(op: string, name: string, v: number, min = 1): void {
  if (!Number.isInteger(v) || v < min) {
    throw new ConfigError({ op, expected: `${name} to be an integer ≥ ${min}`, got: String(v) });
  }
}

// ---------------------------------------------------------------- Linear

export interface LinearOptions {
  inFeatures: number;
  outFeatures: number;
  bias?: boolean;
  /** Parameter dtype (float64 is for gradient checks). */
  dtype?: DType;
}

/**
 * y = x·Wᵀ + b for x [..., inFeatures] → y [..., outFeatures]. `weight` is [out, in] like PyTorch.
 * Init as nn.Linear.reset_parameters: W ~ kaiming_uniform(a=√5) = U(−1/√in, 1/√in), b ~ U(−1/√in, 1/√in).
 */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(opts: LinearOptions) {
    super();
    checkSize('Linear', 'inFeatures', opts.inFeatures, 0);
    checkSize('Linear', 'outFeatures', opts.outFeatures, 0);
    this.inFeatures = opts.inFeatures;
    this.outFeatures = opts.outFeatures;
    const dtype = opts.dtype ?? 'float32';
    this.weight = this.registerParameter('weight', parameter(zeros([this.outFeatures, this.inFeatures], { dtype })));
    this.bias = this.registerParameter('bias', (opts.bias ?? true) ? parameter(zeros([this.outFeatures], { dtype })) : null);
    this.resetParameters();
  }

  resetParameters(generator: Generator = defaultGenerator): void {
    kaimingUniform_(this.weight, { a: Math.sqrt(5), generator });
    if (this.bias) {
      const bound = this.inFeatures > 0 ? 1 / Math.sqrt(this.inFeatures) : 0;
      uniform_(this.bias, -bound, bound, generator);
    }
  }

  forward(x: Tensor): Tensor {
    if (x.ndim < 1 || x.shape[x.ndim - 1] !== this.inFeatures) {
      throw new ShapeError(
        { op: 'linear.forward', expected: `[..., ${this.inFeatures}] (inFeatures=${this.inFeatures})`, got: fmtShape(x.shape) },
        'wrong input shape:',
      );
    }
    return linear(x, this.weight, this.bias);
  }
}

// ---------------------------------------------------------------- Embedding

/** Integer ids: a tensor of integer values, a flat Int32Array/number[] or nested arrays (`number[][]`). */
export type Indices = Tensor | Int32Array | readonly number[] | readonly NestedArray[];

export interface EmbeddingOptions {
  numEmbeddings: number;
  embeddingDim: number;
  /** This row is zeroed at init and never receives a gradient (negative values count from the end). */
  paddingIdx?: number;
  dtype?: DType;
}

/** A lookup table [numEmbeddings, embeddingDim] ~ N(0, 1): ids [...] → vectors [..., embeddingDim]. */
export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly paddingIdx: number | null;
  readonly weight: Tensor;

  constructor(opts: EmbeddingOptions) {
    super();
    checkSize('Embedding', 'numEmbeddings', opts.numEmbeddings);
    checkSize('Embedding', 'embeddingDim', opts.embeddingDim, 0);
    this.numEmbeddings = opts.numEmbeddings;
    this.embeddingDim = opts.embeddingDim;
    const p = opts.paddingIdx;
    if (p !== undefined && (!Number.isInteger(p) || p >= this.numEmbeddings || p < -this.numEmbeddings)) {
      throw new ConfigError({ op: 'Embedding', expected: `paddingIdx in [${-this.numEmbeddings}, ${this.numEmbeddings})`, got: String(p) });
    }
    this.paddingIdx = p === undefined ? null : p < 0 ? p + this.numEmbeddings : p;
    this.weight = this.registerParameter('weight', parameter(zeros([this.numEmbeddings, this.embeddingDim], { dtype: opts.dtype ?? 'float32' })));
    this.resetParameters();
  }

  resetParameters(generator: Generator = defaultGenerator): void {
    normal_(this.weight, 0, 1, generator);
    if (this.paddingIdx !== null) this.weight.buf.fill(0, this.paddingIdx * this.embeddingDim, (this.paddingIdx + 1) * this.embeddingDim);
  }

  /** `shape` gives the id layout of a flat Int32Array/number[] (default: 1-D). */
  forward(ids: Indices, shape?: readonly number[]): Tensor {
    const { values, idShape } = readIndices('embedding.forward', ids, shape);
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isInteger(v) || v < 0 || v >= this.numEmbeddings) {
        const at = fmtShape(unravel(i, idShape));
        throw new ShapeError(
          {
            op: 'embedding.forward', expected: `ids in [0, ${this.numEmbeddings}) (numEmbeddings=${this.numEmbeddings})`, got: `${v} at ${at}`,
            hint: 'the tokenizer or data has a larger vocabulary than numEmbeddings',
          },
          'id out of range:',
        );
      }
    }
    return indexSelect(this.weight, Int32Array.from(values), idShape, this.paddingIdx ?? -1);
  }
}

function readIndices(op: string, ids: Indices, shape?: readonly number[]): { values: Int32Array | Float32Array | Float64Array; idShape: readonly number[] } {
  if (ids instanceof Tensor) return { values: ids.buf, idShape: ids.shape };
  if (ids instanceof Int32Array || (ids.length > 0 && !Array.isArray(ids[0]))) {
    const values = ids instanceof Int32Array ? ids : Float64Array.from(ids as readonly number[]);
    const idShape = shape ?? [values.length];
    if (idShape.reduce((a, b) => a * b, 1) !== values.length) {
      throw new ShapeError({ op, expected: `${values.length} ids for shape ${fmtShape(idShape)}`, got: `${values.length}` });
    }
    return { values, idShape };
  }
  if (!Array.isArray(ids)) throw new DTypeError({ op, expected: 'a Tensor, Int32Array or (nested) number array of ids', got: typeof ids });
  // Nested arrays: float64 keeps every integer id exact; tensor() reports ragged rows.
  const t = tensor(ids as NestedArray[], undefined, { dtype: 'float64' });
  return { values: t.buf, idShape: t.shape };
}

/** Flat index → multi-index, for error messages. */
function unravel(i: number, shape: readonly number[]): number[] {
  return stridesOf(shape).map((s, d) => Math.floor(i / s) % shape[d]!);
}

// ---------------------------------------------------------------- Dropout

export interface DropoutOptions {
  /** Probability of zeroing an element (default 0.5); survivors are scaled by 1/(1−p). */
  p?: number;
  /** Draw masks from this generator instead of the default one. */
  generator?: Generator;
}

/** Inverted dropout in training mode, identity in eval mode (masks drawn from the seeded generator). */
export class Dropout extends Module {
  readonly p: number;
  private readonly generator: Generator;

  constructor(opts: DropoutOptions = {}) {
    super();
    this.p = opts.p ?? 0.5;
    if (!(this.p >= 0 && this.p <= 1)) throw new ConfigError({ op: 'Dropout', expected: 'p in [0, 1]', got: String(this.p) });
    this.generator = opts.generator ?? defaultGenerator;
  }

  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training, this.generator);
  }
}
