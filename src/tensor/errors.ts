/**
 * seqlab's error hierarchy. Every error names the op (or argument), what was expected and what arrived,
 * so a user can fix the call without reading our source.
 */

export interface ErrorFields {
  /** The public op, module method or argument that rejected the input, e.g. `lstm.forward`. */
  op: string;
  /** What was expected, in words or a shape like `[t, b, 32]`. */
  expected?: string;
  /** What arrived. */
  got?: string;
  /** How to fix it, when we can tell. */
  hint?: string;
}

function compose(f: ErrorFields, what: string): string {
  // `what` may be empty (most errors say it all in expected/got); avoid a double space then.
  let msg = what === '' ? `${f.op}:` : `${f.op}: ${what}`;
  if (f.expected !== undefined) msg += ` expected ${f.expected}`;
  if (f.got !== undefined) msg += `${f.expected !== undefined ? ',' : ''} got ${f.got}`;
  msg += '.';
  if (f.hint !== undefined) msg += ` Hint: ${f.hint}`;
  return msg;
}

export class SeqlabError extends Error {
  readonly op: string;
  readonly expected: string | undefined;
  readonly got: string | undefined;
  readonly hint: string | undefined;
  constructor(fields: ErrorFields, what = '') {
    super(compose(fields, what));
    this.name = new.target.name;
    this.op = fields.op;
    this.expected = fields.expected;
    this.got = fields.got;
    this.hint = fields.hint;
  }
}

/** A tensor or argument has the wrong shape. */
export class ShapeError extends SeqlabError {}
/** A tensor has the wrong dtype, or an integer was required. */
export class DTypeError extends SeqlabError {}
/** A module or function option is invalid. */
export class ConfigError extends SeqlabError {}
/** Weights or a file could not be read or matched (safetensors, state dicts, checkpoints). */
export class WeightImportError extends SeqlabError {}
/** A requested kernel backend is not available here. */
export class KernelUnavailableError extends SeqlabError {}

/** Shapes printed the way PyTorch users read them: `[2, 3, 4]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
