/**
 * Tokenizers of pretrained models, read from the files those models ship with:
 *
 * - `RWKVWorldTokenizer`: the RWKV "World" vocabulary (`rwkv_vocab_v20230424.txt`, 65,536 ids). Each line
 *   is `<id> <Python literal> <byte length>`, the literal a `str` ('…', UTF-8 encoded) or `bytes` (b'…');
 *   encoding is a greedy longest match over the UTF-8 bytes, as the official TRIE_TOKENIZER
 *   (RWKV-LM `rwkv_tokenizer.py`) does; id 0 is end-of-text and has no bytes.
 * - `HFTokenizer`: a Hugging Face `tokenizer.json` (BPE and the rest: GPT-2's for nanoGPT, GPT-NeoX's for
 *   Mamba) through `@huggingface/tokenizers`, the Hub's own JavaScript implementation, offline.
 *
 * Both keep the whole file in `toJSON()`, so a checkpoint carries its tokenizer with it.
 */
import { Tokenizer as HubTokenizer } from '@huggingface/tokenizers';
import { DataError } from './errors.js';
import type { StreamDecoder, Tokenizer, TokenizerJSON } from './tokenizer-types.js';

function checkIds(op: string, ids: ArrayLike<number>, vocabSize: number): void {
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= vocabSize) throw new DataError({ op, expected: `ids in [0, ${vocabSize})`, got: `${v} at position ${i}` });
  }
}

/** A Python `str` or `bytes` literal as written by `repr()` → its bytes (str as UTF-8). */
export function parsePythonLiteral(src: string, where = 'literal'): Uint8Array {
  let i = 0;
  const isBytes = src[0] === 'b';
  if (isBytes) i++;
  const q = src[i];
  if ((q !== "'" && q !== '"') || src[src.length - 1] !== q || src.length < i + 2) {
    throw new DataError({ op: 'parsePythonLiteral', expected: "a Python string literal '…' or b'…'", got: `${JSON.stringify(src.slice(0, 40))} (${where})` });
  }
  const body = src.slice(i + 1, -1), out: number[] = [], enc = new TextEncoder();
  const hex = (s: string, at: number): number => {
    if (!/^[0-9a-fA-F]+$/.test(s)) throw new DataError({ op: 'parsePythonLiteral', expected: 'hex digits after \\x, \\u or \\U', got: `${JSON.stringify(s)} at ${at} (${where})` });
    return parseInt(s, 16);
  };
  const SIMPLE: Record<string, number> = { n: 10, t: 9, r: 13, '\\': 92, "'": 39, '"': 34, a: 7, b: 8, f: 12, v: 11, '0': 0 };
  for (let k = 0; k < body.length; k++) {
    const c = body[k]!;
    if (c !== '\\') {
      const cp = body.codePointAt(k)!;
      if (cp > 0xffff) k++;
      if (isBytes) out.push(cp & 0xff);
      else out.push(...enc.encode(String.fromCodePoint(cp)));
      continue;
    }
    const e = body[++k];
    if (e === undefined) throw new DataError({ op: 'parsePythonLiteral', expected: 'an escape after \\', got: `the end (${where})` });
    if (e in SIMPLE) out.push(SIMPLE[e]!);
    else if (e === 'x') { out.push(...(isBytes ? [hex(body.slice(k + 1, k + 3), k)] : enc.encode(String.fromCodePoint(hex(body.slice(k + 1, k + 3), k))))); k += 2; }
    else if (!isBytes && (e === 'u' || e === 'U')) {
      const n = e === 'u' ? 4 : 8;
      out.push(...enc.encode(String.fromCodePoint(hex(body.slice(k + 1, k + 1 + n), k))));
      k += n;
    } else throw new DataError({ op: 'parsePythonLiteral', expected: 'a known escape (\\n \\t \\r \\\\ \\\' \\" \\xNN \\uNNNN)', got: `\\${e} (${where})` });
  }
  return Uint8Array.from(out);
}

interface TrieNode { id: number; next: Map<number, TrieNode> }

export class RWKVWorldTokenizer implements Tokenizer {
  readonly kind = 'rwkv-world' as const;
  readonly vocabSize: number;
  private readonly tokens: (Uint8Array | undefined)[] = [];
  private readonly root: TrieNode = { id: -1, next: new Map() };

