"""Independent re-computation of the golden fixtures, in float64, from the written
conventions (test/golden/README.md, docs conventions §2.1) rather than from torch.nn:
recurrent layers/cells are hand-written equations (autograd only for the gradients),
optimizers / clipping / schedules are hand-written numpy. Reads each fixture with the
reader in common.py and compares outputs and gradients. Exits non-zero on mismatch.

Run: /usr/bin/python3 tools/golden/selfcheck.py   (gen_all.sh runs it last)
"""

import glob
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import GOLDEN_DIR, read_safetensors  # noqa: E402
from gen_rwkv import rnn_forward  # noqa: E402
from gen_mamba import step_forward as mamba_step_forward  # noqa: E402

torch.set_default_dtype(torch.float64)
FAIL = []
CHECKED = []


def close(name, key, got, want, atol=2e-5, rtol=2e-4):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        FAIL.append("%s %s: shape %s vs %s" % (name, key, got.shape, want.shape))
        return
    err = np.abs(got - want) - (atol + rtol * np.abs(want))
    if got.size and err.max() > 0:
        FAIL.append("%s %s: max abs diff %.3g" % (name, key, np.abs(got - want).max()))


_close = close


def T64(a, grad=False):
    t = torch.tensor(np.asarray(a, dtype=np.float64))
    if grad:
        t.requires_grad_(True)
    return t


def check_autograd(name, t, forward, scaled=None):
    """forward(inputs: dict of float64 leaf tensors, params: dict) -> outputs dict. With `scaled`, each tensor
    is compared with atol = scaled * max|expected| (a scale-aware bound, for whole models whose float32
    gradients span several orders of magnitude) instead of the default elementwise tolerance."""
    def close(name, key, got, want):
        if scaled is None:
            return _close(name, key, got, want)
        return _close(name, key, got, want, scaled * max(1.0, float(np.abs(want).max(initial=0))), 0.0)
    ins = {k[3:]: T64(v, ("grad.in." + k[3:]) in t) for k, v in t.items() if k.startswith("in.")}
    prm = {k[6:]: T64(v, True) for k, v in t.items() if k.startswith("param.")}
    outs = forward(ins, prm)
    for k, v in outs.items():
        close(name, "out." + k, v.detach().numpy(), t["out." + k])
    stored_outs = {k[4:] for k in t if k.startswith("out.")}
    if stored_outs != set(outs):
        FAIL.append("%s: outputs %s vs recomputed %s" % (name, sorted(stored_outs), sorted(outs)))
    L = sum((outs[k[3:]] * T64(v)).sum() for k, v in t.items() if k.startswith("up."))
    L.backward()
    for k, v in t.items():
        if k.startswith("grad.in."):
            g = ins[k[8:]].grad
            close(name, k, np.zeros_like(v) if g is None else g.numpy(), v)
        elif k.startswith("grad.param."):
            g = prm[k[11:]].grad
            close(name, k, np.zeros_like(v) if g is None else g.numpy(), v)


# --------------------------------------------------------------------------- #
# recurrent equations
# --------------------------------------------------------------------------- #

