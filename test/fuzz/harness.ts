/**
 * A fuzz harness for every byte parser seqlab exposes. A parser is registered once (name, seed files, a
 * `parse` that returns how many bytes it allocated for its result, and structure-aware mutators where
 * the format has a text header); `fuzzCases` then derives any number of reproducible cases from
 * (parser, seed) — `npm test` runs a few thousand per parser, `npm run fuzz` a million or more.
 *
 * The contract every parser must keep on any input: return, or throw a SeqlabError (one clear message) —
 * never another exception (a RangeError, a stack overflow, a TypeError), never run for long, and never
 * allocate more than `bound(inputBytes)` for its result.
 */
import { SeqlabError } from '../../src/index.js';

export interface Parser {
  name: string;
  /** Valid inputs to mutate. */
  seeds(): Uint8Array[];
  /** Parse `bytes`; returns the bytes allocated for the result (tensors, models). */
  parse(bytes: Uint8Array): number;
  /** The most result bytes allowed for an input of `n` bytes. */
  bound(n: number): number;
  /** Human form of the bound, for reports. */
  boundText: string;
  /** Mutators that know the format (a JSON header, a checksum to recompute); byte mutations always apply too. */
  mutators?: ((src: Uint8Array, r: Rng) => Uint8Array)[];
}

const parsers: Parser[] = [];

/** Add a parser to every fuzz run (the PyTorch and ONNX readers register the same way). */
export function registerParser(p: Parser): void {
  parsers.push(p);
}

export function registeredParsers(): readonly Parser[] {
  return parsers;
}

export type Rng = () => number;

/** mulberry32: small, fast and reproducible from a 32-bit seed. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING_BYTES = [0, 1, 0x7f, 0x80, 0xff, 0x22, 0x2c, 0x3a, 0x5b, 0x5d, 0x7b, 0x7d, 0x30, 0x39, 0x2d];

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const c = new Uint8Array(a.length + b.length);
  c.set(a);
  c.set(b, a.length);
  return c;
}

/** 1–4 generic byte mutations: random and boundary bytes, bit flips, 0xff runs (huge lengths), truncation, duplication, deletion. */
export function mutateBytes(src: Uint8Array, r: Rng): Uint8Array {
  let b: Uint8Array = src.slice();
  const n = 1 + Math.floor(r() * 4);
  for (let k = 0; k < n && b.length > 0; k++) {
    const at = Math.floor(r() * b.length);
    switch (Math.floor(r() * 7)) {
      case 0: b[at] = Math.floor(r() * 256); break;
      case 1: b[at] = INTERESTING_BYTES[Math.floor(r() * INTERESTING_BYTES.length)]!; break;
      case 2: b[at] = b[at]! ^ (1 << Math.floor(r() * 8)); break;
      case 3: for (let j = 0; j < 4 && at + j < b.length; j++) b[at + j] = 0xff; break;
      case 4: b = b.slice(0, at); break;
      case 5: { const len = Math.min(1 + Math.floor(r() * 32), b.length - at); b = concat(b.subarray(0, at + len), b.subarray(at)); break; }
      default: { const len = 1 + Math.floor(r() * 16); b = concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + len))); }
    }
  }
  return b;
}

const INTERESTING_NUMBERS = ['-1', '0', '1', '8000', '65537', '2147483648', '4294967296', '9007199254740993', '1e308', '-0', '0.5', 'null', '"1"', '[]', '{}'];

