/**
 * safetensors codec on raw records (shape + Float32Array), independent of the Tensor class.
 *
 * Layout (https://github.com/huggingface/safetensors): 8-byte little-endian u64 header length N, N bytes of UTF-8
 * JSON, then the data buffer. Each header entry is `{dtype, shape, data_offsets: [begin, end]}` relative to the
 * buffer start; the optional `__metadata__` entry is a string → string map.
 *
 * Decoding is strict: every malformed input throws `WeightImportError`, never a RangeError, and never reads out of
 * bounds. One deliberate leniency versus the reference: gaps between tensors (and trailing bytes) are accepted;
 * overlaps and out-of-range offsets are not.
 */

import { WeightImportError, fmtShape } from '../tensor/errors.js';

export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export interface RawTensor {
  shape: number[];
  data: Float32Array;
  dtype: SafetensorsDType;
}

/** Same limit as the Rust reference (`MAX_HEADER_SIZE`), so a corrupt length cannot make us allocate gigabytes. */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

const ITEM_SIZE: Record<SafetensorsDType, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Dtypes the format defines that seqlab does not read (yet); named separately so the error says so. */
const KNOWN_UNSUPPORTED = new Set(['U16', 'U32', 'U64', 'F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F6_E2M3', 'F6_E3M2', 'F4', 'C64']);

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const SUPPORTED_LIST = Object.keys(ITEM_SIZE).join(', ');

// ---------------------------------------------------------------------------------------------------------------
// Scalar conversions

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE half bits → value (exact: every f16 is representable in f32). */
export function f16ToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** bfloat16 bits → value (bf16 is the top half of an f32). */
export function bf16ToF32(bits: number): number {
  u32Scratch[0] = (bits & 0xffff) << 16;
  return f32Scratch[0]!;
}

/**
 * Value → IEEE half bits, rounding to nearest even. The input is first rounded to float32, so the result is what
 * numpy's `float32.astype(float16)` and PyTorch's `.half()` give (no double rounding surprises against them).
 */
export function f32ToF16(value: number): number {
  f32Scratch[0] = value;
  const f = u32Scratch[0]!;
  const sign = (f >>> 16) & 0x8000;
  const fExp = f & 0x7f800000;
  let fSig = f & 0x007fffff;
  if (fExp >= 0x47800000) {
    // Inf/NaN, or too large for half (≥ 2^16) → ±inf. NaN becomes the canonical quiet NaN, as in PyTorch.
    if (fExp === 0x7f800000 && fSig !== 0) return sign | 0x7e00;
    return sign | 0x7c00;
  }
  if (fExp <= 0x38000000) {
    // Half subnormal (or zero). Below 2^-25 everything rounds to ±0.
    if (fExp < 0x33000000) return sign;
    const e = fExp >>> 23;
    fSig = (0x00800000 + fSig) >>> (113 - e);
    // Round half to even; the low bits shifted out above count as "more than half" when any is set.
    if ((fSig & 0x3fff) !== 0x1000 || (f & 0x7ff) !== 0) fSig += 0x1000;
    return sign | (fSig >>> 13); // a carry into the exponent gives the smallest normal, which is correct
  }
  const hExp = (fExp - 0x38000000) >>> 13;
  if ((fSig & 0x3fff) !== 0x1000) fSig += 0x1000;
  return sign | (hExp + (fSig >>> 13)); // a carry may reach exponent 31 = inf, which is correct
}

/** Value → bfloat16 bits, rounding to nearest even (as PyTorch does). */
export function f32ToBf16(value: number): number {
  f32Scratch[0] = value;
  const f = u32Scratch[0]!;
  if ((f & 0x7f800000) === 0x7f800000 && (f & 0x007fffff) !== 0) return ((f >>> 16) & 0x8000) | 0x7fc0; // canonical quiet NaN
  return ((f + 0x7fff + ((f >>> 16) & 1)) >>> 16) & 0xffff;
}

