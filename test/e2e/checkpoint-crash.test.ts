/** A crash between writing the temp file and renaming it leaves the previous checkpoint loadable. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from '../../src/node/index.js';

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

it('an exit in the middle of a save (uncaught error, a second Ctrl-C) leaves no temp file; the next save sweeps a killed one', async () => {
  const path = join(dir, 'exit.safetensors');
  const child = spawnSync(process.execPath, ['--import', 'tsx', new URL('./fixtures/crash-during-save.ts', import.meta.url).pathname, path, 'exit'], { encoding: 'utf8' });
  expect(child.status).toBe(7);
  expect(readdirSync(dir).filter((f) => f.startsWith('exit.') && f.endsWith('.tmp'))).toEqual([]);
  expect((await loadCheckpoint(path)).task).toEqual({ kind: 'lm', step: 1 });
  // The SIGKILLed writer of the first test left model.safetensors.<pid>.<hex>.tmp: saving there again removes it.
  expect(readdirSync(dir).some((f) => f.startsWith('model.safetensors.') && f.endsWith('.tmp'))).toBe(true);
  await saveCheckpoint(join(dir, 'model.safetensors'), await loadCheckpoint(join(dir, 'model.safetensors')));
  expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
});
