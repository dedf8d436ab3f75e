import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SeqlabError } from '../tensor/errors.js';
import { atomicWriteFile, atomicWriteFileSync } from './atomic.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'seqlab-atomic-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

const variants = [
  ['atomicWriteFile', (p: string, b: Uint8Array) => atomicWriteFile(p, b)],
  ['atomicWriteFileSync', async (p: string, b: Uint8Array) => atomicWriteFileSync(p, b)],
] as const;

describe.each(variants)('%s', (name, write) => {
  it('writes the content', async () => {
    const p = join(dir, 'model.safetensors');
    const big = new Uint8Array(3_000_000).map((_, i) => (i * 7) & 0xff); // bigger than one write() call
    await write(p, big);
    expect(Buffer.compare(readFileSync(p), big)).toBe(0); // toEqual on 3 MB is very slow
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
  });

  it('replaces an existing file and leaves no temp files behind', async () => {
    const p = join(dir, 'w.bin');
    writeFileSync(p, 'old content that is longer than the new one');
    await write(p, bytes('new'));
    expect(readFileSync(p, 'utf8')).toBe('new');
    await write(p, new Uint8Array(0));
    expect(readFileSync(p).length).toBe(0);
    expect(readdirSync(dir)).toEqual(['w.bin']);
  });

  it('throws a clear error naming the path when the directory does not exist', async () => {
    const p = join(dir, 'missing', 'w.bin');
    const err = await write(p, bytes('x')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SeqlabError);
    expect((err as Error).message).toContain(JSON.stringify(p));
    expect((err as Error).message).toContain('directory does not exist');
    expect((err as Error).message).toContain(JSON.stringify(join(dir, 'missing')));
    expect((err as { code?: string }).code).toBe('ENOENT');
    expect((err as SeqlabError).op).toBe(name);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('leaves the existing target untouched and removes its temp file when the final rename fails', async () => {
    // The target is a non-empty directory: the temp file is written and synced, then rename() fails.
    const p = join(dir, 'target');
    mkdirSync(p);
    writeFileSync(join(p, 'keep.txt'), 'keep');
    const err = await write(p, bytes('new')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SeqlabError);
    expect((err as Error).message).toContain(`cannot write ${JSON.stringify(p)}`);
    expect(readdirSync(dir)).toEqual(['target']);
    expect(readFileSync(join(p, 'keep.txt'), 'utf8')).toBe('keep');
  });

  it("removes the temp files of a writer that no longer runs, and keeps a live writer's", async () => {
    const p = join(dir, 'm.safetensors');
    const dead = spawnSync(process.execPath, ['-e', '']).pid!; // has exited: its pid names no process now
    writeFileSync(`${p}.${dead}.0123456789ab.tmp`, ''); // what a SIGKILLed save leaves behind
    writeFileSync(`${p}.${process.ppid}.0123456789ab.tmp`, ''); // a save in progress elsewhere
    writeFileSync(join(dir, `other.${dead}.0123456789ab.tmp`), ''); // another target's: not ours to judge
    await write(p, bytes('x'));
    expect(readdirSync(dir).sort()).toEqual([`m.safetensors`, `m.safetensors.${process.ppid}.0123456789ab.tmp`, `other.${dead}.0123456789ab.tmp`]);
  });
});