let f16Table: Float32Array | undefined;
/** 256 KB lookup table, built on first F16 read, so large half-precision checkpoints decode quickly. */
function getF16Table(): Float32Array {
  if (f16Table === undefined) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16ToF32(h);
  }
  return f16Table;
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding

export interface DecodedSafetensors {
  tensors: Record<string, RawTensor>;
  metadata: Record<string, string>;
}

/** Keys go into messages; keep a hostile 100 MB key from producing a 100 MB message. */
function q(key: string): string {
  const s = JSON.stringify(key.length > 200 ? `${key.slice(0, 200)}…` : key);
  return s;
}

/** A short, bounded preview of a JSON value: depth and width are cut, so a hostile nesting cannot overflow the stack. */
function preview(v: unknown, depth = 0): string {
  if (Array.isArray(v)) {
    if (depth >= 3) return v.length === 0 ? '[]' : '[…]';
    const items = v.slice(0, 8).map((x) => preview(x, depth + 1));
    return `[${items.join(',')}${v.length > 8 ? ',…' : ''}]`;
  }
  if (typeof v === 'object' && v !== null) return depth >= 3 ? '{…}' : `{${Object.keys(v).slice(0, 4).map((k) => q(k)).join(',')}…}`;
  return typeof v === 'string' ? q(v) : String(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) {
    const s = preview(v);
    return `array ${s.length > 80 ? `${s.slice(0, 80)}…` : s}`;
  }
  if (typeof v === 'string') return `string ${q(v)}`;
  if (typeof v === 'object') return 'object';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return typeof v;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Defines an own property, so a key named `__proto__` is stored as data instead of replacing the prototype. */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function isSafeNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

interface Entry {
  key: string;
  dtype: SafetensorsDType;
  shape: number[];
  numel: number;
  begin: number;
  end: number;
}

/**
 * Parses and validates a safetensors file. Values of every supported dtype are widened (F64 narrowed) to float32;
 * the returned arrays are copies, not views into `bytes`. `source` names the file in error messages.
 */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors'): DecodedSafetensors {
  const op = source;
  try {
    return decodeUnchecked(bytes, op);
  } catch (e) {
    if (e instanceof WeightImportError) throw e;
    // Safety net: any other exception here is our bug, but callers were promised one error class.
    const err = new WeightImportError(
      { op, hint: 'this looks like a seqlab bug; please report it with the file.' },
      `could not decode the file (${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}):`,
    );
    err.cause = e;
    throw err;
  }
}

