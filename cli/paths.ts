/**
 * Output paths are checked before any work starts: a training run must not find out at its first
 * checkpoint, minutes in, that it cannot write one. The check is a real write (a probe file, or an open
 * for appending), which also catches read-only mounts and permission rules that `access` misreports.
 */
import { closeSync, mkdirSync, openSync, realpathSync, statSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from './args.js';

const code = (e: unknown): string => (e as { code?: string }).code ?? String(e);

/**
 * `path` (given as --`flag`) can be written: its directory exists or is created and takes new files
 * ('replace': written atomically beside it), or the file itself opens for appending ('append').
 */
export function checkWritable(flag: string, path: string, how: 'replace' | 'append'): void {
  const fail = (why: string): never => {
    throw new UsageError(`--${flag}: cannot write ${JSON.stringify(path)}: ${why}`);
  };
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch { /* does not exist yet: fine */ }
  if (isDir) fail('it is a directory; give a file path');
  const dir = dirname(resolve(path));
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    fail(`its directory ${JSON.stringify(dir)} cannot be created (${code(e)})`);
  }
  try {
    if (how === 'append') {
      closeSync(openSync(path, 'a'));
    } else {
      const probe = join(dir, `.seqlab-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
      closeSync(openSync(probe, 'wx'));
      unlinkSync(probe);
    }
  } catch (e) {
    fail(`${how === 'append' ? 'it cannot be opened for appending' : `its directory ${JSON.stringify(dir)} does not take new files`} (${code(e)})`);
  }
}

/** The real path of `p`, or its resolved path when it does not exist (yet). */
function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

/** `convert IN OUT` with OUT the input itself (or a link to it) would overwrite the only copy: refuse. */
export function refuseSameFile(input: string, output: string): void {
  if (real(input) === real(output)) {
    throw new UsageError(`OUT: expected a path other than the input, got ${JSON.stringify(output)}, which is ${JSON.stringify(input)} itself; converting in place would overwrite the only copy (write elsewhere, then rename)`);
  }
}
