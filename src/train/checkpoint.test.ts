import { describe, expect, it } from 'vitest';
import { encodeSafetensors } from '../io/safetensors.js';
import { RecurrentLM } from '../models/recurrent/lm.js';
import { SequenceRegressor } from '../models/recurrent/regressor.js';
import { manualSeed } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { VERSION } from '../version.js';
import { crc32, decodeCheckpoint, encodeCheckpoint, modelFromCheckpoint, type Checkpoint } from './checkpoint.js';
import { readFileSync } from 'node:fs';

function sample(): Checkpoint {
  manualSeed(0);
  const m = new RecurrentLM({ cell: 'gru', vocabSize: 6, hiddenSize: 4 });
  const w = m.stateDict();
  return {
    model: { kind: 'lm', family: 'gru', config: { ...m.config } },
    weights: w,
    tokenizer: { kind: 'char', chars: ['a', 'b', 'c', 'd', 'e', 'f'] },
    task: { kind: 'lm', seqLen: 8 },
    metrics: { loss: 1.5, bpc: 1.5 / Math.LN2 },
    training: {
      step: 7,
      optimizer: { name: 'adam', stateDict: { state: { 0: { step: 7, exp_avg: new Tensor(Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24), [6, 4]), exp_avg_sq: new Tensor(new Float32Array(24).fill(0.5), [6, 4]) } }, param_groups: [{ lr: 0.002, betas: [0.9, 0.99], params: [0, 1, 2, 3, 4, 5, 6] }] } },
      rng: { data: [1, 2, 3, 4, NaN], global: [5, 6, 7, 8, 0.25] },
      carry: { h: new Tensor(Float32Array.of(0.1, -0.2, 0.3, -0.4), [1, 1, 4]) },
      options: { lr: 0.002, steps: 20 },
      best: { step: 5, loss: 1.4 },
      badEvals: 1,
      elapsedMs: 1234.5,
      itemsSeen: 99,
      lastSavedStep: 5,
    },
  };
}

describe('checkpoints', () => {
  it('round-trip every part exactly', () => {
    const c = sample();
    const d = decodeCheckpoint(encodeCheckpoint(c));
    expect(d.formatVersion).toBe(1);
    expect(d.seqlabVersion).toBe(VERSION);
    expect({ ...d, formatVersion: undefined, seqlabVersion: undefined }).toEqual({ ...c, formatVersion: undefined, seqlabVersion: undefined });
    const m = modelFromCheckpoint(d) as RecurrentLM;
    expect(m.family).toBe('gru');
    expect(Array.from(m.head.weight.data)).toEqual(Array.from(c.weights['head.weight']!.data));
  });

  it('regressor models round-trip too', () => {
    const r = new SequenceRegressor({ cell: 'lstm', inputSize: 3, hiddenSize: 5, outputSize: 2 });
    const d = decodeCheckpoint(encodeCheckpoint({ model: { kind: 'regressor', config: { ...r.config } }, weights: r.stateDict(), normalizer: { columns: ['a'], mean: [1], std: [2] } }));
    expect(modelFromCheckpoint(d)).toBeInstanceOf(SequenceRegressor);
    expect(d.normalizer).toEqual({ columns: ['a'], mean: [1], std: [2] });
  });

  it('a newer format version is refused with a clear message', () => {
    const bytes = encodeCheckpoint(sample());
    const text = new TextDecoder().decode(bytes);
    const patched = new TextEncoder().encode(text.replace('"format_version":"1"', '"format_version":"9"'));
    expect(() => decodeCheckpoint(patched, 'model.safetensors')).toThrow(
      `model.safetensors: expected checkpoint format version ≤ 1, got version 9 (written by seqlab ${VERSION}). Hint: upgrade seqlab (this is ${VERSION}) to read it`,
    );
  });

  it('a flipped bit in the tensor data is caught by the CRC', () => {
    const bytes = encodeCheckpoint(sample());
    bytes[bytes.length - 3]! ^= 0x10;
    expect(() => decodeCheckpoint(bytes, 'model.safetensors')).toThrow(/model.safetensors: expected tensor data with CRC-32 [0-9a-f]{8}, got [0-9a-f]{8}: the file is corrupted/);
  });

  it('a truncated file or a plain safetensors file are clear errors', () => {
    const bytes = encodeCheckpoint(sample());
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 10), 'cut.safetensors')).toThrow(/^cut.safetensors/);
    const plain = encodeSafetensors({ w: { shape: [1], data: Float32Array.of(1) } });
    expect(() => decodeCheckpoint(plain, 'w.safetensors')).toThrow(
      "w.safetensors: expected a seqlab checkpoint (metadata format 'seqlab-checkpoint'), got a safetensors file with 1 tensors and no seqlab metadata. Hint: import PyTorch weights with `seqlab convert IN.safetensors OUT.safetensors --model FAMILY`",
    );
  });

  it('crc32 is zlib\'s', () => {
    expect(crc32(new TextEncoder().encode('123456789')).toString(16)).toBe('cbf43926');
  });

  it('VERSION matches package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });
});
