"""Shared helpers for the seqlab golden-fixture generators.

* A tiny hand-written safetensors writer/reader (the `safetensors` package is not
  needed): 8-byte little-endian header length, UTF-8 JSON header with
  `__metadata__`, keys sorted, data laid out in sorted-key order, header padded
  with spaces to a multiple of 8 bytes, every tensor F32 little-endian.
* `autograd_fixture`: runs a forward function, draws fixed upstream gradients
  `up.<name>` for chosen outputs, back-propagates L = sum_name sum(out*up) and
  stores the gradients as `grad.param.<name>` / `grad.in.<name>`.
* `verify_and_readme`: re-reads every fixture in test/golden, checks the byte
  layout and the values, and writes test/golden/README.md with sha256 sums.

Run `python3 tools/golden/common.py` to (re)verify and rewrite the README.
"""

import datetime
import hashlib
import json
import os
import struct
import sys
import zlib

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GOLDEN_DIR = os.path.join(ROOT, "test", "golden")

# Everything the generators wrote in this process: name -> {tensor name: np.float32 array}
_WRITTEN = {}


# --------------------------------------------------------------------------- #
# safetensors writer / reader
# --------------------------------------------------------------------------- #

def _to_f32(value):
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().to(torch.float32).numpy()
    arr = np.asarray(value)
    if arr.dtype.kind in "iub":
        # integers (token ids, targets, lengths) are stored as exact float values
        if arr.size and np.abs(arr).max() > 2 ** 24:
            raise ValueError("integer too large to be exact in float32")
    arr = arr.astype("<f4", order="C")  # (np.ascontiguousarray would turn 0-d into 1-d)
    return arr


def encode_safetensors(tensors, metadata):
    """Return the bytes of a safetensors file. `metadata` values must be str."""
    names = sorted(tensors)
    arrays = {k: _to_f32(tensors[k]) for k in names}
    header = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(v, str):
                raise TypeError("metadata values must be strings: %s" % k)
        header["__metadata__"] = dict(sorted(metadata.items()))
    offset = 0
    for k in names:
        a = arrays[k]
        n = a.nbytes
        header[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + n]}
        offset += n
    hjson = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    pad = (-len(hjson)) % 8
    hjson += b" " * pad
    parts = [struct.pack("<Q", len(hjson)), hjson]
    parts += [arrays[k].tobytes() for k in names]
    return b"".join(parts), arrays


