/**
 * Seeded fuzz of readOnnx: mutated files from torch.onnx.export (tools/golden/gen_onnx_export.py) and from
 * seqlab's own export end in a result or a WeightImportError — never another exception, never a hang.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';

const dir = fileURLToPath(new URL('../golden/onnx-export/', import.meta.url));

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(src: Uint8Array, r: () => number): Uint8Array {
  let b = src.slice();
  for (let k = 0, n = 1 + Math.floor(r() * 3); k < n; k++) {
    const i = Math.floor(r() * b.length), kind = Math.floor(r() * 4);
    if (kind === 0) b[i] = Math.floor(r() * 256);
    else if (kind === 1) b[i] = b[i]! ^ (1 << Math.floor(r() * 8));
    else if (kind === 2) b = b.slice(0, i);
    else b = Uint8Array.from([...b.slice(0, i), ...b.slice(i, i + 8), ...b.slice(i)]);
  }
  return b;
}

describe('readOnnx fuzz', () => {
  it('mutated ONNX files never crash or hang', () => {
    const r = rng(7);
    sl.manualSeed(0);
    const ours = sl.io.toOnnx(new sl.nn.GRU({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true }));
    const files: [string, Uint8Array][] = [['seqlab gru', ours], ...['lstm_2layer_bidir_opset14', 'rnn_opset11', 'lm_lstm_opset14'].map((f): [string, Uint8Array] => [f, new Uint8Array(readFileSync(`${dir}${f}.onnx`))])];
    let refused = 0, read = 0;
    for (const [name, src] of files) {
      for (let i = 0; i < 250; i++) {
        const t0 = performance.now();
        try {
          sl.io.readOnnx(mutate(src, r), name);
          read++;
        } catch (e) {
          if (!(e instanceof sl.WeightImportError)) throw new Error(`${name} mutation ${i}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
          refused++;
        }
        expect(performance.now() - t0).toBeLessThan(2000);
      }
    }
    expect(refused).toBeGreaterThan(100);
    expect(read).toBeGreaterThan(10);
  });
});
