/**
 * Pretrained-model tokenizers against reference ids (tools/golden/gen_tokenizers.py): the RWKV World
 * vocabulary format with the official greedy longest match, and a Hugging Face tokenizer.json BPE.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';

const dir = fileURLToPath(new URL('../golden/tokenizers/', import.meta.url));
const read = (f: string): string => readFileSync(dir + f, 'utf8');
const expected = JSON.parse(read('expected.json')) as { rwkv: { text: string; ids: number[] }[]; bpe: { text: string; ids: number[] }[] };

describe('RWKV World tokenizer', () => {
  const tok = new sl.data.RWKVWorldTokenizer(read('rwkv_vocab_tiny.txt'));
  it('encodes as the official TRIE_TOKENIZER (greedy longest match over UTF-8 bytes) and decodes back', () => {
    for (const { text, ids } of expected.rwkv) {
      expect(Array.from(tok.encode(text)), JSON.stringify(text)).toEqual(ids);
      expect(tok.decode(ids)).toBe(text);
    }
    expect(tok.vocabSize).toBe(275); // id 0 (end of text) and 1..274
  });
  it('streams a character split over several tokens whole, and survives toJSON', () => {
    const ids = tok.encode('中文 é');
    const d = sl.data.tokenizerFromJSON(tok.toJSON()).decoder();
    expect(Array.from(ids, (id) => d.push(id)).join('') + d.flush()).toBe('中文 é');
  });
  it('names a malformed line', () => {
    expect(() => new sl.data.RWKVWorldTokenizer("1 'a' 2\n")).toThrow(/expected 2 bytes for id 1 .*got 1 on line 1/);
    expect(() => new sl.data.RWKVWorldTokenizer('hello\n')).toThrow(/<id> <Python literal> <byte length>/);
  });
});

describe('Hugging Face tokenizer.json (byte-level BPE)', () => {
  const tok = new sl.data.HFTokenizer(read('tokenizer.json'));
  it("gives GPT-2's bpe() ids and decodes back", () => {
    for (const { text, ids } of expected.bpe) {
      expect(Array.from(tok.encode(text)), JSON.stringify(text)).toEqual(ids);
      expect(tok.decode(ids)).toBe(text);
    }
  });
  it('round-trips non-ASCII text through bytes and streams it whole', () => {
    const text = 'naïve 中文 ok';
    const ids = tok.encode(text);
    expect(tok.decode(ids)).toBe(text);
    const d = sl.data.tokenizerFromJSON(tok.toJSON()).decoder();
    expect(Array.from(ids, (id) => d.push(id)).join('') + d.flush()).toBe(text);
  });
  it('refuses what is not a tokenizer.json', () => {
    expect(() => new sl.data.HFTokenizer('{"a": 1}')).toThrow(/tokenizer\.json/);
  });
});
