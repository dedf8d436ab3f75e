"""Golden fixtures for seqlab's RWKV-6 (x060) and RWKV-7 (x070) language models.

A PyTorch reference written from BlinkDL/RWKV-LM's official code, in its two modes:

* GPT mode (whole sequences; what the fixtures are computed with) follows
  RWKV-v5/rwkv_v6_demo.py (`RWKV_Tmix_x060`, `RWKV_CMix_x060`, `Block`, `RWKV`) and
  RWKV-v7/rwkv_v7_demo.py (`RWKV_Tmix_x070`, `RWKV_CMix_x070`, ...) line by line. The
  WKV kernels are the plain loops of the demos' non-CUDA path: x070's `RWKV7_OP`
  (`USE_CUDA_KERNEL = False`), and for x060 the same loop with wkv6_cuda.cu's math
  (decay exp(-exp(w)), state S[key, value], bonus u on the current token).
  One extension: each mixer takes its state (previous token, WKV state) as input and
  returns it, instead of the demos' zero padding / zero state, so a fixture can start
  from a non-zero state and check the final state too.
* RNN mode (one token at a time) follows ChatRWKV's x060 `att_one` and
  RWKV-v7/rwkv_v7_demo_rnn.py's `time_mixing` / `channel_mixing` (with its fused
  decay exp(-e^-0.5 * sigmoid(w))). `main` asserts that both modes agree, and
  selfcheck.py recomputes every rwkv fixture with RNN mode in float64.

Tiny random-weight models with the official structure (ln0 on block 0, GroupNorm ln_x
with eps 64e-5, no v0/v1/v2 in x070's block 0, untied head), head size 8, distinct LoRA
widths so that a transposed weight cannot go unnoticed. Each fixture holds logits at
every position, the final state, and the gradients of L = sum(logits*up) + sum(state*up)
w.r.t. every parameter (and the initial state when one is given).

Run through tools/golden/gen_all.sh (or: /usr/bin/python3 tools/golden/gen_rwkv.py,
then tools/golden/common.py to refresh the README).
"""

import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import autograd_fixture, seed_of  # noqa: E402

torch.set_num_threads(1)

# (name, version, initial state given)
FIXTURES = [
    ("rwkv6_tiny", 6, False),
    ("rwkv6_tiny_state", 6, True),
    ("rwkv7_tiny", 7, False),
    ("rwkv7_tiny_state", 7, True),
]
V, C, HEAD, L, B, T = 13, 16, 8, 2, 2, 7
LORA6 = {"mixLora": 4, "decayLora": 6}
LORA7 = {"decayLora": 6, "aLora": 5, "vLora": 3, "gateLora": 7}


def P(*shape):
    return nn.Parameter(torch.empty(*shape))


def shift(x, x_prev):
    """time_shift(x) with the carried token instead of zero padding: x_{t-1} for every t."""
    return torch.cat([x_prev.unsqueeze(1), x[:, :-1]], dim=1)


# --------------------------------------------------------------------------- #
# WKV loops (the demos' non-CUDA path), with state in / out
# --------------------------------------------------------------------------- #

def wkv6_loop(r, k, v, w, u, s):
    """wkv6_cuda.cu: y = r.(u*k v^T + S); S = diag(exp(-exp(w))) S + k v^T; S[b, h, key, value]."""
    B_, T_, C_ = r.shape
    H, N = u.shape
    r, k, v, w = [t.view(B_, T_, H, N) for t in (r, k, v, w)]
    w = torch.exp(-torch.exp(w))
    ys = []
    for t in range(T_):
        kv = k[:, t, :, :, None] * v[:, t, :, None, :]
        ys.append(torch.einsum("bhj,bhji->bhi", r[:, t], s + u[None, :, :, None] * kv))
        s = s * w[:, t, :, :, None] + kv
    return torch.stack(ys, 1).reshape(B_, T_, C_), s


