import { describe, expect, it } from 'vitest';
import { WeightImportError } from '../tensor/errors.js';
import {
  bf16ToF32,
  decodeSafetensors,
  encodeSafetensors,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
} from './safetensors.js';

/** Builds a file from a header (object or raw JSON text) and a data buffer, with no padding. */
function build(header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function le(kind: 'u16' | 'f64' | 'i32' | 'i64' | 'i16', values: readonly (number | bigint)[]): Uint8Array {
  const size = { u16: 2, i16: 2, i32: 4, f64: 8, i64: 8 }[kind];
  const out = new Uint8Array(values.length * size);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => {
    if (kind === 'u16') v.setUint16(i * 2, Number(x), true);
    else if (kind === 'i16') v.setInt16(i * 2, Number(x), true);
    else if (kind === 'i32') v.setInt32(i * 4, Number(x), true);
    else if (kind === 'f64') v.setFloat64(i * 8, Number(x), true);
    else v.setBigInt64(i * 8, BigInt(x), true);
  });
  return out;
}

function one(dtype: string, shape: number[], data: Uint8Array) {
  const file = build({ x: { dtype, shape, data_offsets: [0, data.length] } }, data);
  const t = decodeSafetensors(file).tensors['x']!;
  expect(t.dtype).toBe(dtype);
  expect(t.shape).toEqual(shape);
  return Array.from(t.data);
}

describe('encodeSafetensors / decodeSafetensors round trip', () => {
  it('round-trips several tensors, a 0-d scalar, a zero-size tensor and metadata', () => {
    const tensors = {
      'layer.weight': { shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, -0, 1e-30]) },
      bias: { shape: [3], data: new Float32Array([Infinity, -Infinity, NaN]) },
      scalar: { shape: [], data: new Float32Array([42.25]) },
      empty: { shape: [0, 3], data: new Float32Array(0) },
    };
    const metadata = { format: 'pt', note: 'héllo "quoted" ✓' };
    const { tensors: got, metadata: gotMeta } = decodeSafetensors(encodeSafetensors(tensors, metadata));
    expect(gotMeta).toEqual(metadata);
    expect(Object.keys(got).sort()).toEqual(Object.keys(tensors).sort());
    for (const [k, t] of Object.entries(tensors)) {
      expect(got[k]!.shape).toEqual(t.shape);
      expect(got[k]!.dtype).toBe('F32');
      // Bitwise equality (keeps -0 and NaN honest).
      expect(new Uint32Array(got[k]!.data.buffer)).toEqual(new Uint32Array(t.data.buffer.slice(0)));
    }
  });

  it('returns copies, not views into the input', () => {
    const file = encodeSafetensors({ a: { shape: [2], data: new Float32Array([1, 2]) } });
    const { tensors } = decodeSafetensors(file);
    file.fill(0, file.length - 8);
    expect(Array.from(tensors['a']!.data)).toEqual([1, 2]);
  });

  it('encodes a Float32Array view at a non-zero offset correctly', () => {
    const backing = new Float32Array([9, 1, 2, 3, 9]);
    const { tensors } = decodeSafetensors(encodeSafetensors({ v: { shape: [3], data: backing.subarray(1, 4) } }));
    expect(Array.from(tensors['v']!.data)).toEqual([1, 2, 3]);
  });

  it('stores a tensor named __proto__ as data, not as the prototype', () => {
    const text = '{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    const { tensors } = decodeSafetensors(build(text, new Uint8Array(4)));
    expect(Object.getPrototypeOf(tensors)).toBe(Object.prototype);
    expect(Object.keys(tensors)).toEqual(['__proto__']);
  });
});

