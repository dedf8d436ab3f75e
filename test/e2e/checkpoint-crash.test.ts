/** A crash between writing the temp file and renaming it leaves the previous checkpoint loadable. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/node/index.js';

const dir = mkdtempSync(join(tmpdir(), 'seqlab-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('SIGKILL before the rename: the old checkpoint is intact and loads', async () => {
  const path = join(dir, 'model.safetensors');
  const child = spawnSync(process.execPath, ['--import', 'tsx', new URL('./fixtures/crash-during-save.ts', import.meta.url).pathname, path], { encoding: 'utf8' });
  expect(child.signal).toBe('SIGKILL');
  expect(child.stdout).not.toContain('not reached');
  const files = readdirSync(dir);
  expect(files).toContain('model.safetensors');
  expect(files.some((f) => f.endsWith('.tmp'))).toBe(true); // the new checkpoint, complete but never renamed
  const ckpt = await loadCheckpoint(path);
  expect(ckpt.task).toEqual({ kind: 'lm', step: 1 });
});
