/**
 * PyTorch checkpoints as `torch.save` writes them since PyTorch 1.6 (`.pth`, `.pt`, `.bin`, nanoGPT's
 * `ckpt.pt`): a zip archive (entries stored, read with fflate) holding `<prefix>/data.pkl`, a pickle whose
 * tensors point by persistent id at raw little-endian storages `<prefix>/data/<key>`.
 *
 * The pickle is run by the restricted machine of `pickle.ts` with the allow-list below (what
 * `torch.load(weights_only=True)` allows); a tensor is `_rebuild_tensor_v2(storage, offset, size, stride,
 * …)`, so views (offsets, transposes, strides, stride 0) and names sharing one storage (tied weights) load
 * exactly; identical views come back as one Tensor object. Every tensor is widened or narrowed to
 * float32, as `readSafetensors` does.
 *
 * Limits against corrupt or hostile files: only stored and deflated entries; sizes and counts checked
 * against the file length before anything is allocated; tensors may not reach past their storage; all
 * tensors together at most 16 elements per byte of file (so stride-0 views cannot expand without bound).
 */
import { unzipSync, type UnzipFileInfo } from 'fflate';
import { WeightImportError, fmtShape } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import { PyDict, PyTuple, unpickle, type PyGlobal, type PyObject, type PyValue } from './pickle.js';
import { bf16ToF32, f16ToF32 } from './safetensors.js';

const op = 'readTorch';

type StorageDType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

const STORAGES: Record<string, [StorageDType, number]> = {
  FloatStorage: ['float32', 4], HalfStorage: ['float16', 2], BFloat16Storage: ['bfloat16', 2], DoubleStorage: ['float64', 8],
  LongStorage: ['int64', 8], IntStorage: ['int32', 4], ShortStorage: ['int16', 2], CharStorage: ['int8', 1],
  ByteStorage: ['uint8', 1], BoolStorage: ['bool', 1],
};

interface StorageType extends PyGlobal { readonly dtype: StorageDType; readonly itemSize: number }
interface StorageRef extends PyObject { readonly kind: 'storage'; readonly key: string; readonly dtype: StorageDType; readonly itemSize: number; readonly numel: number }
interface TensorRef extends PyObject { readonly kind: 'tensor'; readonly storage: StorageRef; readonly offset: number; readonly size: number[]; readonly stride: number[] }

const isObj = <K extends string>(v: PyValue, kind: K): v is PyObject & { kind: K } => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && (v as PyObject).kind === kind;
const isTensorRef = (v: PyValue): v is TensorRef => isObj(v, 'tensor');

function bad(expected: string, got: string, source: string): never {
  throw new WeightImportError({ op, expected, got: `${got} in ${source}` });
}

function intList(v: PyValue, what: string, source: string): number[] {
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : null;
  if (!items || !items.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) bad(`${what} as a tuple of non-negative integers`, 'another value', source);
  return items as number[];
}