describe('encodeSafetensors byte layout', () => {
  it('writes a little-endian header length, sorted keys, space padding to 8 bytes and packed F32 data', () => {
    const bytes = encodeSafetensors(
      { b: { shape: [1], data: new Float32Array([1]) }, a: { shape: [2], data: new Float32Array([2, -3]) } },
      { k: 'v' },
    );
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    const json =
      '{"__metadata__":{"k":"v"},' +
      '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}';
    expect(header.trimEnd()).toBe(json);
    expect(header).toBe(json.padEnd(n, ' '));
    expect(n).toBe(Math.ceil(json.length / 8) * 8);
    // First 8 bytes: n as u64 little-endian.
    expect(Array.from(bytes.subarray(0, 8))).toEqual([n & 0xff, n >> 8, 0, 0, 0, 0, 0, 0]);
    const data = bytes.subarray(8 + n);
    expect(data.length).toBe(12);
    expect(Array.from(data)).toEqual([0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x40, 0xc0, 0x00, 0x00, 0x80, 0x3f]);
  });

  it('writes an empty file as "{}" padded to 8 bytes', () => {
    const bytes = encodeSafetensors({});
    expect(Array.from(bytes)).toEqual([8, 0, 0, 0, 0, 0, 0, 0, ...new TextEncoder().encode('{}      ')]);
    expect(decodeSafetensors(bytes)).toEqual({ tensors: {}, metadata: {} });
  });

  it('rejects data whose length does not match the shape, naming the tensor', () => {
    expect(() => encodeSafetensors({ w: { shape: [2, 3], data: new Float32Array(5) } })).toThrowErrorMatchingInlineSnapshot(`[WeightImportError: encodeSafetensors: tensor "w" data length does not match its shape: expected 6 values for shape [2, 3], got 5 values.]`);
    expect(() => encodeSafetensors({ w: { shape: [2, 3], data: new Float32Array(5) } })).toThrow(WeightImportError);
  });

  it('rejects bad shapes, a reserved name and non-string metadata', () => {
    expect(() => encodeSafetensors({ w: { shape: [-1], data: new Float32Array(0) } })).toThrow(/invalid shape/);
    expect(() => encodeSafetensors({ w: { shape: [1.5], data: new Float32Array(0) } })).toThrow(WeightImportError);
    expect(() => encodeSafetensors({ __metadata__: { shape: [], data: new Float32Array(1) } })).toThrow(/reserved/);
    expect(() => encodeSafetensors({}, { n: 3 as unknown as string })).toThrow(/metadata value for key "n"/);
  });
});

describe('decoding other dtypes', () => {
  it('F16: normals, the largest finite, subnormals, zeros, inf and NaN', () => {
    const bits = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x3555];
    const got = one('F16', [bits.length], le('u16', bits));
    expect(got.slice(0, 9)).toEqual([
      1, -2, 65504, 5.960464477539063e-8, 6.097555160522461e-5, 6.103515625e-5, -0, Infinity, -Infinity,
    ]);
    expect(Object.is(got[6], -0)).toBe(true);
    expect(got[9]).toBeNaN();
    expect(got[10]).toBe(0.333251953125);
  });

  it('BF16', () => {
    const bits = [0x3f80, 0xc000, 0x4049, 0x0001, 0x7f80, 0xff80, 0x7fc0, 0x8000];
    const got = one('BF16', [2, 4], le('u16', bits));
    expect(got.slice(0, 6)).toEqual([1, -2, 3.140625, 9.183549615799121e-41, Infinity, -Infinity]);
    expect(got[6]).toBeNaN();
    expect(Object.is(got[7], -0)).toBe(true);
  });

  it('F64 is narrowed to float32', () => {
    expect(one('F64', [3], le('f64', [1.5, -0.1, 1e300]))).toEqual([1.5, Math.fround(-0.1), Infinity]);
  });

  it('I32, I16, I8, U8, BOOL', () => {
    expect(one('I32', [3], le('i32', [-2147483648, 7, 2147483647]))).toEqual([-2147483648, 7, 2147483648]);
    expect(one('I16', [2], le('i16', [-32768, 32767]))).toEqual([-32768, 32767]);
    expect(one('I8', [3], new Uint8Array([0x80, 0xff, 0x7f]))).toEqual([-128, -1, 127]);
    expect(one('U8', [3], new Uint8Array([0, 128, 255]))).toEqual([0, 128, 255]);
    expect(one('BOOL', [4], new Uint8Array([0, 1, 1, 0]))).toEqual([0, 1, 1, 0]);
  });

  it('I64 within ±2^53, and a clear error beyond', () => {
    const ok = [-(2n ** 53n), 42n, -1n, 2n ** 53n];
    expect(one('I64', [4], le('i64', ok))).toEqual([-(2 ** 53), 42, -1, 2 ** 53]);
    const bad = le('i64', [1n, 2n ** 53n + 1n]);
    const file = build({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, bad);
    expect(() => decodeSafetensors(file)).toThrow(WeightImportError);
    expect(() => decodeSafetensors(file)).toThrowErrorMatchingInlineSnapshot(`[WeightImportError: safetensors: tensor "ids" has an I64 value too large to convert: expected |value| <= 2^53, got 9007199254740993 at flat index 1. Hint: seqlab reads integer tensors as float32 values; store this tensor as a float type.]`);
  });

  it('reads tensors at unaligned offsets and from a subarray at an odd byteOffset', () => {
    // A 1-byte U8 tensor first, so the F32/F64 data that follow are misaligned inside the buffer.
    const data = new Uint8Array([7, ...le('f64', [2.5]), 0, 0, 0x80, 0x3f]);
    const header = {
      a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] },
      b: { dtype: 'F64', shape: [], data_offsets: [1, 9] },
      c: { dtype: 'F32', shape: [1, 1], data_offsets: [9, 13] },
    };
    const file = build(header, data);
    const shifted = new Uint8Array(file.length + 3);
    shifted.set(file, 3);
    const { tensors } = decodeSafetensors(shifted.subarray(3));
    expect(Array.from(tensors['a']!.data)).toEqual([7]);
    expect(Array.from(tensors['b']!.data)).toEqual([2.5]);
    expect(tensors['b']!.shape).toEqual([]);
    expect(Array.from(tensors['c']!.data)).toEqual([1]);
  });

  it('accepts gaps between tensors, trailing bytes and null metadata', () => {
    const data = new Uint8Array(20);
    new DataView(data.buffer).setFloat32(8, 3, true);
    const file = build({ __metadata__: null, x: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, data);
    const { tensors, metadata } = decodeSafetensors(file);
    expect(Array.from(tensors['x']!.data)).toEqual([3]);
    expect(metadata).toEqual({});
  });
});

