/** Hand-built torch.save archives for tests: a tiny pickle writer and fflate's zip writer (entries stored). */
import { zipSync } from 'fflate';

export interface FakeTensor {
  name: string;
  storage: string;
  storageType?: string;
  numel: number;
  offset?: number;
  size: number[];
  stride: number[];
}

const enc = new TextEncoder();
const str = (s: string): number[] => {
  const b = enc.encode(s);
  return [0x58, b.length & 0xff, (b.length >> 8) & 0xff, (b.length >> 16) & 0xff, b.length >>> 24, ...b];
};
const int = (v: number): number[] => [0x4a, v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
const glob = (mod: string, name: string): number[] => [0x63, ...enc.encode(`${mod}\n${name}\n`)];
const tuple = (items: number[][]): number[] => [0x28, ...items.flat(), 0x74];

/** A pickle of an OrderedDict of tensors, as torch.save writes a state dict (protocol 2). */
export function statePickle(tensors: FakeTensor[], extra: number[] = []): Uint8Array {
  const out: number[] = [0x80, 2, ...glob('collections', 'OrderedDict'), 0x29, 0x52, 0x28];
  for (const t of tensors) {
    out.push(...str(t.name), ...glob('torch._utils', '_rebuild_tensor_v2'));
    const pid = tuple([str('storage'), glob('torch', t.storageType ?? 'FloatStorage'), str(t.storage), str('cpu'), int(t.numel)]);
    out.push(...tuple([[...pid, 0x51], int(t.offset ?? 0), tuple(t.size.map(int)), tuple(t.stride.map(int)), [0x89], [...glob('collections', 'OrderedDict'), 0x29, 0x52]]), 0x52);
  }
  out.push(...extra, 0x75, 0x2e);
  return Uint8Array.from(out);
}

/** A zip archive laid out as torch.save's: archive/data.pkl, archive/data/<key>. */
export function torchArchive(pickle: Uint8Array, storages: Record<string, Uint8Array>): Uint8Array {
  const files: Record<string, [Uint8Array, { level: 0 }]> = { 'archive/data.pkl': [pickle, { level: 0 }] };
  for (const [k, v] of Object.entries(storages)) files[`archive/data/${k}`] = [v, { level: 0 }];
  return zipSync(files);
}

export const f32Bytes = (xs: number[]): Uint8Array => new Uint8Array(Float32Array.from(xs).buffer);