/** The allow-list: every global a torch.save'd state dict or training checkpoint names, and nothing else. */
function makeGlobals(source: string): (module: string, name: string) => PyGlobal | undefined {
  const g = (name: string, call?: (args: PyValue[]) => PyValue): PyGlobal => ({ kind: 'global', name, ...(call ? { call } : {}) });
  const rebuildTensor = (args: PyValue[]): PyValue => {
    const [storage, offset, size, stride] = args;
    if (!isObj(storage!, 'storage')) bad('a storage as the first argument of _rebuild_tensor_v2', 'another value', source);
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) bad('a non-negative storage offset', String(offset), source);
    const t: TensorRef = { kind: 'tensor', storage: storage as StorageRef, offset, size: intList(size!, 'the size', source), stride: intList(stride!, 'the stride', source) };
    if (t.size.length !== t.stride.length) bad('a stride per dimension', `size ${fmtShape(t.size)} with stride ${fmtShape(t.stride)}`, source);
    return t;
  };
  const rebuildParameter = (args: PyValue[]): PyValue => {
    if (!isTensorRef(args[0]!)) bad('a tensor as the first argument of _rebuild_parameter', 'another value', source);
    return args[0]!;
  };
  const ordered = (): PyValue => new PyDict();
  const table: Record<string, PyGlobal> = {
    'collections.OrderedDict': g('collections.OrderedDict', ordered),
    'torch._utils._rebuild_tensor_v2': g('_rebuild_tensor_v2', rebuildTensor),
    'torch._utils._rebuild_parameter': g('_rebuild_parameter', rebuildParameter),
    'torch._utils._rebuild_parameter_with_state': g('_rebuild_parameter_with_state', rebuildParameter),
    // torch ≥ 2 wraps Parameter as _rebuild_from_type_v2(func, type, args, state): only plain tensor types.
    'torch._tensor._rebuild_from_type_v2': g('_rebuild_from_type_v2', (args) => {
      const [fn, type, inner] = args;
      if (!isObj(type!, 'global') || !['torch.Tensor', 'torch.nn.parameter.Parameter'].includes((type as PyGlobal).name)) bad('torch.Tensor or Parameter in _rebuild_from_type_v2', 'another type', source);
      if (!isObj(fn!, 'global') || !(fn as PyGlobal).call || !(inner instanceof PyTuple)) bad('a rebuild function and its arguments', 'other values', source);
      return (fn as PyGlobal).call!(inner.items);
    }),
    'torch.Tensor': g('torch.Tensor'),
    'torch.nn.parameter.Parameter': g('torch.nn.parameter.Parameter'),
    'torch.Size': g('torch.Size', (args) => (args[0] instanceof PyTuple ? args[0].items : Array.isArray(args[0]) ? args[0] : [])),
    'torch.device': g('torch.device', (args) => args.map(String).join(':')),
    // Protocol 2 pickles bytes as _codecs.encode(text, 'latin1').
    '_codecs.encode': g('_codecs.encode', (args) => {
      if (typeof args[0] !== 'string') bad('a string to encode', 'another value', source);
      return Uint8Array.from([...(args[0] as string)].map((c) => c.codePointAt(0)! & 0xff));
    }),
  };
  for (const [name, [dtype, itemSize]] of Object.entries(STORAGES)) table[`torch.${name}`] = { ...g(`torch.${name}`), dtype, itemSize } as StorageType;
  for (const d of ['float32', 'float16', 'bfloat16', 'float64', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool']) table[`torch.${d}`] = g(`torch.${d}`, () => d);
  return (module, name) => table[`${module}.${name}`];
}

interface ZipEntries {
  prefix: string;
  pickle: Uint8Array;
  byteorder: string;
  /** Storage key → the bytes of `<prefix>/data/<key>`, extracted on first use. */
  storage(key: string): Uint8Array;
}

/** Only what can be true of a real entry: known compression, sizes inside the file (deflate at most 1032:1). */
function checkEntry(f: UnzipFileInfo, fileLength: number, source: string): void {
  if (f.compression !== 0 && f.compression !== 8) bad('zip entries stored or deflated', `compression method ${f.compression} for ${f.name}`, source);
  const ok = Number.isSafeInteger(f.size) && Number.isSafeInteger(f.originalSize) && f.size >= 0 && f.size <= fileLength
    && (f.compression === 0 ? f.originalSize === f.size : f.originalSize <= f.size * 1032 + 1024);
  if (!ok) bad('zip entry sizes within the file', `${f.name}: ${f.size} bytes stored, ${f.originalSize} unpacked, in a ${fileLength}-byte file`, source);
}

function unzip(bytes: Uint8Array, source: string, want: (name: string) => boolean): Record<string, Uint8Array> {
  const maxEntries = Math.floor(bytes.length / 46) + 1; // a central-directory record is at least 46 bytes
  let seen = 0;
  try {
    return unzipSync(bytes, {
      filter: (f) => {
        if (++seen > maxEntries) bad(`at most ${maxEntries} zip entries for the file's size`, 'more', source);
        if (!want(f.name)) return false;
        checkEntry(f, bytes.length, source);
        return true;
      },
    });
  } catch (e) {
    if (e instanceof WeightImportError) throw e;
    return bad('a readable zip archive (torch.save, PyTorch ≥ 1.6)', `a damaged archive (${e instanceof Error ? e.message : String(e)})`, source);
  }
}

function openArchive(bytes: Uint8Array, source: string): ZipEntries {
  const names: string[] = [];
  unzip(bytes, source, (name) => { names.push(name); return false; });
  const pkl = names.find((n) => /^[^/]*\/?data\.pkl$/.test(n));
  if (pkl === undefined) bad('a torch.save archive with a data.pkl entry', `entries ${names.slice(0, 4).join(', ') || '(none)'}`, source);
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  const first = unzip(bytes, source, (n) => n === pkl || n === `${prefix}byteorder`);
  const byteorder = first[`${prefix}byteorder`] ? new TextDecoder().decode(first[`${prefix}byteorder`]).trim() : 'little';
  const present = new Set(names);
  const cache = new Map<string, Uint8Array>();
  return {
    prefix, pickle: first[pkl]!, byteorder,
    storage(key) {
      let data = cache.get(key);
      if (data) return data;
      const name = `${prefix}data/${key}`;
      if (!present.has(name)) bad(`the storage entry ${name}`, 'no such entry', source);
      data = unzip(bytes, source, (n) => n === name)[name]!;
      cache.set(key, data);
      return data;
    },
  };
}

function reader(dtype: StorageDType, view: DataView): (i: number) => number {
  switch (dtype) {
    case 'float32': return (i) => view.getFloat32(i * 4, true);
    case 'float16': return (i) => f16ToF32(view.getUint16(i * 2, true));
    case 'bfloat16': return (i) => bf16ToF32(view.getUint16(i * 2, true));
    case 'float64': return (i) => view.getFloat64(i * 8, true);
    case 'int64': return (i) => Number(view.getBigInt64(i * 8, true));
    case 'int32': return (i) => view.getInt32(i * 4, true);
    case 'int16': return (i) => view.getInt16(i * 2, true);
    case 'int8': return (i) => view.getInt8(i);
    case 'uint8': return (i) => view.getUint8(i);
    case 'bool': return (i) => (view.getUint8(i) ? 1 : 0);
  }
}

export interface TorchFile {
  /** The state dict: name → float32 tensor (for a training checkpoint, its model entry; `_orig_mod.` removed). */
  tensors: Record<string, Tensor>;
  /** Everything else in the pickled tree as plain values: dicts as objects, tuples as arrays, tensors as Tensors. */
  objects: Record<string, unknown>;
}

/** Where a training checkpoint keeps its model's state dict (nanoGPT: `model`; Lightning: `state_dict`). */
const STATE_DICT_KEYS = ['model', 'state_dict', 'model_state_dict', 'module'];

/**
 * Read a file written by `torch.save` (zip format): a state dict, or a checkpoint dict holding one. Never
 * runs code from the file; see the module comment for what is allowed and the limits.
 */
export function readTorch(bytes: Uint8Array, source = 'torch file'): TorchFile {
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1]! <= 5) {
    bad('the zip format of torch.save (PyTorch ≥ 1.6)', 'the legacy pickle format; load and re-save it with torch.save in PyTorch ≥ 1.6', source);
  }
  if (bytes.length < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b) bad('a torch.save zip archive (starting with "PK")', `${bytes.length} bytes starting ${Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ')}`, source);
  const zip = openArchive(bytes, source);
  if (zip.byteorder !== 'little') bad('little-endian storages', `byteorder ${JSON.stringify(zip.byteorder)}`, source);
  const storages = new Map<string, StorageRef>();
  const resolveGlobal = makeGlobals(source);
  const root = unpickle(zip.pickle, {
    resolveGlobal,
    persistentLoad(pid) {
      const t = pid instanceof PyTuple ? pid.items : null;
      if (!t || t[0] !== 'storage' || t.length < 5) bad("a persistent id ('storage', type, key, location, numel)", 'another value', source);
      const [, type, key, , numel] = t;
      if (!isObj(type!, 'global') || !('dtype' in type)) bad(`a storage type (${Object.keys(STORAGES).join(', ')})`, isObj(type!, 'global') ? (type as PyGlobal).name : 'another value', source);
      if (typeof key !== 'string' || typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) bad('a storage key and element count', 'other values', source);
      const st = type as StorageType;
      const prev = storages.get(key);
      if (prev) return prev;
      const ref: StorageRef = { kind: 'storage', key, dtype: st.dtype, itemSize: st.itemSize, numel };
      storages.set(key, ref);
      return ref;
    },
  }, source);

  let budget = Math.max(1 << 20, 16 * bytes.length);
  const made = new Map<string, Tensor>();
  const tensorOf = (t: TensorRef): Tensor => {
    const id = `${t.storage.key}|${t.offset}|${t.size.join(',')}|${t.stride.join(',')}`;
    const hit = made.get(id);
    if (hit) return hit;
    const n = t.size.reduce((a, b) => a * b, 1);
    budget -= n;
    if (!Number.isSafeInteger(n) || budget < 0) bad('tensors of at most 16 elements per byte of file in all', `${fmtShape(t.size)} beyond that`, source);
    let last = t.offset;
    for (let d = 0; d < t.size.length; d++) if (t.size[d]! > 0) last += (t.size[d]! - 1) * t.stride[d]!;
    if (n > 0 && last >= t.storage.numel) bad(`a view inside its storage of ${t.storage.numel} elements`, `size ${fmtShape(t.size)}, stride ${fmtShape(t.stride)}, offset ${t.offset}`, source);
    const raw = n > 0 ? zip.storage(t.storage.key) : new Uint8Array(0);
    if (n > 0 && raw.length < t.storage.numel * t.storage.itemSize) bad(`${t.storage.numel * t.storage.itemSize} bytes of ${t.storage.dtype} storage ${t.storage.key}`, `${raw.length}`, source);
    const read = reader(t.storage.dtype, new DataView(raw.buffer, raw.byteOffset, raw.byteLength));
    const out = new Float32Array(n);
    const nd = t.size.length, idx = new Array<number>(nd).fill(0);
    for (let i = 0, at = t.offset; i < n; i++) {
      out[i] = read(at);
      for (let d = nd - 1; d >= 0; d--) { // odometer over the view's indices
        at += t.stride[d]!;
        if (++idx[d]! < t.size[d]!) break;
        at -= t.stride[d]! * t.size[d]!;
        idx[d] = 0;
      }
    }
    const tensor = new Tensor(out, t.size);
    made.set(id, tensor);
    return tensor;
  };

  const plain = toPlain(root, tensorOf, source);
  const isStateDict = (v: PyValue): v is PyDict => v instanceof PyDict && v.map.size > 0 && [...v.map.values()].every(isTensorRef);
  const stateDictOf = (d: PyDict): Record<string, Tensor> => {
    const out: Record<string, Tensor> = {};
    for (const [k, v] of d.map) Object.defineProperty(out, String(k).replace(/^_orig_mod\./, ''), { value: tensorOf(v as TensorRef), enumerable: true, writable: true, configurable: true });
    return out;
  };
  if (isStateDict(root)) return { tensors: stateDictOf(root), objects: {} };
  if (root instanceof PyDict) {
    const key = STATE_DICT_KEYS.find((k) => isStateDict(root.map.get(k) ?? null));
    if (key !== undefined) {
      const objects = plain as Record<string, unknown>;
      delete objects[key];
      return { tensors: stateDictOf(root.map.get(key) as PyDict), objects };
    }
    return { tensors: {}, objects: plain as Record<string, unknown> };
  }
  return { tensors: {}, objects: { value: plain } };
}

