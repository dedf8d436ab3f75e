/**
 * Tokenizers: text ⇄ integer ids. Each is saved with the model (`toJSON` / `tokenizerFromJSON`) so a
 * checkpoint decodes its own samples.
 *
 * - `CharTokenizer`: one id per Unicode character, the vocabulary being the sorted set of characters of the
 *   corpus (nanoGPT's shakespeare_char: `chars = sorted(list(set(data)))`, so Tiny Shakespeare gets the same
 *   65 ids, '\n' = 0, ' ' = 1).
 * - `ByteTokenizer`: one id per UTF-8 byte (vocabulary 256); encodes any text.
 * - `WordTokenizer`: whitespace-separated words, for per-token tagging; unknown words map to `<unk>` (id 0).
 * - Pretrained models' own (RWKV World, Hugging Face tokenizer.json): see pretrained.ts.
 */
import { SeqlabError } from '../tensor/errors.js';
import { DataError } from './errors.js';
import { HFTokenizer, RWKVWorldTokenizer } from './pretrained.js';
import type { StreamDecoder, Tokenizer, TokenizerJSON } from './tokenizer-types.js';

export type { StreamDecoder, Tokenizer, TokenizerJSON } from './tokenizer-types.js';

function checkIds(op: string, ids: ArrayLike<number>, vocabSize: number): void {
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= vocabSize) {
      throw new DataError({ op, expected: `ids in [0, ${vocabSize})`, got: `${v} at position ${i}` });
    }
  }
}

const codePointLabel = (ch: string): string => `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

export class CharTokenizer implements Tokenizer {
  readonly kind = 'char' as const;
  readonly chars: readonly string[];
  private readonly index = new Map<string, number>();

  constructor(chars: readonly string[]) {
    if (chars.length === 0) throw new DataError({ op: 'CharTokenizer', expected: 'a non-empty vocabulary', got: 'no characters' });
    chars.forEach((c, i) => {
      if ([...c].length !== 1) throw new DataError({ op: 'CharTokenizer', expected: 'single characters', got: JSON.stringify(c) });
      if (this.index.has(c)) throw new DataError({ op: 'CharTokenizer', expected: 'each character once', got: `${JSON.stringify(c)} twice` });
      this.index.set(c, i);
    });
    this.chars = [...chars];
  }

  /** The vocabulary of `text`: its distinct characters sorted by code point (Python's `sorted(set(text))`). */
  static fromText(text: string): CharTokenizer {
    const set = new Set<string>();
    for (const ch of text) set.add(ch);
    return new CharTokenizer([...set].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!));
  }

  get vocabSize(): number {
    return this.chars.length;
  }

  encode(text: string): Int32Array {
    const out = new Int32Array(text.length); // ≥ number of code points
    let n = 0, pos = 0;
    for (const ch of text) {
      const id = this.index.get(ch);
      if (id === undefined) {
        throw new DataError({
          op: 'charTokenizer.encode', expected: `characters of the model's vocabulary (${this.chars.length} characters)`,
          got: `${JSON.stringify(ch)} (${codePointLabel(ch)}) at character ${pos}`,
          hint: 'remove the character, or train with --tokenizer byte, which encodes any text',
        });
      }
      out[n++] = id;
      pos++;
    }
    return out.slice(0, n);
  }

  decode(ids: ArrayLike<number>): string {
    checkIds('charTokenizer.decode', ids, this.vocabSize);
    let s = '';
    for (let i = 0; i < ids.length; i++) s += this.chars[ids[i]!];
    return s;
  }

  decoder(): StreamDecoder {
    return { push: (id) => this.decode([id]), flush: () => '' };
  }

  toJSON(): TokenizerJSON {
    return { kind: 'char', chars: [...this.chars] };
  }
}

export class ByteTokenizer implements Tokenizer {
  readonly kind = 'byte' as const;
  readonly vocabSize = 256;

  encode(text: string): Int32Array {
    return Int32Array.from(new TextEncoder().encode(text));
  }

  /** Invalid UTF-8 (a sample cut mid-character) decodes to U+FFFD, never throws. */
  decode(ids: ArrayLike<number>): string {
    checkIds('byteTokenizer.decode', ids, 256);
    return new TextDecoder().decode(Uint8Array.from(ids as ArrayLike<number>));
  }

  decoder(): StreamDecoder {
    const d = new TextDecoder();
    return {
      push: (id) => {
        checkIds('byteTokenizer.decode', [id], 256);
        return d.decode(Uint8Array.of(id), { stream: true });
      },
      flush: () => d.decode(),
    };
  }

  toJSON(): TokenizerJSON {
    return { kind: 'byte' };
  }
}

export const UNK = '<unk>';

export class WordTokenizer implements Tokenizer {
  readonly kind = 'word' as const;
  /** words[0] is `<unk>`. */
  readonly words: readonly string[];
  private readonly index = new Map<string, number>();

  constructor(words: readonly string[]) {
    this.words = words[0] === UNK ? [...words] : [UNK, ...words];
    this.words.forEach((w, i) => this.index.set(w, i));
  }

  /** Vocabulary of tokenized sentences: `<unk>` then the distinct words in sorted order. */
  static fromTokens(sentences: readonly (readonly string[])[]): WordTokenizer {
    const set = new Set<string>();
    for (const s of sentences) for (const w of s) set.add(w);
    set.delete(UNK);
    return new WordTokenizer([...set].sort());
  }

  get vocabSize(): number {
    return this.words.length;
  }

  encodeTokens(tokens: readonly string[]): Int32Array {
    return Int32Array.from(tokens, (w) => this.index.get(w) ?? 0);
  }

  encode(text: string): Int32Array {
    return this.encodeTokens(text.split(/\s+/).filter((w) => w !== ''));
  }

  decode(ids: ArrayLike<number>): string {
    checkIds('wordTokenizer.decode', ids, this.vocabSize);
    return Array.from(ids as ArrayLike<number>, (i) => this.words[i]).join(' ');
  }

  decoder(): StreamDecoder {
    let first = true;
    return {
      push: (id) => {
        const w = this.decode([id]);
        const s = first ? w : ` ${w}`;
        first = false;
        return s;
      },
      flush: () => '',
    };
  }

  toJSON(): TokenizerJSON {
    return { kind: 'word', words: [...this.words] };
  }
}

/**
 * Rebuild a tokenizer saved with `toJSON()` (e.g. from a checkpoint's metadata). Anything else — a missing
 * field, a wrong type — is a DataError, whatever the kind's constructor would have thrown.
 */
export function tokenizerFromJSON(json: TokenizerJSON): Tokenizer {
  try {
    return fromJSON(json);
  } catch (e) {
    if (e instanceof SeqlabError) throw e;
    throw new DataError({ op: 'tokenizerFromJSON', expected: `a ${JSON.stringify(json.kind)} tokenizer as its toJSON() writes it`, got: `${e instanceof Error ? e.message : String(e)}` });
  }
}

function fromJSON(json: TokenizerJSON): Tokenizer {
  switch (json?.kind) {
    case 'char':
      return new CharTokenizer(json.chars);
    case 'byte':
      return new ByteTokenizer();
    case 'word':
      return new WordTokenizer(json.words);
    case 'rwkv-world':
      return new RWKVWorldTokenizer(json.vocab);
    case 'hf':
      return new HFTokenizer(json.json, json.config);
    default:
      throw new DataError({ op: 'tokenizerFromJSON', expected: "a tokenizer of kind 'char', 'byte', 'word', 'rwkv-world' or 'hf'", got: JSON.stringify((json as { kind?: unknown })?.kind ?? null) });
  }
}
