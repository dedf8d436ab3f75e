import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ByteTokenizer, CharTokenizer, WordTokenizer, tokenizerFromJSON } from './tokenizer.js';

const SHAKESPEARE = new URL('../../data/tinyshakespeare.txt', import.meta.url);

describe('tokenizers', () => {
  it('char: round-trips, sorts the vocabulary by code point, survives toJSON', () => {
    const text = 'hello, wörld 👋\nhello';
    const tok = CharTokenizer.fromText(text);
    expect(tok.chars).toEqual(['\n', ' ', ',', 'd', 'e', 'h', 'l', 'o', 'r', 'w', 'ö', '👋']);
    const ids = tok.encode(text);
    expect(ids.length).toBe([...text].length);
    expect(tok.decode(ids)).toBe(text);
    const back = tokenizerFromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
    expect(Array.from(back.encode(text))).toEqual(Array.from(ids));
  });

  it('char: Tiny Shakespeare has nanoGPT\'s 65 ids (\\n = 0, space = 1) and round-trips', () => {
    const text = readFileSync(SHAKESPEARE, 'utf8');
    const tok = CharTokenizer.fromText(text);
    expect(tok.vocabSize).toBe(65);
    expect(Array.from(tok.encode('\n !$&A'))).toEqual([0, 1, 2, 3, 4, 13]);
    expect(tok.decode(tok.encode(text)) === text).toBe(true);
  });

  it('char: an unknown character is one clear error', () => {
    expect(() => CharTokenizer.fromText('abc').encode('abé')).toThrowErrorMatchingInlineSnapshot(
      `[DataError: charTokenizer.encode: expected characters of the model's vocabulary (3 characters), got "é" (U+00E9) at character 2. Hint: remove the character, or train with --tokenizer byte, which encodes any text]`,
    );
  });

  it('byte: round-trips any text and streams multi-byte characters whole', () => {
    const tok = new ByteTokenizer();
    const text = 'naïve 日本 🎉';
    const ids = tok.encode(text);
    expect(ids.length).toBe(new TextEncoder().encode(text).length);
    expect(tok.decode(ids)).toBe(text);
    const d = tok.decoder();
    const pieces = Array.from(ids, (i) => d.push(i));
    expect(pieces.join('') + d.flush()).toBe(text);
    expect(pieces.filter((p) => p !== '').length).toBe([...text].length); // nothing half-printed
  });

  it('word: unknown words map to <unk>; round-trips known words', () => {
    const tok = WordTokenizer.fromTokens([['the', 'cat'], ['a', 'cat', 'sat']]);
    expect(tok.words).toEqual(['<unk>', 'a', 'cat', 'sat', 'the']);
    expect(tok.decode(tok.encode('the cat  sat'))).toBe('the cat sat');
    expect(Array.from(tok.encode('the dog'))).toEqual([4, 0]);
    expect(tokenizerFromJSON(tok.toJSON()).decode([1, 2])).toBe('a cat');
  });

  it('rejects unknown tokenizer kinds and out-of-range ids', () => {
    expect(() => tokenizerFromJSON({ kind: 'bpe' } as never)).toThrow(/expected a tokenizer of kind 'char', 'byte', 'word', 'rwkv-world' or 'hf', got "bpe"/);
    expect(() => new ByteTokenizer().decode([256])).toThrow(/expected ids in \[0, 256\), got 256 at position 0/);
  });
});

it.skipIf(!existsSync(SHAKESPEARE))('bundled corpus is byte-identical to its source', () => {
  expect(readFileSync(SHAKESPEARE).length).toBe(1_115_394);
});