/** The pickled tree as plain values; shared subtrees are converted once, cycles and deep nesting refused. */
function toPlain(root: PyValue, tensorOf: (t: TensorRef) => Tensor, source: string): unknown {
  const done = new Map<object, unknown>();
  const active = new Set<object>();
  const walk = (v: PyValue, depth: number): unknown => {
    if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return v;
    if (depth > 200) bad('objects nested at most 200 deep', 'deeper nesting', source);
    const hit = done.get(v);
    if (hit !== undefined) return hit;
    if (active.has(v)) bad('a tree of values', 'a value that contains itself', source);
    active.add(v);
    let out: unknown;
    if (Array.isArray(v)) out = v.map((x) => walk(x, depth + 1));
    else if (v instanceof PyTuple) out = v.items.map((x) => walk(x, depth + 1));
    else if (v instanceof PyDict) {
      const o: Record<string, unknown> = {};
      for (const [k, x] of v.map) Object.defineProperty(o, String(k), { value: walk(x, depth + 1), enumerable: true, writable: true, configurable: true });
      out = o;
    } else if (isTensorRef(v)) out = v.size.length === 0 ? tensorOf(v).item() : tensorOf(v); // a 0-d tensor is a number
    else if (isObj(v, 'global')) out = `<${(v as PyGlobal).name}>`;
    else if (isObj(v, 'storage')) out = `<storage ${(v as StorageRef).key}>`;
    else out = null;
    active.delete(v);
    done.set(v, out);
    return out;
  };
  return walk(root, 0);
}
