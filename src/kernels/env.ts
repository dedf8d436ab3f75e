/**
 * The environment variables seqlab reads (all at backend start-up), in one table: `checkEnvironment`
 * validates them, the CLI prints the table in `--help`. A value outside its set is a ConfigError naming
 * the variable — never silently ignored, never a stack trace at import time.
 */
import { ConfigError } from '../tensor/errors.js';
import { checkThreads } from './wasm/threads.js';

export interface EnvironmentVariable {
  name: string;
  /** The accepted values, as shown in help. */
  values: string;
  help: string;
}

const VARIANTS = ['simd', 'relaxed', 'simd-shared', 'relaxed-shared'];

export const ENVIRONMENT: readonly EnvironmentVariable[] = [
  { name: 'SEQLAB_BACKEND', values: 'ref | wasm', help: 'the kernel backend (default: wasm where it loads, else ref)' },
  { name: 'SEQLAB_THREADS', values: '1 … 256', help: 'threads for the wasm backend\'s GEMMs (default: the cores, at most 8)' },
  { name: 'SEQLAB_WASM_VARIANT', values: VARIANTS.join(' | '), help: 'force one wasm build (simd: plain SIMD with either memory)' },
  { name: 'SEQLAB_WASM_SHARED', values: '0 | 1', help: '0: no shared memory, so no threads and no resident tensors' },
];

const ALLOWED: Readonly<Record<string, (v: string) => boolean>> = {
  SEQLAB_BACKEND: (v) => v === 'ref' || v === 'wasm',
  SEQLAB_THREADS: (v) => {
    try {
      checkThreads(v, 'SEQLAB_THREADS');
      return true;
    } catch {
      return false;
    }
  },
  SEQLAB_WASM_VARIANT: (v) => VARIANTS.includes(v),
  SEQLAB_WASM_SHARED: (v) => v === '0' || v === '1',
};

/** Throws a ConfigError for the first set (non-empty) variable of ENVIRONMENT whose value is not allowed. */
export function checkEnvironment(env: Readonly<Record<string, string | undefined>> | undefined = processEnv()): void {
  if (env === undefined) return;
  for (const { name, values } of ENVIRONMENT) {
    const v = env[name];
    if (v !== undefined && v !== '' && !ALLOWED[name]!(v)) {
      throw new ConfigError({ op: `environment variable ${name}`, expected: values.includes('|') ? `one of ${values.split(' | ').join(', ')}` : `an integer from ${values.replace(' … ', ' to ')}`, got: JSON.stringify(v) });
    }
  }
}

export function processEnv(): Record<string, string | undefined> | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
}
