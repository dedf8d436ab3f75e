/**
 * Backend selection. Model and op code call `kernels()` and never know which backend runs.
 * `setBackend('ref')` forces the readable reference; environment variable SEQLAB_BACKEND does the same
 * at start-up where `process` exists.
 */
import { KernelUnavailableError } from '../tensor/errors.js';
import { refKernels } from './ref/index.js';
import type { Kernels } from './types.js';

export type {
  Kernels, FloatArray, UnaryOp, BinaryOp, SGDStep, AdamStep, RecurrentKind, RecurrentShape, RecurrentSaved, RecurrentWeights, RecurrentGrads,
} from './types.js';
export { refKernels } from './ref/index.js';

export type BackendName = 'ref';

const registry = new Map<string, Kernels>([['ref', refKernels]]);
let active: Kernels = refKernels;

/** The active backend. */
export function kernels(): Kernels {
  return active;
}

/** Register an additional backend (e.g. the WebAssembly one once its module is compiled). */
export function registerBackend(k: Kernels): void {
  registry.set(k.name, k);
}

export function setBackend(name: string): void {
  const k = registry.get(name);
  if (k === undefined) {
    throw new KernelUnavailableError({
      op: 'setBackend',
      expected: `one of ${[...registry.keys()].map((n) => `'${n}'`).join(', ')}`,
      got: `'${name}'`,
    });
  }
  active = k;
}

export function getBackend(): string {
  return active.name;
}

const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
if (env?.SEQLAB_BACKEND) setBackend(env.SEQLAB_BACKEND);
