// Malformed safetensors files: every one must throw WeightImportError with a message naming the problem, and no
// input may crash, hang or read out of bounds.
import { describe, expect, it } from 'vitest';
import { WeightImportError } from '../../src/tensor/errors.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';

const enc = new TextEncoder();

/** A file with header length `len` (defaults to the real JSON length) followed by the header text and data. */
function build(header: unknown, data: Uint8Array = new Uint8Array(0), len?: bigint): Uint8Array {
  const json = enc.encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, len ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function f32(n: number): { dtype: string; shape: number[]; data_offsets: number[] } {
  return { dtype: 'F32', shape: [n], data_offsets: [0, 4 * n] };
}

/** Decodes, asserts a WeightImportError and returns its message. */
function failure(bytes: Uint8Array): string {
  try {
    decodeSafetensors(bytes, 'model.safetensors');
  } catch (e) {
    expect(e).toBeInstanceOf(WeightImportError);
    expect((e as WeightImportError).op).toBe('model.safetensors');
    return (e as Error).message;
  }
  throw new Error('expected decodeSafetensors to throw');
}

describe('malformed safetensors corpus', () => {
  it('truncated: fewer than 8 bytes', () => {
    expect(failure(new Uint8Array(0))).toMatch(/too short/);
    expect(failure(new Uint8Array([1, 0, 0]))).toMatchInlineSnapshot(`"model.safetensors: file too short: expected at least 8 bytes (the u64 header length), got 3 bytes. Hint: the file is truncated or empty."`);
  });

  it('header length past the end of the file', () => {
    expect(failure(build('{}', new Uint8Array(0), 100n))).toMatchInlineSnapshot(`"model.safetensors: header length past the end of the file: expected at most 2 bytes (file is 10 bytes), got 100 bytes. Hint: the file is truncated."`);
  });

  it('header length huge (2^60)', () => {
    expect(failure(build('{}', new Uint8Array(0), 2n ** 60n))).toMatchInlineSnapshot(`"model.safetensors: header length too large: expected at most 100000000 bytes, got 1152921504606846976 bytes. Hint: this is probably not a safetensors file, or its first 8 bytes are corrupt."`);
    expect(failure(build('{}', new Uint8Array(0), 2n ** 64n - 1n))).toMatch(/header length too large/);
  });

  it('header not valid UTF-8', () => {
    const bytes = build('{"a":1}');
    bytes[10] = 0xff;
    expect(failure(bytes)).toMatchInlineSnapshot(`"model.safetensors: header is not valid UTF-8: expected UTF-8 JSON, got invalid UTF-8."`);
  });

  it('invalid JSON', () => {
    expect(failure(build('{"a": {"dtype": "F32", '))).toMatch(/header is not valid JSON/);
  });

  it('JSON array, string or null instead of an object', () => {
    expect(failure(build('[1, 2, 3]'))).toMatchInlineSnapshot(`"model.safetensors: header is not a JSON object: expected a JSON object, got array [1,2,3]."`);
    expect(failure(build('"x"'))).toMatch(/not a JSON object/);
    expect(failure(build('null'))).toMatch(/not a JSON object/);
  });

  it('entry not an object, missing fields, wrong field types', () => {
    expect(failure(build({ w: 3 }))).toMatch(/tensor "w" entry is not an object/);
    expect(failure(build({ w: { dtype: 'F32', shape: [1] } }, new Uint8Array(4)))).toMatchInlineSnapshot(`"model.safetensors: tensor "w" entry is missing "data_offsets": expected fields dtype, shape, data_offsets, got fields ["dtype","shape"]."`);
    expect(failure(build({ w: { dtype: 32, shape: [1], data_offsets: [0, 4] } }))).toMatch(/tensor "w" dtype is not a string/);
    expect(failure(build({ w: { dtype: 'F32', shape: '1', data_offsets: [0, 4] } }))).toMatch(/tensor "w" shape is not an array/);
    expect(failure(build({ w: { dtype: 'F32', shape: [1], data_offsets: [0] } }))).toMatch(/tensor "w" has invalid data_offsets/);
    expect(failure(build({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4.5] } }))).toMatch(/invalid data_offsets/);
    expect(failure(build({ w: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }))).toMatch(/invalid data_offsets/);
    expect(failure(build({ w: { dtype: 'F32', shape: [1], data_offsets: { begin: 0 } } }))).toMatch(/invalid data_offsets/);
  });

  it("unknown dtype 'F8_E9', and a known but unsupported one", () => {
    expect(failure(build({ w: { dtype: 'F8_E9', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)))).toMatchInlineSnapshot(`"model.safetensors: tensor "w" has unknown dtype: expected one of F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL, got "F8_E9"."`);
    expect(failure(build({ w: { dtype: 'U32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)))).toMatch(
      /tensor "w" has unsupported dtype.*Hint: convert U32/,
    );
  });

  it('shape/size mismatch', () => {
    const file = build({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, new Uint8Array(24));
    expect(failure(file)).toMatchInlineSnapshot(`"model.safetensors: tensor "w" shape does not match its byte size: expected 24 bytes ([2, 3] × 4 bytes for F32), got 20 bytes at [0, 20]."`);
  });

  it('shape whose product overflows is a mismatch, not a crash', () => {
    const big = 2 ** 52;
    const file = build({ w: { dtype: 'F32', shape: [big, big, big], data_offsets: [0, 4] } }, new Uint8Array(4));
    expect(failure(file)).toMatch(/shape does not match its byte size/);
  });

  it('negative and non-integer dims', () => {
    expect(failure(build({ w: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 0] } }))).toMatchInlineSnapshot(`"model.safetensors: tensor "w" has an invalid shape: expected non-negative integer dims, got dim 1 = -1."`);
    expect(failure(build({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, new Uint8Array(4)))).toMatch(/invalid shape/);
    expect(failure(build({ w: { dtype: 'F32', shape: ['2'], data_offsets: [0, 8] } }, new Uint8Array(8)))).toMatch(/invalid shape/);
  });

  it('offsets out of range', () => {
    expect(failure(build({ w: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(8)))).toMatchInlineSnapshot(`"model.safetensors: tensor "w" data_offsets out of range: expected end <= 8 (the data buffer size), got [4, 12]. Hint: the file is truncated or the header is corrupt."`);
  });

  it('overlapping offsets', () => {
    const header = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    };
    expect(failure(build(header, new Uint8Array(12)))).toMatchInlineSnapshot(`"model.safetensors: tensor "b" data_offsets overlap another tensor: expected begin >= 8 (the end of tensor "a" at [0, 8]), got [4, 12]."`);
    // A zero-size range strictly inside another tensor is rejected too (the reference rejects it as well).
    const inside = { a: f32(4), e: { dtype: 'F32', shape: [0], data_offsets: [8, 8] } };
    expect(failure(build(inside, new Uint8Array(16)))).toMatch(/tensor "e" data_offsets overlap/);
  });

  it('begin > end', () => {
    expect(failure(build({ w: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, new Uint8Array(8)))).toMatchInlineSnapshot(`"model.safetensors: tensor "w" data_offsets begin > end: expected begin <= end, got [8, 4]."`);
  });

  it('metadata value not a string; metadata not an object', () => {
    expect(failure(build({ __metadata__: { epochs: 3 } }))).toMatchInlineSnapshot(`"model.safetensors: __metadata__ value for key "epochs" is not a string: expected a string, got 3. Hint: safetensors metadata maps strings to strings; JSON-encode other values."`);
    expect(failure(build({ __metadata__: ['a'] }))).toMatch(/__metadata__ is not an object/);
  });

  it('truncated buffer: file cut in the middle of the data', () => {
    const file = encodeSafetensors({ a: { shape: [4], data: new Float32Array(4) }, b: { shape: [8], data: new Float32Array(8) } });
    expect(failure(file.subarray(0, file.length - 10))).toMatch(/tensor "b" data_offsets out of range.*truncated/);
    // Cut inside the header instead: the header length now points past the end.
    expect(failure(file.subarray(0, 20))).toMatch(/header length past the end of the file/);
  });
});

describe('pseudo-fuzz: corrupted valid files decode or throw WeightImportError', () => {
  /** xorshift32: deterministic, so a failure reproduces from its iteration number. */
  function xorshift(seed: number): () => number {
    let s = seed >>> 0 || 1;
    return () => {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      return s;
    };
  }

  const valid = encodeSafetensors(
    {
      'rnn.weight_ih_l0': { shape: [4, 3], data: new Float32Array(12).map((_, i) => Math.sin(i)) },
      'rnn.bias_ih_l0': { shape: [4], data: new Float32Array([1, 2, 3, 4]) },
      scalar: { shape: [], data: new Float32Array([7]) },
      empty: { shape: [0, 2], data: new Float32Array(0) },
    },
    { format: 'pt' },
  );

  function check(bytes: Uint8Array, label: string): 'ok' | 'err' {
    try {
      decodeSafetensors(bytes);
      return 'ok';
    } catch (e) {
      if (!(e instanceof WeightImportError)) throw new Error(`${label}: threw ${String(e)}`);
      if (!/could not decode the file/.test(e.message)) return 'err';
      throw new Error(`${label}: hit the internal safety net: ${e.message}`);
    }
  }

  it('500 seeded mutations (bit flips, byte sets, truncations, header-length rewrites)', () => {
    const rand = xorshift(0x5eed1234);
    const counts = { ok: 0, err: 0 };
    const headerLen = Number(new DataView(valid.buffer).getBigUint64(0, true));
    for (let iter = 0; iter < 500; iter++) {
      const kind = rand() % 4;
      // Bias half the positions into the header, where structure lives.
      const pos = rand() % 2 === 0 ? rand() % (8 + headerLen) : rand() % valid.length;
      let bytes: Uint8Array;
      if (kind === 0) {
        bytes = valid.slice();
        bytes[pos] = bytes[pos]! ^ (1 << rand() % 8);
      } else if (kind === 1) {
        bytes = valid.slice();
        bytes[pos] = rand() & 0xff;
      } else if (kind === 2) {
        bytes = valid.slice(0, pos);
      } else {
        bytes = valid.slice();
        new DataView(bytes.buffer).setUint32(rand() % 2 === 0 ? 0 : 4, rand(), true);
      }
      counts[check(bytes, `iteration ${iter} (kind ${kind}, pos ${pos})`)]++;
    }
    // Both outcomes must occur, or the mutations are not exercising anything.
    expect(counts.ok).toBeGreaterThan(0);
    expect(counts.err).toBeGreaterThan(0);
  });

  it('structured header mutations: every field replaced by hostile JSON values', () => {
    const hostile = ['null', 'true', '-1', '1e400', '-0', '9007199254740993', '"x"', '[]', '{}', '[0,1,2]', '[1e308,1e308]', '1.5'];
    const base: Record<string, string> = { dtype: '"F32"', shape: '[2,2]', data_offsets: '[0,16]' };
    const data = new Uint8Array(16);
    let n = 0;
    for (const field of Object.keys(base)) {
      for (const h of hostile) {
        const fields = { ...base, [field]: h };
        const entry = Object.entries(fields).map(([k, v]) => `"${k}":${v}`).join(',');
        check(build(`{"w":{${entry}}}`, data), `${field} = ${h}`);
        n++;
      }
    }
    expect(n).toBe(36);
  });
});
