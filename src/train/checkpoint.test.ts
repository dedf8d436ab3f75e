import { describe, expect, it } from 'vitest';
import * as sl from '../index.js';
import { decodeSafetensors, encodeSafetensors } from '../io/safetensors.js';
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
    expect(d.formatVersion).toBe(2);
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
    const patched = new TextEncoder().encode(text.replace('"format_version":"2"', '"format_version":"9"'));
    expect(() => decodeCheckpoint(patched, 'model.safetensors')).toThrow(
      `model.safetensors: expected checkpoint format version ≤ 2, got version 9 (written by seqlab ${VERSION}). Hint: upgrade seqlab (this is ${VERSION}) to read it`,
    );
  });

  it('a flipped bit in the tensor data is caught by the CRC', () => {
    const bytes = encodeCheckpoint(sample());
    bytes[bytes.length - 3]! ^= 0x10;
    expect(() => decodeCheckpoint(bytes, 'model.safetensors')).toThrow(/model.safetensors: expected tensors and metadata with CRC-32 [0-9a-f]{8}, got [0-9a-f]{8}: the file is corrupted/);
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

  it('a changed byte in the metadata (the stored learning rate) is caught by the CRC', () => {
    const text = new TextDecoder().decode(encodeCheckpoint(sample()));
    expect(text).toContain('\\"lr\\":0.002');
    const patched = new TextEncoder().encode(text.replace('\\"lr\\":0.002', '\\"lr\\":0.009'));
    expect(() => decodeCheckpoint(patched, 'm.safetensors')).toThrow(/m.safetensors: expected tensors and metadata with CRC-32 [0-9a-f]{8}, got [0-9a-f]{8}: the file is corrupted/);
  });

  it('a checkpoint of format 1 (CRC over the tensor bytes only) still loads; one with a bad tensor CRC does not', () => {
    const { tensors, metadata } = decodeSafetensors(encodeCheckpoint(sample()));
    let crc = 0;
    for (const k of Object.keys(tensors).sort()) crc = crc32(new Uint8Array(tensors[k]!.data.buffer), crc);
    const v1 = (c: number) => encodeSafetensors(tensors, { ...metadata, format_version: '1', crc32: c.toString(16).padStart(8, '0') });
    const d = decodeCheckpoint(v1(crc));
    expect(d.formatVersion).toBe(1);
    expect(d.training!.step).toBe(7);
    expect(() => decodeCheckpoint(v1(crc ^ 1), 'old.safetensors')).toThrow(/old.safetensors: expected tensor data with CRC-32/);
  });

  it('a config that does not fit the weights (an edited hiddenSize) is refused before the model is allocated', () => {
    const c = sample();
    const big = decodeCheckpoint(encodeCheckpoint({ ...c, model: { kind: 'lm', family: 'gru', config: { ...c.model.config, hiddenSize: 8000 } } }));
    expect(() => modelFromCheckpoint(big)).toThrow(
      'modelFromCheckpoint: expected a config whose model fits the 174 weight values present, got gru config {"cell":"gru","vocabSize":6,"hiddenSize":8000}, a model of 384,144,006 parameters. Hint: the metadata does not match the weights: the file was corrupted or edited',
    );
    const nan = decodeCheckpoint(encodeCheckpoint({ ...c, model: { kind: 'lm', family: 'gru', config: { ...c.model.config, hiddenSize: 'x' } } }));
    expect(() => modelFromCheckpoint(nan)).toThrow(sl.WeightImportError);
    const reg = decodeCheckpoint(encodeCheckpoint({ model: { kind: 'regressor', config: { cell: 'lstm', inputSize: 3, hiddenSize: 1e6, outputSize: 2 } }, weights: {} }));
    expect(() => modelFromCheckpoint(reg)).toThrow('modelFromCheckpoint: expected config values up to 65,536 (the weight values present), got hiddenSize = 1000000 in regressor config');
    const layers = decodeCheckpoint(encodeCheckpoint({ ...c, model: { kind: 'lm', family: 'gru', config: { ...c.model.config, numLayers: 9e15 } } }));
    expect(() => modelFromCheckpoint(layers)).toThrow('expected config values up to 7 (the weight tensors present), got numLayers = 9000000000000000');
  });

  it('task numbers beyond their limits and malformed training state are one clear error', () => {
    const c = sample();
    expect(() => decodeCheckpoint(encodeCheckpoint({ ...c, task: { kind: 'lm', batchSize: 1e9 } }), 'm')).toThrow("m: expected metadata 'task.batchSize' an integer from 1 to 65536, got 1000000000.");
    expect(() => decodeCheckpoint(encodeCheckpoint({ ...c, task: { kind: 'lm', batchSize: 4096, seqLen: 65536 } }), 'm')).toThrow("m: expected metadata 'task' with batchSize × sequence length ≤ 16777216");
    expect(() => decodeCheckpoint(encodeCheckpoint({ ...c, training: { ...c.training!, step: -5 } }), 'm')).toThrow("m: expected metadata 'training.step' an integer ≥ 0, got -5.");
  });

  it('an overflowed perplexity (Infinity) is kept, not turned into null', () => {
    const d = decodeCheckpoint(encodeCheckpoint({ ...sample(), metrics: { loss: 800, ppl: Infinity, bpc: 800 / Math.LN2 } }));
    expect(d.metrics).toEqual({ loss: 800, ppl: Infinity, bpc: 800 / Math.LN2 });
  });

  it('every family counts its parameters without allocating, exactly as the built model has them', () => {
    for (const family of sl.models.familyNames()) {
      const fam = sl.models.getFamily(family);
      const config = fam.configForBudget(65, 30_000);
      expect(fam.parameterCount(config), family).toBe(sl.models.createModel(family, config).numParameters());
    }
    const r = new SequenceRegressor({ cell: 'gru', inputSize: 3, hiddenSize: 5, outputSize: 2, numLayers: 2 });
    expect(modelFromCheckpoint({ model: { kind: 'regressor', config: { ...r.config } }, weights: r.stateDict() }).numParameters()).toBe(r.numParameters());
  });
});