def cell_step(kind, cfg, p, sfx, x, h, c):
    gi = x @ p["weight_ih" + sfx].t()
    gh = h @ p["weight_hh" + sfx].t()
    if cfg.get("bias", True):
        gi = gi + p["bias_ih" + sfx]
        gh = gh + p["bias_hh" + sfx]
    if kind == "rnn":
        a = gi + gh
        return (torch.tanh(a) if cfg.get("nonlinearity", "tanh") == "tanh" else torch.relu(a)), None
    if kind == "lstm":
        i, f, g, o = (gi + gh).chunk(4, -1)
        c2 = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h2 = torch.sigmoid(o) * torch.tanh(c2)
        if cfg.get("projSize", 0):
            h2 = h2 @ p["weight_hr" + sfx].t()
        return h2, c2
    i_r, i_z, i_n = gi.chunk(3, -1)
    h_r, h_z, h_n = gh.chunk(3, -1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    if cfg.get("resetAfter", True):
        n = torch.tanh(i_n + r * h_n)
    else:
        w_hn = p["weight_hh" + sfx].chunk(3, 0)[2]
        b_hn = p["bias_hh" + sfx].chunk(3, 0)[2] if cfg.get("bias", True) else 0.0
        n = torch.tanh(i_n + (r * h) @ w_hn.t() + b_hn)
    return (1 - z) * n + z * h, None


def seq_forward(kind, cfg, ins, p):
    x = ins["x"]
    if cfg["batchFirst"]:
        x = x.transpose(0, 1)
    steps, batch = x.shape[0], x.shape[1]
    D = 2 if cfg["bidirectional"] else 1
    lengths = cfg.get("lengths")
    layer_in = x
    hs, cs = [], []
    for layer in range(cfg["numLayers"]):
        dir_outs = []
        for d in range(D):
            sfx = "_l%d%s" % (layer, "_reverse" if d else "")
            h = ins["h0"][layer * D + d]
            c = ins["c0"][layer * D + d] if kind == "lstm" else None
            ys = [None] * steps
            for t in (range(steps) if d == 0 else range(steps - 1, -1, -1)):
                h2, c2 = cell_step(kind, cfg, p, sfx, layer_in[t], h, c)
                if lengths is None:
                    h, c, ys[t] = h2, c2, h2
                else:
                    m = T64([[1.0] if t < n else [0.0] for n in lengths])
                    h = m * h2 + (1 - m) * h
                    if c is not None:
                        c = m * c2 + (1 - m) * c
                    ys[t] = m * h2
            dir_outs.append(torch.stack(ys))
            hs.append(h)
            cs.append(c)
        layer_in = torch.cat(dir_outs, -1)
    y = layer_in.transpose(0, 1) if cfg["batchFirst"] else layer_in
    out = {"y": y, "h_n": torch.stack(hs)}
    if kind == "lstm":
        out["c_n"] = torch.stack(cs)
    return out


def cell_forward(kind, cfg, ins, p):
    k = kind[:-len("_cell")]
    h = ins["h0"]
    c = ins.get("c0")
    xs = ins["x"] if cfg["loop"] else ins["x"].unsqueeze(0)
    ys = []
    for t in range(xs.shape[0]):
        h, c = cell_step(k, cfg, p, "", xs[t], h, c)
        ys.append(h)
    if cfg["loop"]:
        o = {"y": torch.stack(ys)}
        if k == "lstm":
            o["c_n"] = c
    else:
        o = {"h": h}
        if k == "lstm":
            o["c"] = c
    return o


# --------------------------------------------------------------------------- #
# foundation
# --------------------------------------------------------------------------- #

def ce_forward(cfg, ins):
    logits = ins["logits"].reshape(-1, cfg["numClasses"])
    tg = ins["targets"].detach().reshape(-1).numpy().astype(np.int64)
    keep = [i for i, v in enumerate(tg) if v != cfg["ignoreIndex"]]
    lsm = logits - torch.logsumexp(logits, -1, keepdim=True)
    nll = torch.stack([-lsm[i, tg[i]] for i in keep])
    return {"loss": nll.mean()}


def foundation_forward(kind, cfg, ins, p):
    if kind == "linear":
        y = ins["x"] @ p["weight"].t()
        return {"y": y + p["bias"] if cfg["bias"] else y}
    if kind in ("layernorm", "rmsnorm"):
        dims = tuple(range(-len(cfg["normalizedShape"]), 0))
        x = ins["x"]
        if kind == "layernorm":
            mu = x.mean(dims, keepdim=True)
            var = ((x - mu) ** 2).mean(dims, keepdim=True)
            return {"y": (x - mu) / torch.sqrt(var + cfg["eps"]) * p["weight"] + p["bias"]}
        return {"y": x / torch.sqrt((x * x).mean(dims, keepdim=True) + cfg["eps"]) * p["weight"]}
    if kind == "embedding":
        idx = ins["indices"].detach().numpy().astype(np.int64)
        w = p["weight"]
        if "paddingIdx" in cfg:  # no gradient into the padding row
            mask = T64(np.arange(w.shape[0]) != cfg["paddingIdx"]).unsqueeze(1)
            w = w * mask + (w * (1 - mask)).detach()
        return {"y": w[torch.tensor(idx)]}
    if kind == "cross_entropy":
        return ce_forward(cfg, ins)
    if kind == "mse":
        return {"loss": ((ins["pred"] - ins["target"]) ** 2).mean()}
    raise KeyError(kind)


def check_optimizer(name, cfg, t):
    lr, wd = cfg["lr"], cfg["weightDecay"]
    for pn in cfg["params"]:
        x = t["param." + pn].astype(np.float64)
        st = {}
        for k in range(cfg["steps"]):
            g = t["in.grad_%s.%d" % (pn, k)].astype(np.float64)
            if cfg["kind"] == "sgd":
                if wd:
                    g = g + wd * x
                if cfg["momentum"]:
                    if "momentum_buffer" not in st:
                        st["momentum_buffer"] = g.copy()  # first step: no dampening
                    else:
                        st["momentum_buffer"] = cfg["momentum"] * st["momentum_buffer"] + (1 - cfg["dampening"]) * g
                    g = g + cfg["momentum"] * st["momentum_buffer"] if cfg["nesterov"] else st["momentum_buffer"]
                x = x - lr * g
            else:
                b1, b2 = cfg["betas"]
                if cfg["kind"] == "adamw":
                    x = x * (1 - lr * wd)
                elif wd:
                    g = g + wd * x
                st.setdefault("exp_avg", np.zeros_like(x))
                st.setdefault("exp_avg_sq", np.zeros_like(x))
                st["exp_avg"] = b1 * st["exp_avg"] + (1 - b1) * g
                st["exp_avg_sq"] = b2 * st["exp_avg_sq"] + (1 - b2) * g * g
                v = st["exp_avg_sq"]
                if cfg["amsgrad"]:
                    st["max_exp_avg_sq"] = np.maximum(st.get("max_exp_avg_sq", np.zeros_like(x)), v)
                    v = st["max_exp_avg_sq"]
                bc1, bc2 = 1 - b1 ** (k + 1), 1 - b2 ** (k + 1)
                x = x - (lr / bc1) * st["exp_avg"] / (np.sqrt(v) / math.sqrt(bc2) + cfg["eps"])
            close(name, "out.%s.%d" % (pn, k), x, t["out.%s.%d" % (pn, k)])
        for sk, sv in st.items():
            close(name, "out.state.%s.%s" % (pn, sk), sv, t["out.state.%s.%s" % (pn, sk)])
        want = {k for k in t if k.startswith("out.state.%s." % pn)}
        if want != {"out.state.%s.%s" % (pn, sk) for sk in st}:
            FAIL.append("%s: state keys %s" % (name, sorted(want)))


def check_clip(name, cfg, t):
    gs = [t["in.grad.%d" % i].astype(np.float64) for i in range(len(cfg["shapes"]))]
    if cfg["kind"] == "clip_grad_value":
        for i, g in enumerate(gs):
            close(name, "out.grad.%d" % i, np.clip(g, -cfg["clipValue"], cfg["clipValue"]), t["out.grad.%d" % i])
        return
    if cfg["normType"] == "inf":
        total = max(np.abs(g).max() for g in gs)
    else:
        total = math.sqrt(sum((g * g).sum() for g in gs))
    close(name, "out.total_norm", total, t["out.total_norm"])
    coef = min(cfg["maxNorm"] / (total + 1e-6), 1.0)
    for i, g in enumerate(gs):
        close(name, "out.grad.%d" % i, g * coef, t["out.grad.%d" % i])


def check_lr(name, cfg, t):
    lrs = []
    for k in range(cfg["steps"]):
        if cfg["kind"] == "step_lr":
            lrs.append(cfg["lr"] * cfg["gamma"] ** (k // cfg["stepSize"]))
        elif cfg["kind"] == "cosine_annealing_lr":
            lrs.append(cfg["etaMin"] + (cfg["lr"] - cfg["etaMin"]) * (1 + math.cos(math.pi * k / cfg["tMax"])) / 2)
        else:
            w, dmax, lo, hi = cfg["warmupIters"], cfg["lrDecayIters"], cfg["minLr"], cfg["lr"]
            if k < w:
                lrs.append(hi * (k + 1) / (w + 1))
            elif k > dmax:
                lrs.append(lo)
            else:
                lrs.append(lo + 0.5 * (1 + math.cos(math.pi * (k - w) / (dmax - w))) * (hi - lo))
    close(name, "out.lr", lrs, t["out.lr"], atol=1e-7, rtol=1e-6)


def check_char_lm(name, cfg, t):
    """Replays the 10 Adam steps in float64 with the hand-written LSTM; tolerances are loose
    because float32 vs float64 rounding grows over the trajectory."""
    V = cfg["vocabSize"]
    vocab = cfg["vocab"]
    ids = [vocab.index(ch) for ch in cfg["text"]]
    tokens = np.array([ids[o:o + cfg["seqLen"]] for o in cfg["offsets"]], dtype=np.float64)
    targets = np.array([ids[o + 1:o + 1 + cfg["seqLen"]] for o in cfg["offsets"]], dtype=np.float64)
    close(name, "in.tokens", tokens, t["in.tokens"], 0, 0)
    close(name, "in.targets", targets, t["in.targets"], 0, 0)
    p = {k[6:]: T64(v, True) for k, v in t.items() if k.startswith("param.")}
    lcfg = {"batchFirst": False, "bidirectional": False, "numLayers": 2, "bias": True}
    tok = torch.tensor(tokens.astype(np.int64))
    tgt = torch.tensor(targets.astype(np.int64)).reshape(-1)
    nb = tok.shape[0]
    st = {}
    losses, norms = [], []
    for k in range(cfg["steps"]):
        for v in p.values():
            v.grad = None
        e = p["emb.weight"][tok].transpose(0, 1)
        lp = {kk[5:]: v for kk, v in p.items() if kk.startswith("lstm.")}
        z = torch.zeros(2, nb, cfg["hiddenSize"])
        o = seq_forward("lstm", lcfg, {"x": e, "h0": z, "c0": z}, lp)["y"].transpose(0, 1)
        logits = o @ p["head.weight"].t() + p["head.bias"]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), tgt)
        loss.backward()
        total = math.sqrt(sum(float((v.grad ** 2).sum()) for v in p.values()))
        coef = min(1.0, cfg["clipGradNorm"] / (total + 1e-6))
        losses.append(loss.item())
        norms.append(total)
        with torch.no_grad():
            b1, b2 = cfg["betas"]
            for kk, v in p.items():
                g = v.grad * coef
                m, s = st.get(kk, (torch.zeros_like(v), torch.zeros_like(v)))
                m = b1 * m + (1 - b1) * g
                s = b2 * s + (1 - b2) * g * g
                st[kk] = (m, s)
                bc1, bc2 = 1 - b1 ** (k + 1), 1 - b2 ** (k + 1)
                v -= (cfg["lr"] / bc1) * m / (s.sqrt() / math.sqrt(bc2) + cfg["eps"])
    close(name, "out.losses", losses, t["out.losses"], 1e-4, 1e-4)
    close(name, "out.grad_norms", norms, t["out.grad_norms"], 1e-4, 1e-3)
    for kk, v in p.items():
        close(name, "out.final." + kk, v.detach().numpy(), t["out.final." + kk], 1e-4, 1e-3)


def check_gpt(name, cfg, t):
    """GPT (nanoGPT structure) from its equations in float64: x = wte[idx] + wpe[pos]; per block
    x += c_proj(causal softmax(q kᵀ/√D) v), x += c_proj(GELU(c_fc(ln_2(x)))) with the erf GELU; logits =
    ln_f(x) wteᵀ (tied head); loss = mean −log softmax(logits)[target]."""
    V, C, H, L, bias = cfg["vocabSize"], cfg["nEmbd"], cfg["nHead"], cfg["nLayer"], cfg["bias"]
    D = C // H

    def fwd(ins, p):
        idx, tgt = ins["tokens"].long(), ins["targets"].long()
        N, T = idx.shape

        def ln(x, pre):
            mu = x.mean(-1, keepdim=True)
            var = ((x - mu) ** 2).mean(-1, keepdim=True)
            y = (x - mu) / torch.sqrt(var + 1e-5) * p[pre + ".weight"]
            return y + p[pre + ".bias"] if bias else y

        def lin(x, pre):
            y = x @ p[pre + ".weight"].t()
            return y + p[pre + ".bias"] if bias else y

        def heads(z):
            return z.reshape(N, T, H, D).transpose(1, 2)

        future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        x = p["transformer.wte.weight"][idx] + p["transformer.wpe.weight"][:T]
        for layer in range(L):
            b = "transformer.h.%d." % layer
            qkv = lin(ln(x, b + "ln_1"), b + "attn.c_attn")
            q, k, v = heads(qkv[..., :C]), heads(qkv[..., C:2 * C]), heads(qkv[..., 2 * C:])
            s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
            e = torch.exp(s - s.max(-1, keepdim=True).values).masked_fill(future, 0.0)
            y = ((e / e.sum(-1, keepdim=True)) @ v).transpose(1, 2).reshape(N, T, C)
            x = x + lin(y, b + "attn.c_proj")
            h = lin(ln(x, b + "ln_2"), b + "mlp.c_fc")
            x = x + lin(0.5 * h * (1 + torch.erf(h / math.sqrt(2))), b + "mlp.c_proj")
        logits = ln(x, "transformer.ln_f") @ p["transformer.wte.weight"].t()
        logp = logits - torch.logsumexp(logits, -1, keepdim=True)
        loss = -logp.reshape(-1, V).gather(1, tgt.reshape(-1, 1)).mean()
        return {"logits": logits, "loss": loss}

    check_autograd(name, t, fwd)


def main():
    files = sorted(glob.glob(os.path.join(GOLDEN_DIR, "*.safetensors")))
    for path in files:
        name = os.path.basename(path)[:-len(".safetensors")]
        t, meta = read_safetensors(path)
        cfg = json.loads(meta["config"])
        kind = cfg["kind"]
        if kind in ("rnn", "lstm", "gru"):
            check_autograd(name, t, lambda i, p: seq_forward(kind, cfg, i, p))
        elif kind.endswith("_cell"):
            check_autograd(name, t, lambda i, p: cell_forward(kind, cfg, i, p))
        elif kind in ("linear", "layernorm", "rmsnorm", "embedding", "cross_entropy", "mse"):
            check_autograd(name, t, lambda i, p: foundation_forward(kind, cfg, i, p))
        elif kind in ("sgd", "adam", "adamw"):
            check_optimizer(name, cfg, t)
        elif kind in ("clip_grad_norm", "clip_grad_value"):
            check_clip(name, cfg, t)
        elif kind in ("step_lr", "cosine_annealing_lr", "nanogpt_lr"):
            check_lr(name, cfg, t)
        elif kind == "char_lm":
            check_char_lm(name, cfg, t)
        elif kind == "gpt":
            check_gpt(name, cfg, t)
        elif kind in ("mamba", "mamba2"):
            # The recurrent form, one token at a time (gen_mamba.step_forward, as mamba_ssm's step), against
            # fixtures computed with the whole-sequence forms (selective_scan_ref / the chunked SSD).
            check_autograd(name, t, lambda i, p: mamba_step_forward(cfg, i, p))
        elif kind == "rwkv":
            # RNN mode, one token at a time (gen_rwkv.rnn_forward, written from ChatRWKV / rwkv_v7_demo_rnn.py),
            # against fixtures computed in GPT mode (whole sequences, the demos' WKV loops).
            check_autograd(name, t, lambda i, p: rnn_forward(cfg, i, p), scaled=1e-4)
        else:
            FAIL.append("%s: no checker for kind %s" % (name, kind))
            continue
        CHECKED.append(name)
    for f in FAIL:
        print("MISMATCH", f)
    print("selfcheck: %d fixtures recomputed independently in float64, %d mismatches" % (len(CHECKED), len(FAIL)))
    sys.exit(1 if FAIL else 0)


if __name__ == "__main__":
    main()