def decode_safetensors(buf):
    """Strict reader: returns (tensors {name: np.float32 array}, metadata dict)."""
    if len(buf) < 8:
        raise ValueError("file shorter than 8 bytes")
    (hlen,) = struct.unpack("<Q", buf[:8])
    if 8 + hlen > len(buf):
        raise ValueError("header length beyond end of file")
    header = json.loads(buf[8:8 + hlen].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    data = buf[8 + hlen:]
    tensors = {}
    spans = []
    for k, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError("unexpected dtype %s for %s" % (info["dtype"], k))
        b, e = info["data_offsets"]
        shape = tuple(info["shape"])
        count = int(np.prod(shape)) if shape else 1
        if not (0 <= b <= e <= len(data)) or e - b != 4 * count:
            raise ValueError("bad offsets for %s" % k)
        spans.append((b, e, k))
        tensors[k] = np.frombuffer(data[b:e], dtype="<f4").reshape(shape).copy()
    spans.sort()
    pos = 0
    for b, e, k in spans:
        if b != pos:
            raise ValueError("gap or overlap before %s" % k)
        pos = e
    if pos != len(data):
        raise ValueError("trailing bytes after the last tensor")
    return tensors, meta


def read_safetensors(path):
    with open(path, "rb") as f:
        return decode_safetensors(f.read())


# --------------------------------------------------------------------------- #
# fixture helpers
# --------------------------------------------------------------------------- #

def seed_of(name):
    """A fixture's seed from its name (CRC-32), so adding a fixture never changes another's values."""
    return zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF


def save_fixture(name, config, tensors, description=""):
    """Write test/golden/<name>.safetensors. `config` must contain `kind`."""
    assert "kind" in config, name
    assert name not in _WRITTEN, "duplicate fixture " + name
    for k in tensors:
        assert k.split(".")[0] in ("in", "param", "out", "up", "grad"), k
    meta = {
        "config": json.dumps(config, sort_keys=True, separators=(",", ":")),
        "torch_version": torch.__version__,
        "fixture": name,
        "generator": "tools/golden/" + os.path.basename(sys.argv[0]),
    }
    if description:
        meta["description"] = description
    buf, arrays = encode_safetensors(tensors, meta)
    os.makedirs(GOLDEN_DIR, exist_ok=True)
    path = os.path.join(GOLDEN_DIR, name + ".safetensors")
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(buf)
    os.replace(tmp, path)
    _WRITTEN[name] = arrays
    # immediate round-trip check
    back, meta2 = read_safetensors(path)
    assert meta2 == meta, name
    assert sorted(back) == sorted(arrays), name
    for k, a in arrays.items():
        assert back[k].shape == a.shape and back[k].tobytes() == a.tobytes(), (name, k)
    return path


def autograd_fixture(name, config, forward, inputs, params, up_outputs, extra=None,
                     description="", no_grad_inputs=()):
    """Generic forward/backward fixture.

    forward(inputs: dict, params: dict) -> dict of output tensors
    inputs: {name: tensor}; float inputs not in `no_grad_inputs` get requires_grad
    params: {state_dict name: Parameter}
    up_outputs: names of outputs that receive a random upstream gradient (randn,
        drawn after the forward pass from the fixture's seeded generator), or a
        dict name -> fixed upstream tensor.
    """
    ins = {}
    for k, v in inputs.items():
        v = v.detach().clone()
        if v.is_floating_point() and k not in no_grad_inputs:
            v.requires_grad_(True)
        ins[k] = v
    for p in params.values():
        p.grad = None
    outs = forward(ins, params)
    if isinstance(up_outputs, dict):
        ups = {k: v.detach().clone().to(torch.float32) for k, v in up_outputs.items()}
    else:
        ups = {k: torch.randn(outs[k].shape) for k in up_outputs}
    total = sum((outs[k] * ups[k]).sum() for k in ups)
    total.backward()
    t = {}
    for k, v in ins.items():
        t["in." + k] = v
        if v.requires_grad:
            g = v.grad if v.grad is not None else torch.zeros_like(v)
            t["grad.in." + k] = g
    for k, p in params.items():
        t["param." + k] = p
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        t["grad.param." + k] = g
    for k, v in outs.items():
        t["out." + k] = v
    for k, v in ups.items():
        t["up." + k] = v
    if extra:
        t.update(extra)
    return save_fixture(name, config, t, description)


# --------------------------------------------------------------------------- #
# verification + README
# --------------------------------------------------------------------------- #

README_HEAD = """# Golden fixtures (PyTorch reference values)

Generated by `tools/golden/gen_all.sh`: runs `tools/golden/gen_foundation.py`, `tools/golden/gen_recurrent.py`
and `tools/golden/gen_gpt.py`, then `tools/golden/common.py` (re-reads every file with a strict reader, checks the byte layout and that re-encoding
gives identical bytes, and rewrites this README), then `tools/golden/selfcheck.py` (recomputes every fixture
independently in float64 from hand-written equations — no `torch.nn` modules/optimizers — and compares outputs and
gradients). Generation is deterministic: re-running gives byte-identical `.safetensors` files. Do not edit the
`.safetensors` files or this README by hand; change the generators and re-run.

Values are float32 PyTorch results; the float64 recomputation agrees to ≤ 2e-6 absolute for the layers (RMSNorm
gradients on the deliberately tiny row: ≤ 1e-4 absolute, 5e-6 relative) and ≤ 4e-4 relative over the 10-step
char-LM trajectory, which is a sensible guide for test tolerances.

- torch: `{torch}` (Debian package, CPU, float32 everywhere)
- numpy: `{numpy}`
- python: `{python}`
- generated: {date}

## File format

Every fixture is one safetensors file written by the hand-written writer in `tools/golden/common.py`:
8-byte little-endian header length, a UTF-8 JSON header (keys sorted, `__metadata__` included, padded with
spaces to a multiple of 8 bytes), then the tensor data in sorted-key order. **All tensors are F32** little-endian;
integer quantities (token ids, class targets, lengths, indices) are stored as exact float values and must be
converted back to integers by the test. Scalars that PyTorch returns as 0-d tensors (a loss, a total norm) are
stored with shape `[]` (one element).

Metadata keys: `config` (a JSON string, see below), `torch_version`, `fixture` (the file's base name),
`generator` (the script that wrote it), optional `description`.

## Naming convention inside each file

| prefix | meaning |
|---|---|
| `in.<name>` | inputs: `in.x`, `in.h0`, `in.c0`, `in.targets`, `in.lengths`, `in.tokens`, `in.indices`, `in.logits`, ... |
| `param.<name>` | parameters under PyTorch's exact `state_dict` names (`param.weight_ih_l0`, `param.weight`, `param.lstm.weight_hh_l1`, ...) |
| `out.<name>` | outputs: `out.y`, `out.h_n`, `out.c_n`, `out.loss`, `out.lr`, ... |
| `up.<name>` | the fixed upstream gradient of output `out.<name>` |
| `grad.param.<name>`, `grad.in.<name>` | gradients of the scalar objective **L = Σ_name sum(out.<name> ⊙ up.<name>)**, summed over the outputs that have an `up.` tensor (outputs without one do not contribute) |

A `grad.in.<name>` exists exactly for the inputs that were differentiated (float inputs such as `x`, `h0`, `c0`,
`logits`; never for integer inputs such as `targets`, `lengths`, `indices`).

`config` always has `kind` plus every option needed to rebuild the module, in the camelCase names of the TS API
(`inputSize`, `hiddenSize`, `numLayers`, `nonlinearity`, `bias`, `batchFirst`, `bidirectional`, `projSize`,
`resetAfter`, `eps`, `lr`, `momentum`, `dampening`, `nesterov`, `weightDecay`, `betas`, `amsgrad`, ...).

### Conventions per family

- **Recurrent layers** (`kind` = `rnn` | `lstm` | `gru`): `in.x` is `[T, N, I]`, or `[N, T, I]` when
  `batchFirst`; `out.y` is `[T, N, D·H_out]` (batch-first when `batchFirst`); `in.h0`, `in.c0`, `out.h_n`, `out.c_n`
  are always `[numLayers·D, N, H]` (layer-major, forward direction first; LSTM `h` uses `projSize` when set).
  Every state input is random (not zero) and every output has an upstream gradient.
  Variable-length fixtures (`lengths` in config, `in.lengths`) were run through
  `pack_padded_sequence(x, lengths, enforce_sorted=config.enforceSorted)` and
  `pad_packed_sequence(total_length=T)`: `out.y` is zero past each sequence's length, `out.h_n`/`out.c_n` hold each
  sequence's state at its true last step (backward direction: the state after reading the sequence's first step), all in the
  original (unsorted) batch order. `resetAfter: false` GRU fixtures are **not** PyTorch modules: they implement the
  ONNX `linear_before_reset=0` / Keras `reset_after=False` equations by hand in torch (autograd gives the
  gradients), with PyTorch's parameter names, shapes and r,z,n row order.
- **Cells** (`kind` = `rnn_cell` | `lstm_cell` | `gru_cell`): `loop: false` → one step, `in.x` `[N, I]`,
  `in.h0`/`in.c0` `[N, H]`, outputs `out.h`/`out.c`. `loop: true` → the cell applied `steps` times, `in.x`
  `[steps, N, I]`, `out.y` = the stacked `h`s `[steps, N, H]` (and `out.c_n`, the final cell state, for LSTM).
- **Cross-entropy**: `classDim: "last"` — seqlab puts the class dimension last; the 3-D fixture was computed in
  PyTorch as `F.cross_entropy(logits.reshape(-1, C), targets.reshape(-1))`. Reduction is mean over the
  non-ignored targets.
- **Optimizers** (`kind` = `sgd` | `adam` | `adamw`): parameters `param.p` `[4,3]` and `param.q` `[5]` (in that
  order, one param group); per-step gradients `in.grad_p.{{k}}`, `in.grad_q.{{k}}`; parameter values after step k
  `out.p.{{k}}`, `out.q.{{k}}` (k = 0..steps-1); final optimizer state `out.state.<p|q>.<exp_avg | exp_avg_sq |
  max_exp_avg_sq | momentum_buffer>`. The gradients are fixed data, independent of the parameter values.
- **Gradient clipping**: `in.grad.<i>` are the raw gradients of three tensors (`i` = 0,1,2), `out.grad.<i>` the
  gradients after clipping, `out.total_norm` the norm returned by `clip_grad_norm_` (before clipping).
- **LR schedules**: `out.lr[k]` is the learning rate used at step k (k = 0..steps-1).
- **char_lm_trajectory**: see the config's `description`; tokens/targets are batch-first `[N, T]`; parameters
  `param.emb.weight`, `param.lstm.*_l{{0,1}}`, `param.head.{{weight,bias}}` (initial) and `out.final.<same>` (after
  the last step); no `grad.*`. With `clipGradNorm` 1.0 this tiny model's gradient norms stay below 1 (0.23-0.37),
  so clipping never changes anything there; **char_lm_trajectory_clipped** repeats the recipe with `clipGradNorm`
  0.2, where clipping is active on most steps.
- **GPT** (`kind` = `gpt`, `tools/golden/gen_gpt.py`): a tiny model with nanoGPT's module structure and
  parameter names written out in the script (pre-LayerNorm blocks, causal attention with the `attn.bias` mask
  buffer as on PyTorch < 2.0, exact `nn.GELU()`, LayerNorm eps 1e-5, dropout 0) and random weights larger than
  nanoGPT's init. `in.tokens`/`in.targets` are batch-first `[N, T]`; `out.logits` `[N, T, V]` at every position,
  `out.loss` the mean cross-entropy. `lm_head.weight` is tied to `transformer.wte.weight` and stored once, as
  `param.transformer.wte.weight`, whose gradient includes the head's share. The mask buffers are not stored.
- **RWKV** (`kind` = `rwkv`, `version` 6 | 7, `tools/golden/gen_rwkv.py`): tiny x060 / x070 language models
  with the official module structure and `.pth` key names (`param.emb.weight`, `param.blocks.{{i}}.att.*`,
  `param.blocks.0.ln0.*`, ..., untied `param.head.weight`; x070 has no `v0`/`v1`/`v2` in block 0) and random
  weights, head size 8. `in.tokens` is batch-first `[N, T]`; `out.logits` `[N, T, V]` at every position; the final
  state per layer `out.state.{{i}}.att_x_prev` `[N, C]`, `out.state.{{i}}.wkv` `[N, H, hs, hs]` (x060 key-major
  S[key, value], x070 value-major S[value, key]) and `out.state.{{i}}.ffn_x_prev` `[N, C]`, each with an
  upstream gradient. `initialState: true` fixtures start from the random `in.state.{{i}}.*` (same names and
  shapes) and carry `grad.in.state.*`; the others start from zeros, as the official GPT-mode code does.
- **Mamba** (`kind` = `mamba` | `mamba2`, `tools/golden/gen_mamba.py`): tiny Mamba-1 / Mamba-2 language models
  written from mamba_ssm's reference paths (`selective_scan_ref`; Mamba2's unfused path with `ssd_minimal_discrete`;
  MixerModel with the head tied to the embedding), mamba_ssm's init plus noise on every parameter. Parameters under
  the official keys (`param.backbone.embedding.weight`, `param.backbone.layers.{{i}}.mixer.*`,
  `param.backbone.layers.{{i}}.norm.weight`, `param.backbone.norm_f.weight`; `lm_head.weight` is tied and not
  stored). `in.tokens` is batch-first `[N, T]`; `out.logits` `[N, T, V]` at every position (V padded to
  `padVocabSizeMultiple`) with `up.logits`; the final caches after the prefill, as mamba_ssm keeps them,
  `out.conv_state.{{i}}` `[N, channels, dConv]` (the last dConv conv inputs, zero-padded on the left) and
  `out.ssm_state.{{i}}` (`[N, di, dState]`, Mamba-2 `[N, nh, headdim, dState]`), without upstream gradients.

## Files
"""


def verify_and_readme():
    files = sorted(f for f in os.listdir(GOLDEN_DIR) if f.endswith(".safetensors"))
    rows = []
    total = 0
    for f in files:
        path = os.path.join(GOLDEN_DIR, f)
        with open(path, "rb") as fh:
            buf = fh.read()
        tensors, meta = decode_safetensors(buf)
        # byte-level checks of the layout
        (hlen,) = struct.unpack("<Q", buf[:8])
        assert hlen % 8 == 0, f
        hraw = buf[8:8 + hlen]
        hjson = json.loads(hraw)
        assert list(hjson.keys()) == sorted(hjson.keys()), f
        # data is laid out in sorted-key order
        offs = [hjson[k]["data_offsets"][0] for k in sorted(tensors)]
        assert offs == sorted(offs), f
        # re-encoding gives the identical bytes
        buf2, _ = encode_safetensors(tensors, meta)
        assert buf2 == buf, "re-encode mismatch " + f
        cfg = json.loads(meta["config"])
        assert "kind" in cfg and "torch_version" in meta, f
        for k, v in tensors.items():
            assert np.all(np.isfinite(v)), (f, k)
        # every up.<x> has a matching out.<x> of the same shape; every grad.* matches its source
        for k in tensors:
            if k.startswith("up."):
                o = "out." + k[3:]
                assert o in tensors and tensors[o].shape == tensors[k].shape, (f, k)
            if k.startswith("grad.param.") or k.startswith("grad.in."):
                src = k[5:]
                assert src in tensors and tensors[src].shape == tensors[k].shape, (f, k)
        name = f[:-len(".safetensors")]
        if name in _WRITTEN:
            w = _WRITTEN[name]
            assert sorted(w) == sorted(tensors), f
            for k in w:
                assert w[k].tobytes() == tensors[k].tobytes(), (f, k)
        sha = hashlib.sha256(buf).hexdigest()
        total += len(buf)
        rows.append((f, len(buf), sha, cfg["kind"], len(tensors)))
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = README_HEAD.format(torch=torch.__version__, numpy=np.__version__,
                              python=sys.version.split()[0], date=date)
    text += "\n%d files, %d bytes in total.\n\n" % (len(rows), total)
    text += "| file | kind | tensors | bytes | sha256 |\n|---|---|---|---|---|\n"
    for f, n, sha, kind, nt in rows:
        text += "| `%s` | %s | %d | %d | `%s` |\n" % (f, kind, nt, n, sha)
    text += "\n## Index: config and tensors per file\n\n"
    text += ("Shapes in brackets. Every `param.X` has a `grad.param.X` and every input listed under *grad* has a "
             "`grad.in.X` of the same shape (only in autograd fixtures). Long config fields (`description`, "
             "`text`, `paramOrder`, `formula`) are omitted here.\n\n")
    for f in files:
        tensors, meta = read_safetensors(os.path.join(GOLDEN_DIR, f))
        cfg = json.loads(meta["config"])
        short = {k: v for k, v in cfg.items() if k not in ("description", "text", "paramOrder", "formula")}
        def fmt(k):
            return "%s%s" % (k, list(tensors[k].shape))
        groups = {}
        for k in sorted(tensors):
            pre = k.split(".")[0]
            if pre == "grad":
                continue
            groups.setdefault(pre, []).append(k)
        gin = [k[len("grad.in."):] for k in sorted(tensors) if k.startswith("grad.in.")]
        text += "- **%s** `%s`\n" % (f[:-len(".safetensors")], json.dumps(short, sort_keys=True))
        for pre in ("in", "param", "out", "up"):
            if pre in groups:
                text += "  - %s: %s\n" % (pre, ", ".join("`%s`" % fmt(k) for k in groups[pre]))
        if gin:
            text += "  - grad: %s\n" % ", ".join("`in.%s`" % g for g in gin)
    with open(os.path.join(GOLDEN_DIR, "README.md"), "w") as fh:
        fh.write(text)
    print("verified %d fixtures (%d bytes); README written" % (len(rows), total))
    return rows


if __name__ == "__main__":
    verify_and_readme()