function decodeUnchecked(bytes: Uint8Array, op: string): DecodedSafetensors {
  if (!(bytes instanceof Uint8Array)) {
    throw new WeightImportError({ op, expected: 'a Uint8Array', got: describe(bytes) }, 'input is not bytes:');
  }
  const fileLen = bytes.length;
  if (fileLen < 8) {
    throw new WeightImportError(
      {
        op,
        expected: 'at least 8 bytes (the u64 header length)',
        got: `${fileLen} bytes`,
        hint: 'the file is truncated or empty.',
      },
      'file too short:',
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
    throw new WeightImportError(
      {
        op,
        expected: `at most ${SAFETENSORS_MAX_HEADER_BYTES} bytes`,
        got: `${n64} bytes`,
        hint: 'this is probably not a safetensors file, or its first 8 bytes are corrupt.',
      },
      'header length too large:',
    );
  }
  const n = Number(n64);
  if (8 + n > fileLen) {
    throw new WeightImportError(
      {
        op,
        expected: `at most ${fileLen - 8} bytes (file is ${fileLen} bytes)`,
        got: `${n} bytes`,
        hint: 'the file is truncated.',
      },
      'header length past the end of the file:',
    );
  }

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    throw new WeightImportError({ op, expected: 'UTF-8 JSON', got: 'invalid UTF-8' }, 'header is not valid UTF-8:');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    throw new WeightImportError({ op, expected: 'a JSON object', got: `invalid JSON (${detail})` }, 'header is not valid JSON:');
  }
  if (!isPlainObject(header)) {
    throw new WeightImportError({ op, expected: 'a JSON object', got: describe(header) }, 'header is not a JSON object:');
  }

  const bufferStart = 8 + n;
  const bufferLen = fileLen - bufferStart;
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];

  for (const key of Object.keys(header)) {
    const value = header[key];
    if (key === '__metadata__') {
      if (value === null) continue; // the reference (serde Option) reads null as "no metadata"
      if (!isPlainObject(value)) {
        throw new WeightImportError(
          { op, expected: 'an object of strings', got: describe(value) },
          '__metadata__ is not an object:',
        );
      }
      for (const mk of Object.keys(value)) {
        const mv = value[mk];
        if (typeof mv !== 'string') {
          throw new WeightImportError(
            {
              op,
              expected: 'a string',
              got: describe(mv),
              hint: 'safetensors metadata maps strings to strings; JSON-encode other values.',
            },
            `__metadata__ value for key ${q(mk)} is not a string:`,
          );
        }
        setOwn(metadata, mk, mv);
      }
      continue;
    }
    entries.push(parseEntry(op, key, value, bufferLen));
  }

  // Overlap check: sorted by begin, each range must start at or after every earlier range's end.
  const sorted = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let prev: Entry | undefined;
  for (const e of sorted) {
    if (prev !== undefined && e.begin < prev.end) {
      throw new WeightImportError(
        {
          op,
          expected: `begin >= ${prev.end} (the end of tensor ${q(prev.key)} at [${prev.begin}, ${prev.end}])`,
          got: `[${e.begin}, ${e.end}]`,
        },
        `tensor ${q(e.key)} data_offsets overlap another tensor:`,
      );
    }
    if (prev === undefined || e.end >= prev.end) prev = e;
  }

  const tensors: Record<string, RawTensor> = {};
  for (const e of entries) {
    setOwn(tensors, e.key, { shape: e.shape, data: convert(op, e, bytes, bufferStart), dtype: e.dtype });
  }
  return { tensors, metadata };
}

function parseEntry(op: string, key: string, value: unknown, bufferLen: number): Entry {
  const what = `tensor ${q(key)}`;
  if (!isPlainObject(value)) {
    throw new WeightImportError(
      { op, expected: 'an object {dtype, shape, data_offsets}', got: describe(value) },
      `${what} entry is not an object:`,
    );
  }
  for (const field of ['dtype', 'shape', 'data_offsets']) {
    if (!Object.prototype.hasOwnProperty.call(value, field)) {
      throw new WeightImportError(
        { op, expected: 'fields dtype, shape, data_offsets', got: `fields ${JSON.stringify(Object.keys(value))}` },
        `${what} entry is missing "${field}":`,
      );
    }
  }

  const dtype = value['dtype'];
  if (typeof dtype !== 'string') {
    throw new WeightImportError({ op, expected: 'a dtype string', got: describe(dtype) }, `${what} dtype is not a string:`);
  }
  if (!Object.prototype.hasOwnProperty.call(ITEM_SIZE, dtype)) {
    throw new WeightImportError(
      {
        op,
        expected: `one of ${SUPPORTED_LIST}`,
        got: q(dtype),
        ...(KNOWN_UNSUPPORTED.has(dtype) ? { hint: `convert ${dtype} tensors to F32, F16 or BF16 before loading.` } : {}),
      },
      KNOWN_UNSUPPORTED.has(dtype) ? `${what} has unsupported dtype:` : `${what} has unknown dtype:`,
    );
  }
  const dt = dtype as SafetensorsDType;

  const shapeRaw = value['shape'];
  if (!Array.isArray(shapeRaw)) {
    throw new WeightImportError({ op, expected: 'an array of dims', got: describe(shapeRaw) }, `${what} shape is not an array:`);
  }
  const shape: number[] = [];
  let numel = 1;
  for (let i = 0; i < shapeRaw.length; i++) {
    const d: unknown = shapeRaw[i];
    if (!isSafeNonNegInt(d)) {
      throw new WeightImportError(
        { op, expected: 'non-negative integer dims', got: `dim ${i} = ${describe(d)}` },
        `${what} has an invalid shape:`,
      );
    }
    shape.push(d + 0); // normalises -0
    numel *= d; // may lose precision past 2^53; then it cannot match the byte length below, which is what matters
  }

  const offs = value['data_offsets'];
  if (!Array.isArray(offs) || offs.length !== 2 || !isSafeNonNegInt(offs[0]) || !isSafeNonNegInt(offs[1])) {
    throw new WeightImportError(
      { op, expected: '[begin, end] non-negative integers', got: describe(offs) },
      `${what} has invalid data_offsets:`,
    );
  }
  const begin: number = offs[0];
  const end: number = offs[1];
  if (begin > end) {
    throw new WeightImportError(
      { op, expected: 'begin <= end', got: `[${begin}, ${end}]` },
      `${what} data_offsets begin > end:`,
    );
  }
  if (end > bufferLen) {
    throw new WeightImportError(
      {
        op,
        expected: `end <= ${bufferLen} (the data buffer size)`,
        got: `[${begin}, ${end}]`,
        hint: 'the file is truncated or the header is corrupt.',
      },
      `${what} data_offsets out of range:`,
    );
  }
  const itemSize = ITEM_SIZE[dt];
  if (end - begin !== numel * itemSize) {
    throw new WeightImportError(
      {
        op,
        expected: `${numel * itemSize} bytes (${fmtShape(shape)} × ${itemSize} bytes for ${dt})`,
        got: `${end - begin} bytes at [${begin}, ${end}]`,
      },
      `${what} shape does not match its byte size:`,
    );
  }
  return { key, dtype: dt, shape, numel, begin, end };
}

