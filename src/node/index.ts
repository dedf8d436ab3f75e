/**
 * `seqlab/node`: helpers that touch the file system. The core (`seqlab`) never imports Node modules, so it
 * runs in browsers; these wrap its byte-level functions with paths.
 */
import { readFile } from 'node:fs/promises';
import { readSafetensors, writeSafetensors } from '../io/index.js';
import { WeightImportError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { atomicWriteFile } from './atomic.js';

export { atomicWriteFile, atomicWriteFileSync } from './atomic.js';
export { saveCheckpoint, loadCheckpoint } from './checkpoint.js';
export { readTextFile, readCSVFile } from './data.js';
export { progressReporter, metricsLogger, formatDuration, formatRate, formatMetrics, type ProgressOptions } from './progress.js';

/** Read a .safetensors file into tensors and metadata; errors name the file. */
export async function loadSafetensors(path: string): Promise<{ tensors: Record<string, Tensor>; metadata: Record<string, string> }> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as { code?: string }).code ?? String(e);
    throw new WeightImportError({ op: 'loadSafetensors', expected: `a readable file at ${path}`, got: code });
  }
  return readSafetensors(bytes, path);
}

/** Write tensors as a .safetensors file atomically (temp file, fsync, rename): a crash never leaves half a file. */
export async function saveSafetensors(path: string, tensors: Record<string, Tensor>, metadata?: Record<string, string>): Promise<void> {
  await atomicWriteFile(path, writeSafetensors(tensors, metadata));
}
