"""Fixtures for seqlab's PyTorch checkpoint reader (sl.io.readTorch): files written by torch.save in the
zip format (PyTorch >= 1.6), in the layouts real checkpoints come in, next to the logits PyTorch computes
from them.

* rwkv6_bf16.pth / rwkv7_bf16.pth: tiny RWKV-6 / RWKV-7 state dicts under the official names, every
  tensor bfloat16 as BlinkDL's released .pth files are (the models of gen_rwkv.py).
* mamba_tied.bin: a tiny Mamba-1 `pytorch_model.bin` as mamba_ssm's `save_pretrained` writes it: the
  state dict with `lm_head.weight` and `backbone.embedding.weight` one shared storage (tied weights).
* nanogpt_ckpt.pt: nanoGPT's train.py checkpoint dict (model under `_orig_mod.` keys as a torch.compile'd
  model saves them, the causal-mask buffers of PyTorch < 2.0, optimizer state after one AdamW step,
  model_args, iter_num, best_val_loss as a 0-d tensor, config) of a GPT with 4 heads of 32.
* lstm_state_dict.pth: a plain `nn.LSTM(8, 12, num_layers=2, bidirectional=True).state_dict()`.
* views.pt: tensors that are views (storage offsets, transposes, strides, stride 0), two names sharing
  one storage, and every storage dtype the reader widens (float16/64, int8/16/32/64, uint8, bool).
* evil.pt: a pickle naming `posix.system`; the reader must refuse it without running anything.

Each <name>.expected.safetensors holds the inputs and PyTorch's outputs (and, for views.pt, every tensor
as a contiguous float32 copy). Run: /usr/bin/python3 tools/golden/gen_torch.py
"""

import collections
import hashlib
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import encode_safetensors, seed_of  # noqa: E402
import gen_gpt  # noqa: E402
import gen_mamba  # noqa: E402
import gen_rwkv  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "test", "golden", "torch")
torch.set_num_threads(1)


def write(name, data):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name)
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)
    return path


def save_torch(name, obj):
    path = os.path.join(OUT, name)
    os.makedirs(OUT, exist_ok=True)
    torch.save(obj, path + ".tmp")
    os.replace(path + ".tmp", path)
    return path


def save_expected(name, tensors, meta):
    buf, _ = encode_safetensors({k: v.detach().float().contiguous() for k, v in tensors.items()},
                                dict(meta, torch_version=torch.__version__, generator="tools/golden/gen_torch.py"))
    return write(name + ".expected.safetensors", buf)


def rwkv(version):
    name = "rwkv%d_bf16" % version
    torch.manual_seed(seed_of(name))
    cfg = gen_rwkv.config_of(version, False)
    model = gen_rwkv.RWKV(cfg)
    gen_rwkv.randomize(model)
    with torch.no_grad():
        for p in model.parameters():  # the model computes with the bf16-rounded weights it is saved with
            p.copy_(p.bfloat16().float())
    sd = collections.OrderedDict((k, v.detach().bfloat16()) for k, v in model.state_dict().items())
    save_torch(name + ".pth", sd)
    tokens = torch.randint(0, cfg["vocabSize"], (2, 7))
    with torch.no_grad():
        logits, _ = model(tokens, gen_rwkv.zero_states(version))
    save_expected(name, {"tokens": tokens.float(), "logits": logits}, {"version": str(version)})


def cli_models():
    """Models whose vocabularies fit the tokenizers of test/golden/tokenizers (275 ids), for the CLI tests."""
    torch.manual_seed(seed_of("rwkv7_cli"))
    gen_rwkv.V = 280
    model = gen_rwkv.RWKV(gen_rwkv.config_of(7, False))
    gen_rwkv.randomize(model)
    gen_rwkv.V = 13
    save_torch("rwkv7_cli.pth", collections.OrderedDict((k, v.detach().bfloat16()) for k, v in model.state_dict().items()))
    torch.manual_seed(seed_of("mamba_cli"))
    cfg = dict(gen_mamba.COMMON, **gen_mamba.FIXTURES["mamba_tiny"])
    cfg["vocabSize"] = 275
    model = gen_mamba.MambaLM(cfg)
    sd = model.state_dict()
    sd["lm_head.weight"] = model.backbone.embedding.weight
    save_torch("mamba_cli.bin", collections.OrderedDict((k, v.detach()) for k, v in sd.items()))


def mamba():
    name = "mamba_tied"
    torch.manual_seed(seed_of(name))
    cfg = dict(gen_mamba.COMMON, **gen_mamba.FIXTURES["mamba_tiny"])
    model = gen_mamba.MambaLM(cfg)
    with torch.no_grad():
        for pname, prm in model.named_parameters():
            prm.add_(0.2 * torch.randn_like(prm))
    sd = model.state_dict()
    sd["lm_head.weight"] = model.backbone.embedding.weight  # tied: one storage under two names
    sd = collections.OrderedDict((k, v.detach()) for k, v in sd.items())
    assert sd["lm_head.weight"].data_ptr() == sd["backbone.embedding.weight"].data_ptr()
    save_torch(name + ".bin", sd)
    tokens = torch.randint(0, cfg["vocabSize"], (2, 6))
    with torch.no_grad():
        logits, _, _ = model(tokens)
    save_expected(name, {"tokens": tokens.float(), "logits": logits}, {})