function convert(op: string, e: Entry, bytes: Uint8Array, bufferStart: number): Float32Array {
  const start = bufferStart + e.begin;
  const end = bufferStart + e.end;
  const n = e.numel;
  // copy() writes into a fresh, aligned ArrayBuffer, so typed views need no alignment care.
  const copy = (): ArrayBuffer => {
    // Not bytes.slice(): on a Node Buffer that is a view into a shared pool, not a copy.
    const c = new Uint8Array(end - start);
    c.set(bytes.subarray(start, end));
    return c.buffer;
  };
  const dv = (): DataView => new DataView(bytes.buffer, bytes.byteOffset + start, end - start);
  const out = new Float32Array(n);
  switch (e.dtype) {
    case 'F32':
      if (LITTLE_ENDIAN_HOST) return new Float32Array(copy());
      for (let i = 0, v = dv(); i < n; i++) out[i] = v.getFloat32(4 * i, true);
      return out;
    case 'F64':
      if (LITTLE_ENDIAN_HOST) out.set(new Float64Array(copy()));
      else for (let i = 0, v = dv(); i < n; i++) out[i] = v.getFloat64(8 * i, true);
      return out;
    case 'F16': {
      const t = getF16Table();
      for (let i = 0, v = dv(); i < n; i++) out[i] = t[v.getUint16(2 * i, true)]!;
      return out;
    }
    case 'BF16': {
      const u = new Uint32Array(out.buffer);
      for (let i = 0, v = dv(); i < n; i++) u[i] = v.getUint16(2 * i, true) << 16;
      return out;
    }
    case 'I64': {
      const v = dv();
      for (let i = 0; i < n; i++) {
        const x = v.getBigInt64(8 * i, true);
        if (x > 9007199254740992n || x < -9007199254740992n) {
          throw new WeightImportError(
            {
              op,
              expected: '|value| <= 2^53',
              got: `${x} at flat index ${i}`,
              hint: 'seqlab reads integer tensors as float32 values; store this tensor as a float type.',
            },
            `tensor ${q(e.key)} has an I64 value too large to convert:`,
          );
        }
        out[i] = Number(x);
      }
      return out;
    }
    case 'I32':
      if (LITTLE_ENDIAN_HOST) out.set(new Int32Array(copy()));
      else for (let i = 0, v = dv(); i < n; i++) out[i] = v.getInt32(4 * i, true);
      return out;
    case 'I16':
      if (LITTLE_ENDIAN_HOST) out.set(new Int16Array(copy()));
      else for (let i = 0, v = dv(); i < n; i++) out[i] = v.getInt16(2 * i, true);
      return out;
    case 'I8':
      out.set(new Int8Array(bytes.buffer, bytes.byteOffset + start, n));
      return out;
    case 'U8':
      out.set(bytes.subarray(start, end));
      return out;
    case 'BOOL':
      // PyTorch writes 0/1; any other non-zero byte is read as true, as C does.
      for (let i = 0; i < n; i++) out[i] = bytes[start + i] !== 0 ? 1 : 0;
      return out;
    default:
      return e.dtype satisfies never;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding

/** Code-point order, as the Rust implementation sorts names (JS's default sort compares UTF-16 units). */
function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done === true) return y.done === true ? 0 : -1;
    if (y.done === true) return 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

/**
 * Writes float32 tensors as safetensors: keys sorted, `__metadata__` first, header padded with spaces to a multiple
 * of 8 bytes (like the Rust implementation) so the data buffer starts 8-byte aligned.
 */
export function encodeSafetensors(
  tensors: Record<string, { shape: readonly number[]; data: Float32Array }>,
  metadata?: Record<string, string>,
): Uint8Array {
  const op = 'encodeSafetensors';
  const keys = Object.keys(tensors).sort(compareCodePoints);
  const parts: string[] = [];

  if (metadata !== undefined) {
    const mparts: string[] = [];
    for (const mk of Object.keys(metadata)) {
      const mv: unknown = metadata[mk];
      if (typeof mv !== 'string') {
        throw new WeightImportError(
          { op, expected: 'a string', got: describe(mv), hint: 'JSON-encode non-string metadata values.' },
          `metadata value for key ${q(mk)} is not a string:`,
        );
      }
      mparts.push(`${JSON.stringify(mk)}:${JSON.stringify(mv)}`);
    }
    parts.push(`"__metadata__":{${mparts.join(',')}}`);
  }

  let offset = 0;
  const placed: { data: Float32Array; offset: number }[] = [];
  for (const key of keys) {
    if (key === '__metadata__') {
      throw new WeightImportError(
        {
          op,
          expected: 'a tensor name other than "__metadata__"',
          got: '"__metadata__"',
          hint: 'pass metadata as the second argument.',
        },
        'reserved tensor name:',
      );
    }
    const t = tensors[key]!;
    const shape: unknown = t?.shape;
    if (!Array.isArray(shape) || !shape.every(isSafeNonNegInt)) {
      throw new WeightImportError(
        { op, expected: 'an array of non-negative integers', got: describe(shape) },
        `tensor ${q(key)} has an invalid shape:`,
      );
    }
    if (!(t.data instanceof Float32Array)) {
      throw new WeightImportError(
        { op, expected: 'a Float32Array', got: describe(t.data) },
        `tensor ${q(key)} data is not a Float32Array:`,
      );
    }
    const numel = shape.reduce((a: number, b: number) => a * b, 1);
    if (t.data.length !== numel) {
      throw new WeightImportError(
        { op, expected: `${numel} values for shape ${fmtShape(shape)}`, got: `${t.data.length} values` },
        `tensor ${q(key)} data length does not match its shape:`,
      );
    }
    const size = numel * 4;
    const dims = JSON.stringify(shape.map((d: number) => d + 0));
    parts.push(`${JSON.stringify(key)}:{"dtype":"F32","shape":${dims},"data_offsets":[${offset},${offset + size}]}`);
    placed.push({ data: t.data, offset });
    offset += size;
  }

  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  const base = 8 + headerLen;
  for (const { data, offset: off } of placed) {
    if (LITTLE_ENDIAN_HOST) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), base + off);
    else for (let i = 0; i < data.length; i++) view.setFloat32(base + off + 4 * i, data[i]!, true);
  }
  return out;
}