/** A safetensors-style file: u64 header length, `header` text, then `data`. */
export function withHeader(header: string, data: Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** The header text and data of a safetensors-style file (or null when the prefix is unusable). */
export function splitHeader(src: Uint8Array): { header: string; data: Uint8Array } | null {
  if (src.length < 8) return null;
  const n = Number(new DataView(src.buffer, src.byteOffset, src.byteLength).getBigUint64(0, true));
  if (8 + n > src.length) return null;
  return { header: new TextDecoder().decode(src.subarray(8, 8 + n)), data: src.subarray(8 + n) };
}

/** Mutate a JSON text where it matters: numbers to boundary values, strings cut or lengthened, deep nesting, deletions. */
export function mutateJsonText(text: string, r: Rng): string {
  const numbers = [...text.matchAll(/-?\d+(\.\d+)?(e[+-]?\d+)?/gi)];
  const n = 1 + Math.floor(r() * 3);
  let t = text;
  for (let k = 0; k < n; k++) {
    const kind = Math.floor(r() * 5);
    if (kind <= 1 && numbers.length > 0) {
      const m = numbers[Math.floor(r() * numbers.length)]!;
      const v = INTERESTING_NUMBERS[Math.floor(r() * INTERESTING_NUMBERS.length)]!;
      if (m.index! + m[0].length <= t.length) t = t.slice(0, m.index) + v + t.slice(m.index! + m[0].length);
    } else if (kind === 2) {
      const at = Math.floor(r() * t.length), depth = 1 + Math.floor(r() * 6000);
      t = `${t.slice(0, at)}${'['.repeat(depth)}${']'.repeat(depth)}${t.slice(at)}`;
    } else if (kind === 3) {
      const at = Math.floor(r() * t.length);
      t = t.slice(0, at) + t.slice(at + 1 + Math.floor(r() * 8));
    } else {
      const at = Math.floor(r() * t.length);
      const keys = ['"__proto__"', '"constructor"', '"dtype"', '"shape"', '"data_offsets"', '"__metadata__"', '"a"'];
      t = `${t.slice(0, at)}${keys[Math.floor(r() * keys.length)]}${t.slice(at)}`;
    }
  }
  return t;
}

export interface CaseResult {
  outcome: 'ok' | 'error' | 'crash';
  ms: number;
  inputBytes: number;
  allocated: number;
  overBound: boolean;
  message?: string;
}

/** Case `i` of parser `p`: a seed, a mutator (structure-aware half the time when the parser has some). */
export function makeCase(p: Parser, seeds: Uint8Array[], seed: number, i: number): Uint8Array {
  const r = rng((seed * 0x9e3779b1) ^ (i * 0x85ebca6b));
  const src = seeds[Math.floor(r() * seeds.length)]!;
  const m = p.mutators;
  if (m && m.length > 0 && r() < 0.5) return m[Math.floor(r() * m.length)]!(src, r);
  return mutateBytes(src, r);
}

/** Run one input through `p` and classify the outcome. */
export function runCase(p: Parser, input: Uint8Array): CaseResult {
  const t0 = performance.now();
  try {
    const allocated = p.parse(input);
    const ms = performance.now() - t0;
    return { outcome: 'ok', ms, inputBytes: input.length, allocated, overBound: allocated > p.bound(input.length) };
  } catch (e) {
    const ms = performance.now() - t0;
    if (e instanceof SeqlabError) return { outcome: 'error', ms, inputBytes: input.length, allocated: 0, overBound: false };
    return { outcome: 'crash', ms, inputBytes: input.length, allocated: 0, overBound: false, message: e instanceof Error ? `${e.name}: ${e.message}`.slice(0, 300) : String(e) };
  }
}

export interface Summary {
  parser: string;
  cases: number;
  ok: number;
  errors: number;
  crashes: number;
  slow: number;
  overBound: number;
  maxMs: number;
  maxAllocated: number;
  maxRatio: number;
  bound: string;
  firstCrash?: { index: number; message: string };
}

/** Cases [from, to) of parser `p` with `seed`; a case slower than `slowMs` counts as a hang. */
export function fuzz(p: Parser, seed: number, from: number, to: number, slowMs = 1000, onProgress?: (i: number) => void): Summary {
  const seeds = p.seeds();
  const s: Summary = { parser: p.name, cases: 0, ok: 0, errors: 0, crashes: 0, slow: 0, overBound: 0, maxMs: 0, maxAllocated: 0, maxRatio: 0, bound: p.boundText };
  for (let i = from; i < to; i++) {
    onProgress?.(i);
    const input = makeCase(p, seeds, seed, i);
    const c = runCase(p, input);
    s.cases++;
    if (c.outcome === 'ok') s.ok++;
    else if (c.outcome === 'error') s.errors++;
    else {
      s.crashes++;
      s.firstCrash ??= { index: i, message: c.message ?? '' };
    }
    if (c.ms > slowMs) s.slow++;
    if (c.overBound) s.overBound++;
    s.maxMs = Math.max(s.maxMs, c.ms);
    s.maxAllocated = Math.max(s.maxAllocated, c.allocated);
    s.maxRatio = Math.max(s.maxRatio, c.allocated / Math.max(1, c.inputBytes));
  }
  return s;
}
