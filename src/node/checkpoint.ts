/** Checkpoint files: `encodeCheckpoint` bytes written atomically, and read back with errors naming the file. */
import { readFile } from 'node:fs/promises';
import { WeightImportError } from '../tensor/errors.js';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../train/checkpoint.js';
import { atomicWriteFile } from './atomic.js';

/** Write a checkpoint (temp file + fsync + rename): a crash leaves the previous file as it was. */
export async function saveCheckpoint(path: string, ckpt: Checkpoint): Promise<void> {
  await atomicWriteFile(path, encodeCheckpoint(ckpt));
}

/** Read a checkpoint; a missing, truncated, corrupted or newer-format file is a WeightImportError naming it. */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as { code?: string }).code ?? String(e);
    throw new WeightImportError({ op: 'loadCheckpoint', expected: `a readable checkpoint file at ${path}`, got: code });
  }
  return decodeCheckpoint(bytes, path);
}
