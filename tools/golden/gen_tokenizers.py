"""Fixtures for seqlab's pretrained-model tokenizers (test/golden/tokenizers/), with expected ids from
reference implementations written here after the official code:

* rwkv_vocab_tiny.txt: a vocabulary in the RWKV World file format (rwkv_vocab_v20230424.txt: one line
  `<id> <repr of str or bytes> <byte length>`, written with Python's repr() as the official file was): all
  256 single bytes at ids 1..256 (as the official file has them), then multi-byte tokens, some of them
  bytes that are not whole UTF-8 characters. Expected ids: TRIE_TOKENIZER's greedy longest match over the
  UTF-8 bytes (RWKV-LM rwkv_tokenizer.py), re-implemented below.
* tokenizer.json: a tiny GPT-2-style byte-level BPE in Hugging Face's tokenizer.json layout (the layout of
  GPT-2's and GPT-NeoX's files), 256 byte symbols plus a few merges and <|endoftext|>. Expected ids: GPT-2's
  encoder.py `bpe()` (lowest-ranked pair first) over its pre-tokenisation regex, restricted to ASCII text.

Run: /usr/bin/python3 tools/golden/gen_tokenizers.py
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_torch  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "golden", "tokenizers")

# ---------------------------------------------------------------- RWKV World

MULTI = ["the", " the", "he", " world", "wor", "hello", "Hello", "\n\n", "  ", "é", "中文", "中", b"\xe4\xb8", "ing", " ing", "\\n", "'s", '"q"']


def rwkv_vocab():
    lines, table = [], {}
    tid = 1
    for b in range(256):
        x = bytes([b])
        # the official file writes printable ASCII as str and the rest as bytes
        lit = x.decode("ascii") if 32 <= b < 127 else x
        lines.append("%d %s %d" % (tid, repr(lit), len(x)))
        table[x] = tid
        tid += 1
    for t in MULTI:
        x = t.encode("utf-8") if isinstance(t, str) else t
        lines.append("%d %s %d" % (tid, repr(t), len(x)))
        table[x] = tid
        tid += 1
    return "\n".join(lines) + "\n", table


def rwkv_encode(table, text):
    """TRIE_TOKENIZER.encodeBytes: at each position take the longest token that matches."""
    src, out, i = text.encode("utf-8"), [], 0
    longest = max(len(k) for k in table)
    while i < len(src):
        for n in range(min(longest, len(src) - i), 0, -1):
            if src[i:i + n] in table:
                out.append(table[src[i:i + n]])
                i += n
                break
    return out


# ---------------------------------------------------------------- byte-level BPE

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


MERGES = ["Ġ t", "h e", "Ġt he", "l l", "e ll", "h ell", "hell o", "Ġ w", "o r", "Ġw or", "Ġwor l", "Ġworl d", "i n", "in g",
          "Ġ s", "Ġs ing", "H ell", "Hell o"]
# GPT-2's pattern with \p{L} / \p{N} narrowed to ASCII (the test texts are ASCII).
PAT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")


def bpe_vocab():
    b2u = bytes_to_unicode()
    vocab = {}
    for b in sorted(b2u, key=lambda b: ord(b2u[b])):
        vocab[b2u[b]] = len(vocab)
    for m in MERGES:
        a, b = m.split(" ")
        vocab[a + b] = len(vocab)
    return b2u, vocab


def bpe(token, ranks):
    word = list(token)
    while len(word) > 1:
        pairs = [(ranks.get((word[i], word[i + 1]), 1e9), i) for i in range(len(word) - 1)]
        r, _ = min(pairs)
        if r == 1e9:
            break
        a, b = MERGES[int(r)].split(" ")
        out, i = [], 0
        while i < len(word):
            if i < len(word) - 1 and word[i] == a and word[i + 1] == b:
                out.append(a + b)
                i += 2
            else:
                out.append(word[i])
                i += 1
        word = out
    return word


def bpe_encode(b2u, vocab, text):
    ranks = {tuple(m.split(" ")): i for i, m in enumerate(MERGES)}
    ids = []
    for piece in PAT.findall(text):
        mapped = "".join(b2u[b] for b in piece.encode("utf-8"))
        ids += [vocab[t] for t in bpe(mapped, ranks)]
    return ids


def tokenizer_json(vocab):
    eot = len(vocab)
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": eot, "content": "<|endoftext|>", "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "vocab": vocab, "merges": MERGES},
    }


TEXTS = ["hello world", "Hello the world\n\nthe singing", "  the  world's \"q\" 42!", "wording\\n", ""]
RWKV_TEXTS = TEXTS + ["中文中中 é\u00e9", "\u4e00", "tab\there"]


def main():
    os.makedirs(OUT, exist_ok=True)
    text, table = rwkv_vocab()
    with open(os.path.join(OUT, "rwkv_vocab_tiny.txt"), "w", encoding="utf-8") as f:
        f.write(text)
    b2u, vocab = bpe_vocab()
    with open(os.path.join(OUT, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(vocab), f, ensure_ascii=False, indent=1)
    expected = {
        "rwkv": [{"text": t, "ids": rwkv_encode(table, t)} for t in RWKV_TEXTS],
        "bpe": [{"text": t, "ids": bpe_encode(b2u, vocab, t)} for t in TEXTS],
        "generator": "tools/golden/gen_tokenizers.py",
    }
    with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False, indent=1)
    gen_torch.readme(OUT, "Tokenizer fixtures", "gen_tokenizers.py", "`expected.json` holds the reference implementations' ids.")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
