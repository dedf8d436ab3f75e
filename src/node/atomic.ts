/**
 * Crash-safe file replacement: readers see either the old file or the complete new one, never a torn write.
 * Write a sibling temp file, fsync it, rename it over the target (atomic within one filesystem), then fsync the
 * directory so the rename itself survives a power cut.
 *
 * No temp file outlives its writer where that can be helped: one in flight when the process exits (an
 * uncaught error, `process.exit` after a second Ctrl-C) is removed by an exit hook, and the temp files of a
 * writer that was killed outright (SIGKILL, power cut) are removed by the next write to the same path.
 */

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { SeqlabError } from '../tensor/errors.js';

/** Directory fsync is unsupported on some platforms/filesystems (Windows, some network mounts); the data is already in place. */
const DIR_FSYNC_UNSUPPORTED = new Set(['EISDIR', 'EPERM', 'EINVAL', 'ENOTSUP', 'EACCES']);

function tempPath(path: string): string {
  return `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}

/** Temp files this process is writing now. */
const inFlight = new Set<string>();
let exitHook = false;

function track(tmp: string): void {
  inFlight.add(tmp);
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const t of inFlight) {
      try {
        fs.unlinkSync(t);
      } catch {
        // already renamed or removed
      }
    }
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errCode(e) === 'EPERM'; // exists, owned by someone else
  }
}

/** Remove `path`'s temp files left by writers that no longer run (best effort). */
function sweepStale(path: string): void {
  const dir = dirname(resolve(path)), base = basename(path);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(`${base}.`) || !name.endsWith('.tmp')) continue;
    const m = /^\.(\d+)\.[0-9a-f]{12}\.tmp$/.exec(name.slice(base.length));
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    try {
      fs.unlinkSync(join(dir, name));
    } catch {
      // raced with another sweeper, or not ours to remove
    }
  }
}

function errCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string'
    ? (e as { code: string }).code
    : undefined;
}

/** A SeqlabError that still carries Node's `code`, so callers can branch on ENOENT/ENOSPC as usual. */
function writeError(op: string, path: string, e: unknown, afterRename = false): Error {
  const code = errCode(e);
  const dir = dirname(resolve(path));
  const detail = e instanceof Error ? e.message : String(e);
  let err: SeqlabError;
  if (afterRename) {
    err = new SeqlabError({ op, got: detail }, `wrote ${JSON.stringify(path)} but could not fsync its directory:`);
  } else if ((code === 'ENOENT' || code === 'ENOTDIR') && !fs.existsSync(dir)) {
    err = new SeqlabError(
      { op, expected: `an existing directory ${JSON.stringify(dir)}`, got: code, hint: 'create the directory first (mkdir -p).' },
      `cannot write ${JSON.stringify(path)}: the target directory does not exist:`,
    );
  } else {
    err = new SeqlabError({ op, got: detail }, `cannot write ${JSON.stringify(path)}:`);
  }
  err.cause = e;
  return Object.assign(err, { code, path });
}

/** Writes `bytes` to `path` atomically (temp file + fsync + rename + directory fsync). */
export async function atomicWriteFile(path: string, bytes: Uint8Array): Promise<void> {
  const op = 'atomicWriteFile';
  const tmp = tempPath(path);
  sweepStale(path);
  let created = false;
  track(tmp);
  try {
    const fh = await fsp.open(tmp, 'wx'); // exclusive: never clobber someone else's temp file
    created = true;
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, path);
    created = false;
  } catch (e) {
    if (created) await fsp.unlink(tmp).catch(() => undefined);
    throw writeError(op, path, e);
  } finally {
    inFlight.delete(tmp);
  }
  await fsyncDir(op, path);
}

async function fsyncDir(op: string, path: string): Promise<void> {
  let dh: fsp.FileHandle | undefined;
  try {
    dh = await fsp.open(dirname(resolve(path)), 'r');
    await dh.sync();
  } catch (e) {
    const code = errCode(e);
    if (code === undefined || !DIR_FSYNC_UNSUPPORTED.has(code)) throw writeError(op, path, e, true);
  } finally {
    await dh?.close().catch(() => undefined);
  }
}

/** Synchronous `atomicWriteFile`, for CLI code and exit handlers. */
export function atomicWriteFileSync(path: string, bytes: Uint8Array): void {
  const op = 'atomicWriteFileSync';
  const tmp = tempPath(path);
  sweepStale(path);
  let created = false;
  track(tmp);
  try {
    const fd = fs.openSync(tmp, 'wx');
    created = true;
    try {
      let off = 0;
      while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path);
    created = false;
  } catch (e) {
    if (created) {
      try {
        fs.unlinkSync(tmp);
      } catch {
        // best effort; the original error matters more
      }
    }
    throw writeError(op, path, e);
  } finally {
    inFlight.delete(tmp);
  }
  let dfd: number | undefined;
  try {
    dfd = fs.openSync(dirname(resolve(path)), 'r');
    fs.fsyncSync(dfd);
  } catch (e) {
    const code = errCode(e);
    if (code === undefined || !DIR_FSYNC_UNSUPPORTED.has(code)) throw writeError(op, path, e, true);
  } finally {
    if (dfd !== undefined) fs.closeSync(dfd);
  }
}