describe('f16/bf16 conversions', () => {
  const bitsOf = (x: number): number => new Uint32Array(new Float32Array([x]).buffer)[0]!;
  const fromBits = (b: number): number => new Float32Array(new Uint32Array([b]).buffer)[0]!;

  it('f32ToF16(f16ToF32(h)) === h for every non-NaN half', () => {
    let bad = 0;
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue;
      if (f32ToF16(f16ToF32(h)) !== h) bad++;
    }
    expect(bad).toBe(0);
  });

  it('rounds to nearest even at every midpoint between finite halves, and away from it just off the midpoint', () => {
    let bad = 0;
    for (let h = 0; h < 0x7bff; h++) {
      const a = f16ToF32(h);
      const b = f16ToF32(h + 1);
      const mid = (a + b) / 2; // exact in f32: needs 12 significant bits
      const even = h % 2 === 0 ? h : h + 1;
      if (f32ToF16(mid) !== even) bad++;
      if (f32ToF16(-mid) !== (even | 0x8000)) bad++;
      if (f32ToF16(fromBits(bitsOf(mid) + 1)) !== h + 1) bad++;
      if (f32ToF16(fromBits(bitsOf(mid) - 1)) !== h) bad++;
    }
    expect(bad).toBe(0);
  });

  it('handles overflow, underflow, inf and NaN', () => {
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(65519.99)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00); // tie between 65504 and 2^16 goes to even, i.e. inf
    expect(f32ToF16(1e10)).toBe(0x7c00);
    expect(f32ToF16(-Infinity)).toBe(0xfc00);
    expect(f32ToF16(NaN)).toBe(0x7e00);
    expect(f32ToF16(2 ** -25)).toBe(0); // tie with 0 goes to even
    expect(f32ToF16(Math.fround(2 ** -25 * 1.0001))).toBe(1);
    expect(f32ToF16(1e-10)).toBe(0);
    expect(f32ToF16(-1e-10)).toBe(0x8000);
    expect(f32ToF16(-0)).toBe(0x8000);
    expect(f32ToF16(1 / 3)).toBe(0x3555);
  });

  it('f32ToBf16(bf16ToF32(b)) === b for every non-NaN bf16, ties to even everywhere', () => {
    let bad = 0;
    for (let b = 0; b < 0x10000; b++) {
      if ((b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0) continue;
      if (f32ToBf16(bf16ToF32(b)) !== b) bad++;
      if ((b & 0x7fff) >= 0x7f7f) continue; // no finite successor
      const mid = (b << 16) | 0x8000; // exactly halfway to the next bf16
      const even = b % 2 === 0 ? b : b + 1;
      if (f32ToBf16(fromBits(mid >>> 0)) !== even) bad++;
      if (f32ToBf16(fromBits((mid + 1) >>> 0)) !== b + 1) bad++;
      if (f32ToBf16(fromBits((mid - 1) >>> 0)) !== b) bad++;
    }
    expect(bad).toBe(0);
    expect(f32ToBf16(NaN)).toBe(0x7fc0);
    expect(f32ToBf16(3.4e38)).toBe(0x7f80); // rounds past the largest finite bf16
    expect(f32ToBf16(Math.PI)).toBe(0x4049);
  });
});