  /** `vocab`: the text of the vocabulary file. */
  constructor(private readonly vocab: string) {
    const lines = vocab.split('\n');
    lines.forEach((raw, n) => {
      const line = raw.replace(/\r$/, '');
      if (line.trim() === '') return;
      const a = line.indexOf(' '), b = line.lastIndexOf(' ');
      const id = Number(line.slice(0, a)), len = Number(line.slice(b + 1));
      if (a < 0 || b <= a || !Number.isInteger(id) || id < 1 || id > 1 << 20 || !Number.isInteger(len)) {
        throw new DataError({ op: 'RWKVWorldTokenizer', expected: "lines '<id> <Python literal> <byte length>' (rwkv_vocab_v20230424.txt)", got: `${JSON.stringify(line.slice(0, 60))} on line ${n + 1}` });
      }
      const bytes = parsePythonLiteral(line.slice(a + 1, b), `line ${n + 1}`);
      if (bytes.length !== len) throw new DataError({ op: 'RWKVWorldTokenizer', expected: `${len} bytes for id ${id} (the line's last field)`, got: `${bytes.length} on line ${n + 1}` });
      if (this.tokens[id]) throw new DataError({ op: 'RWKVWorldTokenizer', expected: 'each id once', got: `id ${id} again on line ${n + 1}` });
      this.tokens[id] = bytes;
      let node = this.root;
      for (const byte of bytes) {
        let nx = node.next.get(byte);
        if (!nx) node.next.set(byte, (nx = { id: -1, next: new Map() }));
        node = nx;
      }
      node.id = id;
    });
    // The released vocabulary holds ids 1..65529 (the models have 65536 rows; ids past the file are unused).
    this.vocabSize = this.tokens.length;
    for (let b = 0; b < 256; b++) {
      if (!this.root.next.get(b) || this.root.next.get(b)!.id < 0) {
        throw new DataError({ op: 'RWKVWorldTokenizer', expected: 'every single byte in the vocabulary (so any text encodes)', got: `no token for byte 0x${b.toString(16).padStart(2, '0')}` });
      }
    }
  }

  /** Greedy longest match over the UTF-8 bytes (TRIE_TOKENIZER.encodeBytes). */
  encode(text: string): Int32Array {
    const src = new TextEncoder().encode(text), out: number[] = [];
    for (let i = 0; i < src.length;) {
      let node = this.root, best = -1, end = i;
      for (let j = i; j < src.length; j++) {
        const nx = node.next.get(src[j]!);
        if (!nx) break;
        node = nx;
        if (nx.id >= 0) { best = nx.id; end = j + 1; }
      }
      out.push(best);
      i = end;
    }
    return Int32Array.from(out);
  }

  private bytesOf(ids: ArrayLike<number>): Uint8Array {
    checkIds('rwkvWorldTokenizer.decode', ids, this.vocabSize);
    const parts = Array.from(ids, (id) => this.tokens[id] ?? new Uint8Array(0));
    const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  /** Invalid UTF-8 (a sample cut mid-character) decodes to U+FFFD, as the official decode with errors='replace'. */
  decode(ids: ArrayLike<number>): string {
    return new TextDecoder().decode(this.bytesOf(ids));
  }

  decoder(): StreamDecoder {
    const d = new TextDecoder();
    return { push: (id) => d.decode(this.bytesOf([id]), { stream: true }), flush: () => d.decode() };
  }

  toJSON(): TokenizerJSON {
    return { kind: 'rwkv-world', vocab: this.vocab };
  }
}

export class HFTokenizer implements Tokenizer {
  readonly kind = 'hf' as const;
  readonly vocabSize: number;
  private readonly tok: HubTokenizer;

  /** `json`: the text of tokenizer.json; `config`: tokenizer_config.json's, when there is one. */
  constructor(private readonly json: string, private readonly config: string = '{}') {
    let parsed: unknown, cfg: unknown;
    try {
      parsed = JSON.parse(json);
      cfg = JSON.parse(config);
    } catch (e) {
      throw new DataError({ op: 'HFTokenizer', expected: 'the JSON text of a tokenizer.json', got: `unparsable JSON (${e instanceof Error ? e.message : String(e)})` });
    }
    const model = (parsed as { model?: { type?: unknown; vocab?: unknown } } | null)?.model;
    if (typeof parsed !== 'object' || parsed === null || typeof model !== 'object' || model === null) {
      throw new DataError({ op: 'HFTokenizer', expected: 'a Hugging Face tokenizer.json (an object with a "model")', got: 'another JSON value' });
    }
    this.tok = new HubTokenizer(parsed as object, cfg as object);
    let max = -1;
    for (const id of this.tok.get_vocab(true).values()) max = Math.max(max, id);
    this.vocabSize = max + 1;
  }

  encode(text: string): Int32Array {
    return Int32Array.from(this.tok.encode(text, { add_special_tokens: false }).ids);
  }

  decode(ids: ArrayLike<number>): string {
    checkIds('hfTokenizer.decode', ids, this.vocabSize);
    if (ids.length === 0) return ''; // the library refuses an empty list
    return this.tok.decode(Array.from(ids), { skip_special_tokens: false });
  }

  /** Decodes the whole prefix each time and emits what is new, so multi-token characters come out whole. */
  decoder(): StreamDecoder {
    const ids: number[] = [];
    let shown = '';
    const next = (final: boolean): string => {
      let text = this.decode(ids);
      if (!final && text.endsWith('\uFFFD')) text = text.slice(0, -1); // an incomplete character: wait for more
      const out = text.startsWith(shown) ? text.slice(shown.length) : text;
      shown = text;
      return out;
    };
    return { push: (id) => { ids.push(id); return next(false); }, flush: () => next(true) };
  }

  toJSON(): TokenizerJSON {
    return { kind: 'hf', json: this.json, ...(this.config !== '{}' ? { config: this.config } : {}) };
  }
}
