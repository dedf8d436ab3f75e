/**
 * Reading a model config from untrusted input (CLI flags, checkpoint metadata, JSON, `createModel`): a
 * plain object whose keys all belong to the family's config and whose values pass their field's test.
 * Every `FamilySpec.create` goes through here, so a family's constructor only ever sees a typed config.
 */
import { nearestKey } from '../nn/module.js';
import { ConfigError } from '../tensor/errors.js';

/** One config field: the test its value must pass, and what to call a passing value in an error. */
export interface Field {
  readonly ok: (v: unknown) => boolean;
  readonly want: string;
}

/** Each key of a config C with its field (optional keys included). */
export type Schema<C> = { readonly [K in keyof C]-?: Field };

export const positiveInt: Field = { ok: (v) => typeof v === 'number' && Number.isInteger(v) && v >= 1, want: 'a positive integer' };
export const positiveNumber: Field = { ok: (v) => typeof v === 'number' && v > 0, want: 'a positive number' };
/** Any number: the constructor checks its range and says so in its own words. */
export const aNumber: Field = { ok: (v) => typeof v === 'number', want: 'a number' };
export const aBoolean: Field = { ok: (v) => typeof v === 'boolean', want: 'a boolean' };
export const oneOf = (...values: readonly (string | number)[]): Field =>
  ({ ok: (v) => values.includes(v as string | number), want: values.map((x) => JSON.stringify(x)).join(' or ') });

/** What kind of value arrived, for an error message. */
const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

/** `raw` as a plain record, or a ConfigError saying what arrived instead. */
export function configObject(raw: unknown, op: string): Readonly<Record<string, unknown>> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError({ op, expected: 'a config object', got: describe(raw) });
  }
  return { ...raw };
}

/**
 * A config C read from `raw`: it must be an object whose keys are all in `schema` (an unknown key is an
 * error that suggests the nearest known one) and whose values pass their fields; `required` keys must be
 * present. Undefined values count as absent.
 */
export function parseConfig<C extends object>(raw: unknown, schema: Schema<C>, op: string,
  opts: { required?: readonly (keyof C & string)[]; keysLabel?: string } = {}): C {
  const obj = configObject(raw, op);
  const fields = new Map<string, Field>(Object.entries<Field>(schema));
  const keys = [...fields.keys()];
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    const field = fields.get(k);
    if (field === undefined) {
      const near = nearestKey(k, keys);
      throw new ConfigError({ op, expected: `${opts.keysLabel ?? 'config keys'} (${keys.join(', ')})`, got: `'${k}'`, ...(near ? { hint: `did you mean '${near}'?` } : {}) });
    }
    if (!field.ok(v)) throw new ConfigError({ op, expected: `${k} to be ${field.want}`, got: JSON.stringify(v) });
    out[k] = v;
  }
  const required = opts.required ?? [];
  for (const k of required) {
    if (out[k] === undefined) throw new ConfigError({ op, expected: `${k} (required: ${required.join(', ')})`, got: 'none' });
  }
  return out as C; // every key is one of C's and its value passed C's field for it
}
