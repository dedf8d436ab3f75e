/**
 * Streaming state helpers shared by every family: a state is a plain record (possibly nested, with arrays)
 * whose leaves are tensors, e.g. `{ h, c }` for an LSTM stack. The user owns it: nothing is hidden inside
 * the model, so streams never leak into each other.
 */
import { detach } from '../autograd/tape.js';
import { decodeSafetensors, encodeSafetensors } from '../io/safetensors.js';
import { WeightImportError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { StateTree } from '../models/state-tree.js';

export type { StateTree } from '../models/state-tree.js';

function mapTree(t: unknown, f: (x: Tensor, path: string) => unknown, path = ''): unknown {
  const sub = (k: string | number) => `${path}${path ? '.' : ''}${k}`;
  if (t instanceof Tensor) return f(t, path);
  if (Array.isArray(t)) return t.map((v, i) => mapTree(v, f, sub(i)));
  if (t !== null && typeof t === 'object') return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, mapTree(v, f, sub(k))]));
  throw new WeightImportError({ op: 'state', expected: 'a state whose leaves are tensors', got: `${typeof t} at '${path}'` });
}

/** The same state cut from the autograd graph: the next chunk's gradients stop here (truncated BPTT). */
export function detachState<S extends StateTree>(state: S): S {
  return mapTree(state, (x) => detach(x)) as S;
}

const FORMAT = 'seqlab-state';
const VERSION = '1';

/**
 * A state as flat tensors plus a JSON-able structure with `{ $tensor: key }` leaves (keys are dotted paths
 * under `prefix`), so it can sit among other tensors in one safetensors file (checkpoints do this).
 */
export function flattenState(state: StateTree, prefix = ''): { tensors: Record<string, Tensor>; structure: unknown } {
  const tensors: Record<string, Tensor> = {};
  const structure = mapTree(state, (x, path) => {
    const key = prefix + (path === '' ? '_' : path);
    tensors[key] = x;
    return { $tensor: key };
  });
  return { tensors, structure };
}

/** The inverse of `flattenState`. */
export function unflattenState<S extends StateTree = StateTree>(structure: unknown, tensors: Readonly<Record<string, Tensor>>, op = 'unflattenState'): S {
  const rebuild = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(rebuild);
    if (node !== null && typeof node === 'object') {
      const key = (node as { $tensor?: unknown }).$tensor;
      if (typeof key === 'string') {
        const t = tensors[key];
        if (!t) throw new WeightImportError({ op, expected: `tensor '${key}'`, got: 'no such tensor in the bytes' });
        return t;
      }
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, rebuild(v)]));
    }
    throw new WeightImportError({ op, expected: 'a state tree of tensors', got: JSON.stringify(node) });
  };
  return rebuild(structure) as S;
}

/** Bytes that `deserializeState` turns back into an identical state (safetensors with the tree in metadata). */
export function serializeState(state: StateTree): Uint8Array {
  const { tensors, structure } = flattenState(state);
  const raw: Record<string, { shape: readonly number[]; data: Float32Array }> = {};
  for (const [k, x] of Object.entries(tensors)) raw[k] = { shape: x.shape, data: x.dtype === 'float32' ? (x.buf as Float32Array) : Float32Array.from(x.buf) };
  return encodeSafetensors(raw, { format: FORMAT, version: VERSION, structure: JSON.stringify(structure) });
}

export function deserializeState<S extends StateTree = StateTree>(bytes: Uint8Array): S {
  const { tensors, metadata } = decodeSafetensors(bytes, 'deserializeState');
  if (metadata['format'] !== FORMAT || metadata['structure'] === undefined) {
    throw new WeightImportError({ op: 'deserializeState', expected: `bytes written by serializeState (format '${FORMAT}')`, got: `format ${JSON.stringify(metadata['format'] ?? null)}` });
  }
  if (metadata['version'] !== VERSION) {
    throw new WeightImportError({ op: 'deserializeState', expected: `state format version ${VERSION}`, got: String(metadata['version']), hint: 'it was written by a newer seqlab; upgrade to read it' });
  }
  const ts: Record<string, Tensor> = {};
  for (const [k, raw] of Object.entries(tensors)) ts[k] = new Tensor(raw.data, raw.shape);
  return unflattenState<S>(JSON.parse(metadata['structure']), ts, 'deserializeState');
}
