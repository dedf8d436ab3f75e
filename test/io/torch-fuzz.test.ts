/**
 * Seeded fuzz of the torch checkpoint reader: mutated archives (real torch.save files and hand-built ones)
 * and mutated pickles inside well-formed archives. Every input must end in a result or a WeightImportError —
 * never another exception (a RangeError from an out-of-bounds read, a stack overflow), never a hang, and
 * never an output larger than the reader's stated budget (16 float32 values per input byte).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';
import { rng } from '../fuzz/harness.js';
import { f32Bytes, statePickle, torchArchive } from './torch-builder.js';

const dir = fileURLToPath(new URL('../golden/torch/', import.meta.url));

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x28, 0x2e, 0x52, 0x51, 0x63, 0x71, 0x8a, 0x95];

function mutate(src: Uint8Array, r: () => number, region?: [number, number]): Uint8Array {
  const [lo, hi] = region ?? [0, src.length];
  const at = (): number => lo + Math.floor(r() * Math.max(1, hi - lo));
  let b = src.slice();
  const n = 1 + Math.floor(r() * 4);
  for (let k = 0; k < n; k++) {
    const kind = Math.floor(r() * 6);
    if (kind === 0) b[at()] = Math.floor(r() * 256);
    else if (kind === 1) b[at()] = INTERESTING[Math.floor(r() * INTERESTING.length)]!;
    else if (kind === 2) { const i = at(); b[i] = b[i]! ^ (1 << Math.floor(r() * 8)); }
    else if (kind === 3) { const i = at(); for (let j = 0; j < 4 && i + j < b.length; j++) b[i + j] = 0xff; } // a huge length
    else if (kind === 4) b = b.slice(0, Math.max(0, at())); // truncation
    else { const i = at(), len = 1 + Math.floor(r() * 16); b = Uint8Array.from([...b.slice(0, i), ...b.slice(i, i + len), ...b.slice(i)]); } // duplication
  }
  return b;
}

function expectSafe(input: Uint8Array, what: string): void {
  const t0 = performance.now();
  try {
    const { tensors, objects } = sl.io.readTorch(input, what);
    const values = Object.values(tensors).reduce((s, t) => s + t.size, 0);
    expect(values, what).toBeLessThanOrEqual(Math.max(1 << 20, 16 * input.length));
    expect(typeof objects).toBe('object');
  } catch (e) {
    if (!(e instanceof sl.WeightImportError)) throw new Error(`${what}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
  expect(performance.now() - t0, `${what} took too long`).toBeLessThan(2000);
}

describe('readTorch fuzz', () => {
  it('mutated real checkpoints (views.pt, mamba_tied.bin, lstm_state_dict.pth, evil.pt)', () => {
    const r = rng(1234);
    for (const f of ['views.pt', 'mamba_tied.bin', 'lstm_state_dict.pth', 'evil.pt']) {
      const src = new Uint8Array(readFileSync(dir + f));
      for (let i = 0; i < 300; i++) expectSafe(mutate(src, r), `${f} mutation ${i}`);
    }
  });

  it('mutated pickles inside well-formed archives reach the unpickler', () => {
    const r = rng(99);
    const pickle = statePickle([
      { name: 'a', storage: '0', numel: 6, size: [2, 3], stride: [3, 1] },
      { name: 'b', storage: '0', numel: 6, offset: 2, size: [2, 2], stride: [1, 2] },
      { name: 'c', storage: '1', storageType: 'HalfStorage', numel: 2, size: [2], stride: [1] },
    ]);
    const storages = { '0': f32Bytes([1, 2, 3, 4, 5, 6]), '1': Uint8Array.of(0, 60, 0, 188) };
    expect(sl.io.readTorch(torchArchive(pickle, storages)).tensors['c']!.toArray()).toEqual([1, -1]);
    for (let i = 0; i < 1500; i++) expectSafe(torchArchive(mutate(pickle, r), storages), `pickle mutation ${i}`);
  });

  it('hostile pickles: deep nesting, self-reference, huge integers and lengths, shared subtrees', () => {
    const P = (...ops: number[]): Uint8Array => torchArchive(Uint8Array.from([0x80, 2, ...ops, 0x2e]), {});
    const deep = P(...new Array<number>(50_000).fill(0x5d), ...new Array<number>(49_999).fill(0x61));
    expectSafe(deep, 'deep nesting');
    expect(() => sl.io.readTorch(deep)).toThrow(/nested at most 200 deep/);
    // l = []; l.append(l)
    expect(() => sl.io.readTorch(P(0x5d, 0x71, 0, 0x68, 0, 0x61))).toThrow(/contains itself/);
    expect(() => sl.io.readTorch(P(0x8a, 200, ...new Array<number>(200).fill(1)))).toThrow(/at most 64 bits/);
    expect(() => sl.io.readTorch(P(0x58, 0xff, 0xff, 0xff, 0x7f))).toThrow(/more bytes/);
    // a = [x, x]; b = [a, a]; … 40 levels: 2^40 leaves if expanded, one object each when shared
    const ops: number[] = [0x4b, 7];
    for (let i = 0; i < 40; i++) ops.push(0x71, 0, 0x30, 0x28, 0x68, 0, 0x68, 0, 0x6c);
    const shared = sl.io.readTorch(P(...ops)).objects['value'] as unknown[];
    expect(shared[0]).toBe(shared[1]);
  });
});
