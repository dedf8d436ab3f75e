/**
 * A restricted Python unpickler: the subset of the pickle machine (protocols 2–5) that `torch.save` and
 * `torch.load(weights_only=True)` use. It builds only plain values (None, bools, ints, floats, strings,
 * bytes, lists, tuples, dicts) and the objects that a small, fixed table of globals makes
 * (`resolveGlobal`): nothing is ever executed or imported. Any other global is refused with its name, as
 * `weights_only=True` does. Opcodes that create arbitrary instances (INST, OBJ, NEWOBJ, NEWOBJ_EX, EXT*)
 * are refused too.
 *
 * The machine is one table, opcode byte → handler (`OPS`). Every read is bounds-checked, every length
 * is checked against the bytes left, and integers wider than 64 bits are refused, so a corrupt or hostile
 * pickle ends in a `WeightImportError`, never a crash, a hang or an allocation larger than the input.
 * Reference: CPython `Lib/pickle.py` and `Lib/pickletools.py` (opcode meanings).
 */
import { WeightImportError } from '../tensor/errors.js';

/** A Python tuple (kept apart from lists so that calls can tell their arguments). */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

/** A Python dict; keys are plain values (strings, numbers, tuples…), in insertion order. */
export class PyDict {
  readonly map = new Map<PyKey, PyValue>();
}

export type PyKey = string | number | bigint | boolean | null;

/** What an allow-listed global made: an opaque object that the caller's table knows how to use. */
export interface PyObject {
  readonly kind: string;
}

export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | PyTuple | PyDict | PyObject;

/** A callable or marker that an allow-listed global resolves to. */
export interface PyGlobal extends PyObject {
  readonly kind: 'global';
  readonly name: string;
  /** REDUCE: call with the argument tuple. */
  call?(args: PyValue[]): PyValue;
}

export interface UnpicklerHooks {
  /** `module.name` → the global, or undefined to refuse it. */
  resolveGlobal(module: string, name: string): PyGlobal | undefined;
  /** BINPERSID: what the persistent id stands for (torch: a storage). */
  persistentLoad(pid: PyValue): PyValue;
}

const op = 'readTorch';
const MARK = Symbol('mark');
type StackItem = PyValue | typeof MARK;

class Machine {
  pos = 0;
  readonly stack: StackItem[] = [];
  readonly memo = new Map<number, PyValue>();
  done = false;
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array, readonly hooks: UnpicklerHooks, readonly source: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(what: string, got?: string): never {
    throw new WeightImportError({ op, expected: what, got: `${got ?? 'something else'} at byte ${this.pos} of ${this.source}` });
  }

  need(n: number): number {
    if (!Number.isSafeInteger(n) || n < 0 || this.pos + n > this.bytes.length) this.fail(`${n} more bytes`, `${this.bytes.length - this.pos} left`);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(): number { return this.bytes[this.need(1)]!; }
  u16(): number { return this.view.getUint16(this.need(2), true); }
  u32(): number { return this.view.getUint32(this.need(4), true); }
  i32(): number { return this.view.getInt32(this.need(4), true); }
  u64(): number {
    const at = this.need(8);
    const hi = this.view.getUint32(at + 4, true);
    if (hi > 0x1fffff) this.fail('a length below 2^53', 'a larger one');
    return hi * 2 ** 32 + this.view.getUint32(at, true);
  }
  raw(n: number): Uint8Array { const at = this.need(n); return this.bytes.subarray(at, at + n); }
  text(n: number): string { return new TextDecoder().decode(this.raw(n)); }
  line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) this.fail('a newline-terminated argument', 'the end of the data');
    const s = new TextDecoder().decode(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }

  push(v: PyValue): void { this.stack.push(v); }
  pop(): PyValue {
    const v = this.stack.pop();
    if (v === undefined) this.fail('a value on the stack', 'an empty stack');
    if (v === MARK) this.fail('a value on the stack', 'a MARK');
    return v;
  }
  top(): PyValue {
    const v = this.stack[this.stack.length - 1];
    if (v === undefined || v === MARK) this.fail('a value on the stack', v === MARK ? 'a MARK' : 'an empty stack');
    return v;
  }
  /** Everything above the topmost MARK (which is removed). */
  popMark(): PyValue[] {
    let i = this.stack.length - 1;
    while (i >= 0 && this.stack[i] !== MARK) i--;
    if (i < 0) this.fail('a MARK on the stack', 'none');
    const items = this.stack.splice(i) as PyValue[];
    items.shift();
    return items;
  }
  get(i: number): PyValue {
    const v = this.memo.get(i);
    if (v === undefined) this.fail(`memo entry ${i}`, 'no such entry');
    return v;
  }
  global(module: string, name: string): void {
    const g = this.hooks.resolveGlobal(module, name);
    if (!g) {
      throw new WeightImportError({
        op, expected: 'only tensors, storages and plain Python values (the globals torch.load(weights_only=True) allows)',
        got: `the global ${module}.${name} in ${this.source}`,
        hint: 'seqlab never runs code from a checkpoint; save the state dict (model.state_dict()) instead of pickled objects',
      });
    }
    this.push(g);
  }
}