def wkv7_loop(r, w, k, v, a, b, s):
    """rwkv_v7_demo.py RWKV7_OP without CUDA: S = S diag(exp(-exp(w))) + S a b^T + v k^T; y = S r; S[b, h, value, key]."""
    B_, T_, C_ = r.shape
    H, N = s.shape[1], s.shape[2]
    r, k, v, a, b = [t.view(B_, T_, H, N) for t in (r, k, v, a, b)]
    w = torch.exp(-torch.exp(w.view(B_, T_, H, N)))
    out = []
    for t in range(T_):
        kk = k[:, t].view(B_, H, 1, N)
        rr = r[:, t].view(B_, H, N, 1)
        vv = v[:, t].view(B_, H, N, 1)
        aa = a[:, t].view(B_, H, N, 1)
        bb = b[:, t].view(B_, H, 1, N)
        s = s * w[:, t, :, None, :] + s @ aa @ bb + vv @ kk
        out.append((s @ rr).view(B_, H, N))
    return torch.stack(out, 1).reshape(B_, T_, C_), s


# --------------------------------------------------------------------------- #
# GPT mode, x060 (rwkv_v6_demo.py)
# --------------------------------------------------------------------------- #

class Tmix6(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        H, D, DW = C // HEAD, cfg["mixLora"], cfg["decayLora"]
        self.n_head = H
        for m in "xwkvrg":
            setattr(self, "time_maa_" + m, P(1, 1, C))
        self.time_maa_w1 = P(C, D * 5)
        self.time_maa_w2 = P(5, D, C)
        self.time_decay = P(1, 1, C)
        self.time_decay_w1 = P(C, DW)
        self.time_decay_w2 = P(DW, C)
        self.time_faaaa = P(H, HEAD)
        self.receptance = nn.Linear(C, C, bias=False)
        self.key = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(C, C, bias=False)
        self.output = nn.Linear(C, C, bias=False)
        self.gate = nn.Linear(C, C, bias=False)
        self.ln_x = nn.GroupNorm(H, C, eps=(1e-5) * (8 ** 2))

    def forward(self, x, x_prev, s):
        B_, T_, C_ = x.size()
        xx = shift(x, x_prev) - x
        xxx = x + xx * self.time_maa_x
        xxx = torch.tanh(xxx @ self.time_maa_w1).view(B_ * T_, 5, -1).transpose(0, 1)
        xxx = torch.bmm(xxx, self.time_maa_w2).view(5, B_, T_, -1)
        mw, mk, mv, mr, mg = xxx.unbind(dim=0)
        xw = x + xx * (self.time_maa_w + mw)
        xk = x + xx * (self.time_maa_k + mk)
        xv = x + xx * (self.time_maa_v + mv)
        xr = x + xx * (self.time_maa_r + mr)
        xg = x + xx * (self.time_maa_g + mg)
        r = self.receptance(xr)
        k = self.key(xk)
        v = self.value(xv)
        g = F.silu(self.gate(xg))
        ww = torch.tanh(xw @ self.time_decay_w1) @ self.time_decay_w2
        w = self.time_decay + ww
        y, s = wkv6_loop(r, k, v, w, self.time_faaaa, s)
        y = self.ln_x(y.view(B_ * T_, C_)).view(B_, T_, C_)
        return self.output(y * g), x[:, -1], s


class Cmix6(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.time_maa_k = P(1, 1, C)
        self.time_maa_r = P(1, 1, C)
        self.key = nn.Linear(C, cfg["dimFfn"], bias=False)
        self.receptance = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(cfg["dimFfn"], C, bias=False)

    def forward(self, x, x_prev):
        xx = shift(x, x_prev) - x
        xk = x + xx * self.time_maa_k
        xr = x + xx * self.time_maa_r
        k = torch.relu(self.key(xk)) ** 2
        kv = self.value(k)
        return torch.sigmoid(self.receptance(xr)) * kv, x[:, -1]


# --------------------------------------------------------------------------- #
# GPT mode, x070 (rwkv_v7_demo.py)
# --------------------------------------------------------------------------- #

class Tmix7(nn.Module):
    def __init__(self, cfg, layer_id):
        super().__init__()
        H = C // HEAD
        self.layer_id, self.n_head = layer_id, H
        for m in "rwkvag":
            setattr(self, "x_" + m, P(1, 1, C))
        self.w0, self.w1, self.w2 = P(1, 1, C), P(C, cfg["decayLora"]), P(cfg["decayLora"], C)
        self.a0, self.a1, self.a2 = P(1, 1, C), P(C, cfg["aLora"]), P(cfg["aLora"], C)
        if layer_id > 0:  # released checkpoints have no v0/v1/v2 in block 0 (rwkv_v7_demo_rnn.py)
            self.v0, self.v1, self.v2 = P(1, 1, C), P(C, cfg["vLora"]), P(cfg["vLora"], C)
        self.g1, self.g2 = P(C, cfg["gateLora"]), P(cfg["gateLora"], C)
        self.k_k, self.k_a, self.r_k = P(1, 1, C), P(1, 1, C), P(H, HEAD)
        self.receptance = nn.Linear(C, C, bias=False)
        self.key = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(C, C, bias=False)
        self.output = nn.Linear(C, C, bias=False)
        self.ln_x = nn.GroupNorm(H, C, eps=64e-5)

    def forward(self, x, v_first, x_prev, s):
        B_, T_, C_ = x.size()
        H = self.n_head
        xx = shift(x, x_prev) - x
        xr = x + xx * self.x_r
        xw = x + xx * self.x_w
        xk = x + xx * self.x_k
        xv = x + xx * self.x_v
        xa = x + xx * self.x_a
        xg = x + xx * self.x_g
        r = self.receptance(xr)
        w = -F.softplus(-(self.w0 + torch.tanh(xw @ self.w1) @ self.w2)) - 0.5
        k = self.key(xk)
        v = self.value(xv)
        if self.layer_id == 0:
            v_first = v
        else:
            v = v + (v_first - v) * torch.sigmoid(self.v0 + (xv @ self.v1) @ self.v2)
        a = torch.sigmoid(self.a0 + (xa @ self.a1) @ self.a2)
        g = torch.sigmoid(xg @ self.g1) @ self.g2
        kk = k * self.k_k
        kk = F.normalize(kk.view(B_, T_, H, -1), dim=-1, p=2.0).view(B_, T_, C_)
        k = k * (1 + (a - 1) * self.k_a)
        x2, s = wkv7_loop(r, w, k, v, -kk, kk * a, s)
        x2 = self.ln_x(x2.view(B_ * T_, C_)).view(B_, T_, C_)
        x2 = x2 + ((r.view(B_, T_, H, -1) * k.view(B_, T_, H, -1) * self.r_k).sum(dim=-1, keepdim=True)
                   * v.view(B_, T_, H, -1)).view(B_, T_, C_)
        return self.output(x2 * g), v_first, x[:, -1], s


class Cmix7(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.x_k = P(1, 1, C)
        self.key = nn.Linear(C, cfg["dimFfn"], bias=False)
        self.value = nn.Linear(cfg["dimFfn"], C, bias=False)

    def forward(self, x, x_prev):
        xx = shift(x, x_prev) - x
        k = x + xx * self.x_k
        k = torch.relu(self.key(k)) ** 2
        return self.value(k), x[:, -1]


class Block(nn.Module):
    def __init__(self, cfg, layer_id):
        super().__init__()
        self.layer_id, self.version = layer_id, cfg["version"]
        self.ln1 = nn.LayerNorm(C)
        self.ln2 = nn.LayerNorm(C)
        if layer_id == 0:
            self.ln0 = nn.LayerNorm(C)
        if self.version == 6:
            self.att, self.ffn = Tmix6(cfg), Cmix6(cfg)
        else:
            self.att, self.ffn = Tmix7(cfg, layer_id), Cmix7(cfg)

    def forward(self, x, v_first, st):
        if self.layer_id == 0:
            x = self.ln0(x)
        if self.version == 6:
            xx, att_x, wkv = self.att(self.ln1(x), st["att_x_prev"], st["wkv"])
        else:
            xx, v_first, att_x, wkv = self.att(self.ln1(x), v_first, st["att_x_prev"], st["wkv"])
        x = x + xx
        xx, ffn_x = self.ffn(self.ln2(x), st["ffn_x_prev"])
        x = x + xx
        return x, v_first, {"att_x_prev": att_x, "wkv": wkv, "ffn_x_prev": ffn_x}


class RWKV(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.emb = nn.Embedding(V, C)
        self.blocks = nn.ModuleList([Block(cfg, i) for i in range(L)])
        self.ln_out = nn.LayerNorm(C)
        self.head = nn.Linear(C, V, bias=False)

    def forward(self, idx, states):
        x = self.emb(idx)
        v_first = None
        out_states = []
        for block, st in zip(self.blocks, states):
            x, v_first, st2 = block(x, v_first, st)
            out_states.append(st2)
        return self.head(self.ln_out(x)), out_states


# --------------------------------------------------------------------------- #
# RNN mode (ChatRWKV x060 att_one; rwkv_v7_demo_rnn.py), used by selfcheck.py
# --------------------------------------------------------------------------- #

def _gn(x, H, w, b):
    return F.group_norm(x.view(1, -1), num_groups=H, weight=w, bias=b, eps=64e-5).view(-1)


def _ln(x, p, name):
    return F.layer_norm(x, (x.shape[-1],), weight=p[name + ".weight"], bias=p[name + ".bias"])


def att_one_v6(x, x_prev, s, p, a, H, N):
    xx = x_prev - x
    xxx = x + xx * p[a + "time_maa_x"].view(-1)
    xxx = torch.tanh(xxx @ p[a + "time_maa_w1"]).view(5, 1, -1)
    xxx = torch.bmm(xxx, p[a + "time_maa_w2"]).view(5, -1)
    mw, mk, mv, mr, mg = xxx.unbind(dim=0)
    xw = x + xx * (p[a + "time_maa_w"].view(-1) + mw)
    xk = x + xx * (p[a + "time_maa_k"].view(-1) + mk)
    xv = x + xx * (p[a + "time_maa_v"].view(-1) + mv)
    xr = x + xx * (p[a + "time_maa_r"].view(-1) + mr)
    xg = x + xx * (p[a + "time_maa_g"].view(-1) + mg)
    r = p[a + "receptance.weight"] @ xr
    k = p[a + "key.weight"] @ xk
    v = p[a + "value.weight"] @ xv
    g = F.silu(p[a + "gate.weight"] @ xg)
    w = p[a + "time_decay"].view(-1) + torch.tanh(xw @ p[a + "time_decay_w1"]) @ p[a + "time_decay_w2"]
    w = torch.exp(-torch.exp(w))
    r, k, v = r.view(H, 1, N), k.view(H, N, 1), v.view(H, 1, N)
    kv = k @ v
    out = r @ (p[a + "time_faaaa"].view(H, N, 1) * kv + s)
    s = kv + w.view(H, N, 1) * s
    out = _gn(out, H, p[a + "ln_x.weight"], p[a + "ln_x.bias"])
    return p[a + "output.weight"] @ (out * g), x, s


def att_one_v7(layer, x, x_prev, v_first, s, p, a, H, N):
    xx = x_prev - x
    xr, xw, xk, xv, xa, xg = [x + xx * p[a + "x_" + m].view(-1) for m in "rwkvag"]
    r = p[a + "receptance.weight"] @ xr
    w = torch.tanh(xw @ p[a + "w1"]) @ p[a + "w2"]
    k = p[a + "key.weight"] @ xk
    v = p[a + "value.weight"] @ xv
    aa = torch.sigmoid(p[a + "a0"].view(-1) + (xa @ p[a + "a1"]) @ p[a + "a2"])
    g = torch.sigmoid(xg @ p[a + "g1"]) @ p[a + "g2"]
    kk = k * p[a + "k_k"].view(-1)
    kk = F.normalize(kk.view(H, N), dim=-1, p=2.0).view(-1)
    k = k * (1 + (aa - 1) * p[a + "k_a"].view(-1))
    if layer == 0:
        v_first = v
    else:
        v = v + (v_first - v) * torch.sigmoid(p[a + "v0"].view(-1) + (xv @ p[a + "v1"]) @ p[a + "v2"])
    w = torch.exp(-math.exp(-0.5) * torch.sigmoid(p[a + "w0"].view(-1) + w))  # the demo writes exp(-0.5) as 0.606531
    vk = v.view(H, N, 1) @ k.view(H, 1, N)
    ab = (-kk).view(H, N, 1) @ (kk * aa).view(H, 1, N)
    s = s * w.view(H, 1, N) + s @ ab + vk
    out = (s @ r.view(H, N, 1)).view(-1)
    out = _gn(out, H, p[a + "ln_x.weight"], p[a + "ln_x.bias"])
    out = out + ((r * k * p[a + "r_k"].view(-1)).view(H, N).sum(dim=-1, keepdim=True) * v.view(H, N)).view(-1)
    return p[a + "output.weight"] @ (out * g), x, v_first, s


def ffn_one(version, x, x_prev, p, f):
    xx = x_prev - x
    if version == 6:
        xk = x + xx * p[f + "time_maa_k"].view(-1)
        xr = x + xx * p[f + "time_maa_r"].view(-1)
        kv = p[f + "value.weight"] @ (torch.relu(p[f + "key.weight"] @ xk) ** 2)
        return torch.sigmoid(p[f + "receptance.weight"] @ xr) * kv, x
    k = x + xx * p[f + "x_k"].view(-1)
    return p[f + "value.weight"] @ (torch.relu(p[f + "key.weight"] @ k) ** 2), x


def rnn_forward(cfg, ins, p):
    """RNN mode over ins["tokens"] [B, T], token by token; returns the same outputs as a fixture stores."""
    version, H, N, nl = cfg["version"], cfg["dModel"] // cfg["headSize"], cfg["headSize"], cfg["numLayers"]
    toks = ins["tokens"].long()
    logits, finals = [], []
    for b in range(toks.shape[0]):
        st = []
        for i in range(nl):
            g = (lambda key: ins["state.%d.%s" % (i, key)][b]) if "state.0.wkv" in ins else None
            d = p["emb.weight"].shape[1]
            st.append([g("att_x_prev") if g else p["emb.weight"].new_zeros(d),
                       g("wkv") if g else p["emb.weight"].new_zeros(H, N, N),
                       g("ffn_x_prev") if g else p["emb.weight"].new_zeros(d)])
        row = []
        for t in range(toks.shape[1]):
            x = _ln(p["emb.weight"][toks[b, t]], p, "blocks.0.ln0")
            v_first = None
            for i in range(nl):
                a, f = "blocks.%d.att." % i, "blocks.%d.ffn." % i
                xx = _ln(x, p, "blocks.%d.ln1" % i)
                if version == 6:
                    dx, st[i][0], st[i][1] = att_one_v6(xx, st[i][0], st[i][1], p, a, H, N)
                else:
                    dx, st[i][0], v_first, st[i][1] = att_one_v7(i, xx, st[i][0], v_first, st[i][1], p, a, H, N)
                x = x + dx
                dx, st[i][2] = ffn_one(version, _ln(x, p, "blocks.%d.ln2" % i), st[i][2], p, f)
                x = x + dx
            row.append(p["head.weight"] @ _ln(x, p, "ln_out"))
        logits.append(torch.stack(row))
        finals.append(st)
    out = {"logits": torch.stack(logits)}
    for i in range(nl):
        for j, key in enumerate(("att_x_prev", "wkv", "ffn_x_prev")):
            out["state.%d.%s" % (i, key)] = torch.stack([finals[b][i][j] for b in range(len(finals))])
    return out


# --------------------------------------------------------------------------- #
# fixtures
# --------------------------------------------------------------------------- #

def config_of(version, initial_state):
    cfg = {"kind": "rwkv", "version": version, "vocabSize": V, "dModel": C, "numLayers": L, "headSize": HEAD,
           "dimFfn": int((C * 3.5) // 32 * 32) if version == 6 else 4 * C, "batch": B, "steps": T,
           "initialState": initial_state}
    cfg.update(LORA6 if version == 6 else LORA7)
    return cfg


def randomize(model):
    """Random weights of sensible scale for every parameter (no zero-initialised layers, so every gradient is non-trivial)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.split(".")[-1] if not name.endswith((".weight", ".bias")) else name.split(".")[-2]
            if name.endswith(".bias"):
                p.normal_(0, 0.1)
            elif leaf.startswith(("ln", "ln_x")) or name.startswith("ln_out"):
                p.normal_(1, 0.2)
            elif leaf.startswith(("time_maa_", "x_")) and p.dim() == 3 and p.shape[0] == 1:
                p.uniform_(0, 1)
            elif leaf in ("time_decay", "w0"):
                p.normal_(-0.5, 0.7)
            elif leaf in ("time_faaaa", "r_k", "a0", "v0"):
                p.normal_(0, 0.5)
            elif leaf in ("k_k", "k_a"):
                p.normal_(0.8, 0.3)
            elif name == "emb.weight":
                p.normal_(0, 1)
            elif p.dim() == 3:  # time_maa_w2 [5, D, C]
                p.normal_(0, 0.5 / p.shape[1] ** 0.5)
            elif leaf.endswith("1") or leaf.endswith("_w1"):  # LoRA down [C, D]
                p.normal_(0, 1 / p.shape[0] ** 0.5)
            elif leaf.endswith("2") or leaf.endswith("_w2"):  # LoRA up [D, C]
                p.normal_(0, 1 / p.shape[0] ** 0.5)
            else:  # nn.Linear weights [out, in]
                p.normal_(0, 1 / p.shape[1] ** 0.5)


def zero_states(version):
    return [{"att_x_prev": torch.zeros(B, C), "wkv": torch.zeros(B, C // HEAD, HEAD, HEAD), "ffn_x_prev": torch.zeros(B, C)}
            for _ in range(L)]


def gen(name, version, initial_state):
    torch.manual_seed(seed_of(name))
    cfg = config_of(version, initial_state)
    model = RWKV(cfg)
    randomize(model)
    tokens = torch.randint(0, V, (B, T))
    inputs = {"tokens": tokens.float()}
    if initial_state:
        for i in range(L):
            inputs["state.%d.att_x_prev" % i] = torch.randn(B, C)
            inputs["state.%d.wkv" % i] = 0.5 * torch.randn(B, C // HEAD, HEAD, HEAD)
            inputs["state.%d.ffn_x_prev" % i] = torch.randn(B, C)
    params = dict(model.named_parameters())

    def forward(ins, _params):
        if initial_state:
            states = [{k: ins["state.%d.%s" % (i, k)] for k in ("att_x_prev", "wkv", "ffn_x_prev")} for i in range(L)]
        else:
            states = zero_states(version)
        logits, finals = model(ins["tokens"].long(), states)
        out = {"logits": logits}
        for i, st in enumerate(finals):
            for k, v in st.items():
                out["state.%d.%s" % (i, k)] = v
        return out

    outs = forward({k: v for k, v in inputs.items()}, params)
    # GPT mode == RNN mode (float32 here; selfcheck.py repeats it in float64)
    with torch.no_grad():
        rnn = rnn_forward(cfg, inputs, {k: v.detach() for k, v in params.items()})
    for k, v in outs.items():
        err = (rnn[k] - v.detach()).abs().max().item()
        assert err < 2e-4, (name, k, err)
    torch.manual_seed(seed_of(name) + 1)
    desc = ("RWKV-%d LM (GPT mode, official structure) on tokens [B, T]; outputs logits [B, T, V] and the final "
            "per-layer state; L = sum(logits*up.logits) + sum over states of sum(state*up.state)." % version)
    return autograd_fixture(name, cfg, forward, inputs, params, list(outs), description=desc,
                            no_grad_inputs=("tokens",))


def main():
    for name, version, initial_state in FIXTURES:
        print(gen(name, version, initial_state))


if __name__ == "__main__":
    main()