def nanogpt():
    name = "nanogpt_ckpt"
    torch.manual_seed(seed_of(name))
    model_args = dict(n_layer=1, n_head=4, n_embd=128, block_size=16, bias=True, vocab_size=65, dropout=0.0)
    cfg = {"vocabSize": 65, "blockSize": 16, "nLayer": 1, "nHead": 4, "nEmbd": 128, "bias": True, "dropout": 0.0}
    model = gen_gpt.GPT(cfg)
    gen_gpt.randomize(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    x = torch.randint(0, 65, (2, 16))
    loss = model(x).logsumexp(-1).mean()
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    tokens = torch.randint(0, 65, (2, 9))
    with torch.no_grad():
        logits = model(tokens)
    sd = collections.OrderedDict(("_orig_mod." + k, v) for k, v in model.state_dict().items())
    ckpt = {
        "model": sd,
        "optimizer": opt.state_dict(),
        "model_args": model_args,
        "iter_num": 250,
        "best_val_loss": torch.tensor(1.8765),
        "config": {"out_dir": "out-shakespeare-char", "eval_interval": 250, "dataset": "shakespeare_char",
                   "batch_size": 64, "learning_rate": 1e-3, "compile": True, "dtype": "float32", "decay_lr": True},
    }
    save_torch(name + ".pt", ckpt)
    save_expected(name, {"tokens": tokens.float(), "logits": logits}, {})


def lstm():
    name = "lstm_state_dict"
    torch.manual_seed(seed_of(name))
    m = nn.LSTM(8, 12, num_layers=2, bidirectional=True)
    save_torch(name + ".pth", m.state_dict())
    x = torch.randn(5, 3, 8)
    with torch.no_grad():
        y, (h, c) = m(x)
    save_expected(name, {"input": x, "output": y, "h": h, "c": c}, {})


def views():
    name = "views"
    torch.manual_seed(seed_of(name))
    base = torch.randn(6, 10)
    t = {
        "base": base,
        "row_slice": base[2:5],                 # storage offset 20
        "col_slice": base[:, 3:7],              # offset 3, strides (10, 1)
        "transposed": base.t(),                 # strides (1, 10)
        "every_other": base[1::2, ::3],         # strides (20, 3)
        "expanded": torch.arange(4.0).view(4, 1).expand(4, 3),  # stride 0
        "scalar": torch.tensor(3.25),
        "empty": torch.zeros(0, 5),
        "tied_a": base[0],
        "f16": torch.randn(3, 4).half(),
        "f64": torch.randn(5, dtype=torch.float64),
        "bf16": torch.randn(2, 3).bfloat16(),
        "i64": torch.tensor([-3, 0, 2 ** 40, 7], dtype=torch.int64),
        "i32": torch.tensor([[-1, 5], [100000, 3]], dtype=torch.int32),
        "i16": torch.tensor([-300, 300], dtype=torch.int16),
        "i8": torch.tensor([-128, 127, 0], dtype=torch.int8),
        "u8": torch.tensor([0, 255, 17], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
    }
    save_torch(name + ".pt", t)
    save_expected(name, {k: v.float() for k, v in t.items()}, {})


class Evil:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


def evil():
    save_torch("evil.pt", {"weight": torch.zeros(2), "payload": Evil()})


def readme(out=OUT, title="PyTorch checkpoint fixtures", generator="gen_torch.py",
           blurb="`*.expected.safetensors` hold inputs and PyTorch's outputs."):
    """README.md of a fixture folder: provenance and the sha256 of every file."""
    rows = []
    for f in sorted(os.listdir(out)):
        if f.endswith(".md"):
            continue
        with open(os.path.join(out, f), "rb") as fh:
            data = fh.read()
        rows.append("| `%s` | %d | `%s` |" % (f, len(data), hashlib.sha256(data).hexdigest()))
    text = ("# %s\n\nWritten by `tools/golden/%s` with torch %s (see its docstring for what each file is). %s\n\n"
            "| file | bytes | sha256 |\n|---|---|---|\n%s\n") % (title, generator, torch.__version__, blurb, "\n".join(rows))
    with open(os.path.join(out, "README.md"), "wb") as fh:
        fh.write(text.encode())


def main():
    rwkv(6)
    rwkv(7)
    mamba()
    cli_models()
    nanogpt()
    lstm()
    views()
    evil()
    readme()
    print("wrote", OUT)


if __name__ == "__main__":
    main()