function asKey(m: Machine, k: PyValue): PyKey {
  if (k === null || typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') return k;
  if (k instanceof PyTuple) return `(${k.items.map((x) => String(asKey(m, x))).join(', ')})`;
  return m.fail('a hashable dict key (string, number, tuple)', 'an object');
}

function setItems(m: Machine, target: PyValue, kv: PyValue[]): void {
  if (!(target instanceof PyDict)) m.fail('a dict under SETITEM(S)', 'another value');
  if (kv.length % 2) m.fail('key/value pairs', `${kv.length} items`);
  for (let i = 0; i < kv.length; i += 2) target.map.set(asKey(m, kv[i]!), kv[i + 1]!);
}

function appendItems(m: Machine, target: PyValue, items: PyValue[]): void {
  if (!Array.isArray(target)) m.fail('a list under APPEND(S)', 'another value');
  for (const x of items) target.push(x);
}

/** Little-endian two's-complement integer of n ≤ 8 bytes (wider ones are refused: no checkpoint needs them). */
function long(m: Machine, n: number): number | bigint {
  if (n > 8) m.fail('an integer of at most 64 bits', `${n} bytes`);
  const b = m.raw(n);
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  if (n > 0 && b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function call(m: Machine, fn: PyValue, args: PyValue): PyValue {
  if (!(args instanceof PyTuple)) m.fail('an argument tuple for REDUCE', 'another value');
  const g = fn as PyGlobal;
  if (typeof fn !== 'object' || fn === null || (fn as PyObject).kind !== 'global' || !g.call) m.fail('a callable allow-listed global for REDUCE', 'another value');
  return g.call(args.items);
}

type Handler = (m: Machine) => void;

/** Opcode byte → what it does. Anything not here is refused, naming the opcode. */
const OPS: Record<number, Handler> = {
  0x80: (m) => { const v = m.u8(); if (v < 2 || v > 5) m.fail('pickle protocol 2–5', `protocol ${v}`); }, // PROTO
  0x95: (m) => { m.u64(); }, // FRAME: a length hint only
  0x2e: (m) => { m.done = true; }, // STOP
  0x28: (m) => { m.stack.push(MARK); }, // MARK
  0x30: (m) => { m.pop(); }, // POP
  0x31: (m) => { m.popMark(); }, // POP_MARK
  0x32: (m) => { m.push(m.top()); }, // DUP
  0x4e: (m) => m.push(null), // NONE
  0x88: (m) => m.push(true), // NEWTRUE
  0x89: (m) => m.push(false), // NEWFALSE
  0x4b: (m) => m.push(m.u8()), // BININT1
  0x4d: (m) => m.push(m.u16()), // BININT2
  0x4a: (m) => m.push(m.i32()), // BININT
  0x8a: (m) => m.push(long(m, m.u8())), // LONG1
  0x8b: (m) => { const n = m.i32(); if (n < 0) m.fail('a non-negative LONG4 length', String(n)); m.push(long(m, n)); }, // LONG4
  0x49: (m) => { // INT (text; protocol 0 leftovers): 01/00 are bools
    const s = m.line();
    if (s === '01' || s === '00') return m.push(s === '01');
    const v = Number(s);
    if (!Number.isSafeInteger(v)) m.fail('an integer', JSON.stringify(s.slice(0, 20)));
    m.push(v);
  },
  0x47: (m) => m.push(m.view.getFloat64(m.need(8), false)), // BINFLOAT (big-endian)
  0x8c: (m) => m.push(m.text(m.u8())), // SHORT_BINUNICODE
  0x58: (m) => m.push(m.text(m.u32())), // BINUNICODE
  0x8d: (m) => m.push(m.text(m.u64())), // BINUNICODE8
  0x55: (m) => m.push(m.text(m.u8())), // SHORT_BINSTRING (Python 2 str, read as text)
  0x54: (m) => { const n = m.i32(); m.push(m.text(n)); }, // BINSTRING
  0x43: (m) => m.push(m.raw(m.u8()).slice()), // SHORT_BINBYTES
  0x42: (m) => m.push(m.raw(m.u32()).slice()), // BINBYTES
  0x8e: (m) => m.push(m.raw(m.u64()).slice()), // BINBYTES8
  0x96: (m) => m.push(m.raw(m.u64()).slice()), // BYTEARRAY8
  0x7d: (m) => m.push(new PyDict()), // EMPTY_DICT
  0x5d: (m) => m.push([]), // EMPTY_LIST
  0x29: (m) => m.push(new PyTuple([])), // EMPTY_TUPLE
  0x8f: (m) => m.push([]), // EMPTY_SET (as a list)
  0x90: (m) => { const items = m.popMark(); appendItems(m, m.top(), items); }, // ADDITEMS
  0x91: (m) => m.push(m.popMark()), // FROZENSET (as a list)
  0x74: (m) => m.push(new PyTuple(m.popMark())), // TUPLE
  0x85: (m) => m.push(new PyTuple([m.pop()])), // TUPLE1
  0x86: (m) => { const b = m.pop(), a = m.pop(); m.push(new PyTuple([a, b])); }, // TUPLE2
  0x87: (m) => { const c = m.pop(), b = m.pop(), a = m.pop(); m.push(new PyTuple([a, b, c])); }, // TUPLE3
  0x6c: (m) => m.push(m.popMark()), // LIST
  0x64: (m) => { const d = new PyDict(); setItems(m, d, m.popMark()); m.push(d); }, // DICT
  0x61: (m) => { const v = m.pop(); appendItems(m, m.top(), [v]); }, // APPEND
  0x65: (m) => { const items = m.popMark(); appendItems(m, m.top(), items); }, // APPENDS
  0x73: (m) => { const v = m.pop(), k = m.pop(); setItems(m, m.top(), [k, v]); }, // SETITEM
  0x75: (m) => { const kv = m.popMark(); setItems(m, m.top(), kv); }, // SETITEMS
  0x71: (m) => { m.memo.set(m.u8(), m.top()); }, // BINPUT
  0x72: (m) => { m.memo.set(m.u32(), m.top()); }, // LONG_BINPUT
  0x94: (m) => { m.memo.set(m.memo.size, m.top()); }, // MEMOIZE
  0x68: (m) => m.push(m.get(m.u8())), // BINGET
  0x6a: (m) => m.push(m.get(m.u32())), // LONG_BINGET
  0x63: (m) => { const mod = m.line(), name = m.line(); m.global(mod, name); }, // GLOBAL
  0x93: (m) => { // STACK_GLOBAL
    const name = m.pop(), mod = m.pop();
    if (typeof mod !== 'string' || typeof name !== 'string') return m.fail('module and name strings for STACK_GLOBAL', 'other values');
    m.global(mod, name);
  },
  0x52: (m) => { const args = m.pop(), fn = m.pop(); m.push(call(m, fn, args)); }, // REDUCE
  // BUILD (setstate): only instance attributes reach here (an OrderedDict's _metadata, a Parameter's flags); a
  // weights file needs none of them, so the state is dropped and the object kept as built.
  0x62: (m) => { m.pop(); m.top(); },
  0x51: (m) => m.push(m.hooks.persistentLoad(m.pop())), // BINPERSID
};

const OPCODE_NAMES: Record<number, string> = {
  0x69: 'INST', 0x6f: 'OBJ', 0x81: 'NEWOBJ', 0x92: 'NEWOBJ_EX', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x50: 'PERSID',
  0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER', 0x46: 'FLOAT', 0x4c: 'LONG', 0x53: 'STRING', 0x56: 'UNICODE', 0x70: 'PUT', 0x67: 'GET',
};

/** Run the pickle in `bytes` and return the value it builds. */
export function unpickle(bytes: Uint8Array, hooks: UnpicklerHooks, source = 'pickle'): PyValue {
  const m = new Machine(bytes, hooks, source);
  while (!m.done) {
    if (m.pos >= bytes.length) m.fail('a STOP opcode', 'the end of the data');
    const code = bytes[m.pos++]!;
    const h = OPS[code];
    if (!h) {
      m.pos--;
      const name = OPCODE_NAMES[code];
      return m.fail('a pickle opcode of the restricted set (plain values, allow-listed globals, REDUCE, BUILD, BINPERSID)', `opcode 0x${code.toString(16).padStart(2, '0')}${name ? ` (${name})` : ''}`);
    }
    h(m);
  }
  if (m.stack.length !== 1) m.fail('exactly one value on the stack at STOP', `${m.stack.length}`);
  return m.pop();
}
