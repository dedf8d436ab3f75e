/**
 * The parsers under fuzz: safetensors, seqlab checkpoint metadata (decoded and built into a model, where
 * allocations happen), torch.save archives and ONNX models. Another reader joins with one more
 * `registerParser` call here. Seeds are small valid files, built here or taken from test/golden.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as sl from '../../src/index.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import { checkpointCrc } from '../../src/train/checkpoint.js';
import { mutateJsonText, registerParser, splitHeader, withHeader, type Rng } from './harness.js';

const golden = (dir: string): string => fileURLToPath(new URL(`../golden/${dir}`, import.meta.url));
const bytesOf = (t: Record<string, sl.Tensor>): number => Object.values(t).reduce((s, x) => s + x.size * 4, 0);

/** Mutate the JSON header of a safetensors-style file and fix its length prefix. */
function headerMutator(src: Uint8Array, r: Rng): Uint8Array {
  const parts = splitHeader(src);
  return parts ? withHeader(mutateJsonText(parts.header, r), parts.data) : src;
}

// ---------------------------------------------------------------- safetensors

function safetensorsSeeds(): Uint8Array[] {
  const f32 = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i));
  const made = [
    encodeSafetensors({ w: { shape: [3, 4], data: f32(12) }, b: { shape: [4], data: f32(4) } }, { format: 'pt', note: 'x' }),
    encodeSafetensors({ scalar: { shape: [], data: f32(1) }, empty: { shape: [0, 5], data: f32(0) } }),
    // Other dtypes through hand-written headers: F16, BF16, I8, BOOL, F64.
    withHeader('{"h":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},"i":{"dtype":"I8","shape":[4],"data_offsets":[12,16]},"z":{"dtype":"BOOL","shape":[2],"data_offsets":[16,18]}}',
      Uint8Array.from({ length: 18 }, (_, i) => (i * 53) & 0xff)),
    withHeader('{"__metadata__":{"a":"b"},"d":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}', new Uint8Array(16)),
  ];
  const files = ['lr_steplr.safetensors', 'mse.safetensors', 'clip_grad_value.safetensors'].map((f) => new Uint8Array(readFileSync(golden(f))));
  return [...made, ...files];
}

registerParser({
  name: 'safetensors',
  seeds: safetensorsSeeds,
  parse: (b) => bytesOf(sl.io.readSafetensors(b, 'fuzz').tensors),
  // I8/U8/BOOL widen one byte to a float32: 4 bytes out per byte in, at most.
  bound: (n) => 4 * n,
  boundText: '4 bytes of tensors per input byte (int8 → float32)',
  mutators: [headerMutator],
});

// ---------------------------------------------------------------- checkpoint metadata

function checkpointSeeds(): Uint8Array[] {
  sl.manualSeed(0);
  const out: Uint8Array[] = [];
  for (const [family, config] of [['lstm', { vocabSize: 7, hiddenSize: 6, numLayers: 2 }], ['gpt', { vocabSize: 7, nEmbd: 8, nHead: 2, nLayer: 1, blockSize: 8 }], ['mamba', { vocabSize: 7, dModel: 8, nLayer: 1 }], ['rwkv7', { vocabSize: 7, dModel: 8, numLayers: 1, headSize: 4 }]] as const) {
    const m = sl.models.createModel(family, config);
    out.push(sl.encodeCheckpoint({
      model: sl.modelSpec(m), weights: m.stateDict(), tokenizer: { kind: 'char', chars: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] },
      task: { kind: 'lm', batchSize: 4, seqLen: 8, batching: 'auto', evalTokens: 64 }, metrics: { loss: 1.5, ppl: Math.exp(1.5) },
    }));
  }
  const r = new sl.SequenceRegressor({ cell: 'gru', inputSize: 3, hiddenSize: 4, outputSize: 2 });
  out.push(sl.encodeCheckpoint({ model: sl.modelSpec(r), weights: r.stateDict(), normalizer: { columns: ['a', 'b', 'c'], mean: [0, 1, 2], std: [1, 1, 1] }, task: { kind: 'forecast', window: 12, horizon: 3, batchSize: 8 } }));
  return out;
}

/** Mutate one metadata entry's JSON and recompute the CRC, so the checks behind the checksum are reached. */
function metadataMutator(src: Uint8Array, r: Rng): Uint8Array {
  let decoded;
  try {
    decoded = decodeSafetensors(src);
  } catch {
    return src;
  }
  const { tensors, metadata } = decoded;
  const keys = Object.keys(metadata).filter((k) => k !== 'crc32');
  const k = keys[Math.floor(r() * keys.length)]!;
  metadata[k] = mutateJsonText(metadata[k]!, r);
  metadata['crc32'] = checkpointCrc(tensors, metadata);
  return encodeSafetensors(tensors, metadata);
}

registerParser({
  name: 'checkpoint metadata',
  seeds: checkpointSeeds,
  parse: (b) => {
    const ckpt = sl.decodeCheckpoint(b, 'fuzz');
    if (ckpt.tokenizer) sl.data.tokenizerFromJSON(ckpt.tokenizer);
    const model = sl.modelFromCheckpoint(ckpt);
    return bytesOf(ckpt.weights) + 4 * model.numParameters();
  },
  // Tensors are float32 as stored, and the model must fit in the weights the file holds.
  bound: (n) => 2 * n,
  boundText: '2 bytes per input byte (the float32 tensors, and a model no larger than its stored weights)',
  mutators: [metadataMutator, headerMutator],
});

// ---------------------------------------------------------------- torch.save archives

registerParser({
  name: 'torch.save (zip + pickle)',
  seeds: () => readdirSync(golden('torch')).filter((f) => /\.(pt|pth|bin)$/.test(f)).map((f) => new Uint8Array(readFileSync(`${golden('torch')}/${f}`))),
  parse: (b) => bytesOf(sl.io.readTorch(b, 'fuzz').tensors),
  // readTorch's own budget: 16 float32 values per input byte, at least 2^20.
  bound: (n) => 4 * Math.max(1 << 20, 16 * n),
  boundText: "readTorch's budget: 64 bytes per input byte (at least 4 MiB)",
});

// ---------------------------------------------------------------- ONNX models (protobuf → recurrent layers)

registerParser({
  name: 'ONNX (protobuf + graph import)',
  seeds: () => readdirSync(golden('onnx-export')).filter((f) => f.endsWith('.onnx')).map((f) => new Uint8Array(readFileSync(`${golden('onnx-export')}/${f}`))),
  parse: (b) => bytesOf(sl.io.readOnnx(b, 'fuzz').stateDict),
  // Initializers are float32 (or narrower) and imported weights are a rearrangement of them.
  bound: (n) => 4 * n,
  boundText: '4 bytes of weights per input byte',
});
