/**
 * Reads a PyTorch golden fixture (see test/golden/README.md): tensors by key as seqlab Tensors, plus the
 * parsed `config`. Tests never need Python.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { Tensor } from '../../src/index.js';

export interface Fixture {
  name: string;
  config: Record<string, unknown>;
  /** The tensor under `key`; throws naming the fixture when absent. */
  get(key: string): Tensor;
  has(key: string): boolean;
  /** Keys with the given prefix, prefix removed (e.g. 'param.' → PyTorch parameter names). */
  keys(prefix: string): string[];
  /** Integer values (targets, lengths, ids) of a stored tensor. */
  ints(key: string): number[];
}

export function loadFixture(name: string): Fixture {
  const path = fileURLToPath(new URL(`./${name}.safetensors`, import.meta.url));
  const { tensors, metadata } = decodeSafetensors(new Uint8Array(readFileSync(path)), `${name}.safetensors`);
  const config = JSON.parse(metadata['config'] ?? '{}') as Record<string, unknown>;
  const get = (key: string): Tensor => {
    const t = tensors[key];
    if (!t) throw new Error(`fixture ${name} has no tensor '${key}' (has: ${Object.keys(tensors).join(', ')})`);
    return new Tensor(Float32Array.from(t.data), t.shape);
  };
  return {
    name, config, get,
    has: (key) => key in tensors,
    keys: (prefix) => Object.keys(tensors).filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)),
    ints: (key) => Array.from(get(key).buf, (v) => Math.round(v)),
  };
}
