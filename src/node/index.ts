/**
 * `seqlab/node`: helpers that touch the file system. The core (`seqlab`) never imports Node modules, so it
 * runs in browsers; these wrap its byte-level functions with paths.
 */
import { open } from 'node:fs/promises';
import { decodeOnnx, readOnnx, readSafetensors, readTorch, writeSafetensors, type OnnxGraph, type OnnxImport, type TorchFile } from '../io/index.js';
import { WeightImportError } from '../tensor/errors.js';
import { CHECKPOINT_FORMAT, decodeCheckpoint, type Checkpoint } from '../train/checkpoint.js';
import type { Tensor } from '../tensor/tensor.js';
import { atomicWriteFile } from './atomic.js';

export { atomicWriteFile, atomicWriteFileSync } from './atomic.js';
export { saveCheckpoint, loadCheckpoint } from './checkpoint.js';
export { readTextFile, readDataFile, readCSVFile } from './data.js';
export { progressReporter, metricsLogger, formatDuration, formatRate, formatMetrics, type ProgressOptions } from './progress.js';

/** Read a .safetensors file into tensors and metadata; errors name the file. */
export async function loadSafetensors(path: string): Promise<{ tensors: Record<string, Tensor>; metadata: Record<string, string> }> {
  return readSafetensors(await readBytes(path, 'loadSafetensors'), path);
}

/** Read a file written by torch.save (`.pth`, `.pt`, `.bin`, nanoGPT's `ckpt.pt`); never runs code from it. */
export async function loadTorch(path: string): Promise<TorchFile> {
  return readTorch(await readBytes(path, 'loadTorch'), path);
}

/** Read an ONNX file of recurrent layers as a seqlab module under PyTorch names (see sl.io.readOnnx). */
export async function loadOnnx(path: string): Promise<OnnxImport> {
  return readOnnx(await readBytes(path, 'loadOnnx'), path);
}

/** An ONNX file's graph as plain records (inputs, outputs, nodes, constants), whatever it computes. */
export async function loadOnnxGraph(path: string): Promise<OnnxGraph> {
  return decodeOnnx(await readBytes(path, 'loadOnnxGraph'), path);
}

/** A whole file in one Uint8Array, read in chunks: fs.readFile stops at 2 GiB, released checkpoints do not. */
async function readBytes(path: string, op: string): Promise<Uint8Array> {
  try {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      const out = new Uint8Array(size);
      let at = 0;
      while (at < size) {
        const { bytesRead } = await fh.read(out, at, Math.min(size - at, 1 << 26), at);
        if (bytesRead === 0) break; // the file shrank while we read it
        at += bytesRead;
      }
      return at === size ? out : out.subarray(0, at);
    } finally {
      await fh.close();
    }
  } catch (e) {
    const code = (e as { code?: string }).code ?? String(e);
    throw new WeightImportError({ op, expected: `a readable file at ${path}`, got: code });
  }
}

export interface WeightsFile {
  /** How the file was recognised (by its first bytes, not its name). */
  format: 'safetensors' | 'torch';
  tensors: Record<string, Tensor>;
  /** safetensors metadata (empty for torch files). */
  metadata: Record<string, string>;
  /** The rest of a torch checkpoint (e.g. nanoGPT's model_args); empty for safetensors. */
  objects: Record<string, unknown>;
  /** The decoded checkpoint, when the file is a seqlab checkpoint (so callers need not read it twice). */
  checkpoint?: Checkpoint;
}

/** Read weights from a safetensors file or a torch.save checkpoint, told apart by their first bytes. */
export async function loadWeights(path: string): Promise<WeightsFile> {
  const bytes = await readBytes(path, 'loadWeights');
  if (bytes[0] === 0x50 && bytes[1] === 0x4b) return { format: 'torch', ...readTorch(bytes, path), metadata: {} };
  const st = readSafetensors(bytes, path);
  if (st.metadata['format'] === CHECKPOINT_FORMAT) return { format: 'safetensors', ...st, objects: {}, checkpoint: decodeCheckpoint(bytes, path) };
  return { format: 'safetensors', ...st, objects: {} };
}

/** Write tensors as a .safetensors file atomically (temp file, fsync, rename): a crash never leaves half a file. */
export async function saveSafetensors(path: string, tensors: Record<string, Tensor>, metadata?: Record<string, string>): Promise<void> {
  await atomicWriteFile(path, writeSafetensors(tensors, metadata));
}
