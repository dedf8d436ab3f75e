"""Golden fixtures for seqlab's GPT (the KV-cache transformer baseline), from a tiny model with nanoGPT's
module structure and parameter names, written out here (nanoGPT itself is not needed):

  GPT.transformer = ModuleDict(wte, wpe, drop, h = ModuleList(Block), ln_f);  lm_head tied to wte
  Block:  x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))
  attn:   q, k, v = c_attn(x).split(C);  softmax(q kᵀ/√D, causal) v per head;  c_proj        (nn.Linear, [out, in])
  mlp:    c_proj(GELU(c_fc(x)))  with the exact GELU nn.GELU()
  LayerNorm with optional bias, eps 1e-5; the causal mask is the buffer `attn.bias`, as nanoGPT on PyTorch < 2.0.

Weights are random and larger than nanoGPT's N(0, 0.02) init (which makes attention nearly uniform), so
every part of the block visibly matters. Outputs: `out.logits` [N, T, V] at every position and `out.loss`
(mean cross-entropy against `in.targets`); gradients of L = Σ logits ⊙ up.logits + loss · up.loss w.r.t.
every parameter (`grad.param.transformer.wte.weight` includes the tied head's share).

Run through tools/golden/gen_all.sh (needs /usr/bin/python3 with torch 1.13).
"""

import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import autograd_fixture, seed_of  # noqa: E402

torch.set_default_dtype(torch.float32)
torch.set_num_threads(1)


class LayerNorm(nn.Module):
    """nanoGPT's LayerNorm: PyTorch's, but the bias may be absent."""

    def __init__(self, ndim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, bs = cfg["nEmbd"], cfg["blockSize"]
        self.n_head = cfg["nHead"]
        self.c_attn = nn.Linear(C, 3 * C, bias=cfg["bias"])
        self.c_proj = nn.Linear(C, C, bias=cfg["bias"])
        self.attn_dropout = nn.Dropout(cfg["dropout"])
        self.resid_dropout = nn.Dropout(cfg["dropout"])
        self.register_buffer("bias", torch.tril(torch.ones(bs, bs)).view(1, 1, bs, bs))

    def forward(self, x):
        B, T, C = x.shape
        H = self.n_head
        q, k, v = self.c_attn(x).split(C, dim=2)
        heads = lambda t: t.view(B, T, H, C // H).transpose(1, 2)  # (B, H, T, D)
        q, k, v = heads(q), heads(k), heads(v)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // H)
        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
        att = self.attn_dropout(F.softmax(att, dim=-1))
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C = cfg["nEmbd"]
        self.c_fc = nn.Linear(C, 4 * C, bias=cfg["bias"])
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * C, C, bias=cfg["bias"])
        self.dropout = nn.Dropout(cfg["dropout"])

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ln_1 = LayerNorm(cfg["nEmbd"], cfg["bias"])
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = LayerNorm(cfg["nEmbd"], cfg["bias"])
        self.mlp = MLP(cfg)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C = cfg["nEmbd"]
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(cfg["vocabSize"], C),
            wpe=nn.Embedding(cfg["blockSize"], C),
            drop=nn.Dropout(cfg["dropout"]),
            h=nn.ModuleList([Block(cfg) for _ in range(cfg["nLayer"])]),
            ln_f=LayerNorm(C, cfg["bias"]),
        ))
        self.lm_head = nn.Linear(C, cfg["vocabSize"], bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying
        self.block_size = cfg["blockSize"]

    def forward(self, idx):
        b, t = idx.shape
        assert t <= self.block_size
        pos = torch.arange(0, t, dtype=torch.long)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))  # logits at every position


def randomize(model):
    """Random weights of a useful scale: LayerNorm weights 1 + 0.2·N, biases 0.2·N, matrices N/√fan_in,
    embeddings 0.8·N."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1:
                p.copy_((1.0 if name.endswith(".weight") else 0.0) + 0.2 * torch.randn_like(p))
            elif name.endswith("wte.weight") or name.endswith("wpe.weight"):
                p.copy_(0.8 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / math.sqrt(p.shape[1]))


def gen():
    cases = [
        # name, vocab, blockSize, nLayer, nHead, nEmbd, bias, batch, seqLen
        ("gpt_tiny", 13, 16, 2, 2, 8, True, 2, 7),
        ("gpt_tiny_nobias_full_block", 11, 8, 1, 4, 12, False, 3, 8),
        ("gpt_tiny_3layer_1head", 7, 10, 3, 1, 6, True, 1, 9),
    ]
    for name, V, bs, L, H, C, bias, N, T in cases:
        seed = seed_of(name)
        torch.manual_seed(seed)
        cfg = {"kind": "gpt", "vocabSize": V, "blockSize": bs, "nLayer": L, "nHead": H, "nEmbd": C,
               "bias": bias, "dropout": 0.0, "seed": seed}
        model = GPT(cfg)
        randomize(model)
        tokens = torch.randint(0, V, (N, T))
        targets = torch.randint(0, V, (N, T))

        def forward(ins, params, model=model, V=V):
            logits = model(ins["tokens"])
            loss = F.cross_entropy(logits.reshape(-1, V), ins["targets"].reshape(-1))
            return {"logits": logits, "loss": loss}

        autograd_fixture(name, cfg, forward, {"tokens": tokens, "targets": targets},
                         dict(model.named_parameters()), ["logits", "loss"],
                         description="nanoGPT-structured GPT, random weights; logits at every position and "
                                     "mean cross-entropy; lm_head tied to transformer.wte (stored once)")


if __name__ == "__main__":
    gen()
