import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';
import { loadSafetensors, saveSafetensors } from '../../src/node/index.js';

describe('seqlab/node safetensors files', () => {
  it('a PyTorch state dict round-trips through a file, and loads into a module by name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seqlab-io-'));
    const m = new sl.nn.GRU({ inputSize: 3, hiddenSize: 4, numLayers: 2 });
    const path = join(dir, 'gru.safetensors');
    await saveSafetensors(path, m.stateDict(), { note: 'test' });
    const { tensors, metadata } = await loadSafetensors(path);
    expect(metadata['note']).toBe('test');
    const m2 = new sl.nn.GRU({ inputSize: 3, hiddenSize: 4, numLayers: 2 });
    m2.loadStateDict(tensors);
    for (const [k, t] of m.namedParameters()) expect(Array.from(Object.fromEntries(m2.namedParameters())[k]!.data)).toEqual(Array.from(t.data));
    expect(readdirSync(dir)).toEqual(['gru.safetensors']);
    rmSync(dir, { recursive: true, force: true });
  });
  it('a missing file names the path', async () => {
    await expect(loadSafetensors('/nonexistent/x.safetensors')).rejects.toThrow(/\/nonexistent\/x.safetensors.*ENOENT/);
  });
  it('readSafetensors names the file in its errors', () => {
    expect(() => sl.io.readSafetensors(new Uint8Array(3), 'weights.safetensors')).toThrow(/weights.safetensors/);
  });
});
