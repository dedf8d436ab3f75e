/**
 * The tokenizer contract, on its own so that the built-in tokenizers (tokenizer.ts) and the pretrained
 * models' ones (pretrained.ts) both implement it without importing each other.
 */
export type TokenizerJSON =
  | { kind: 'char'; chars: string[] }
  | { kind: 'byte' }
  | { kind: 'word'; words: string[] }
  | { kind: 'rwkv-world'; vocab: string }
  | { kind: 'hf'; json: string; config?: string };

/** Turns a stream of ids into text as soon as it is complete (a UTF-8 byte sequence may span several ids). */
export interface StreamDecoder {
  push(id: number): string;
  flush(): string;
}

export interface Tokenizer {
  readonly kind: TokenizerJSON['kind'];
  readonly vocabSize: number;
  encode(text: string): Int32Array;
  decode(ids: ArrayLike<number>): string;
  decoder(): StreamDecoder;
  toJSON(): TokenizerJSON;
}
