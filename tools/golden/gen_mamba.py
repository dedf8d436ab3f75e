"""Golden fixtures for seqlab's Mamba family: tiny Mamba-1 and Mamba-2 language models in PyTorch,
written from state-spaces/mamba's reference paths (no CUDA kernels, no einops):

* Mamba-1: `mamba_ssm/modules/mamba_simple.py` Mamba.forward without the fast path (nn.Conv1d with
  padding d_conv-1 cut to the sequence, x_proj, dt_proj, `selective_scan_ref` of
  `ops/selective_scan_interface.py` with delta_bias, delta_softplus=True, z, return_last_state).
* Mamba-2: `mamba_ssm/modules/mamba2.py` Mamba2.forward's unfused path (in_proj split [z, xBC, dt],
  conv over xBC, the chunked `ssd_minimal_discrete` of `modules/ssd_minimal.py`, D skip, gated RMSNorm
  with norm_before_gate=False as `ops/triton/layernorm_gated.py`'s reference, out_proj).
* The LM: `models/mixer_seq_simple.py` MixerModel (Block: residual = hidden + residual; hidden =
  norm(residual); hidden = mixer(hidden); then norm_f) with the head tied to the embedding, RMSNorm as
  mamba_ssm's `rms_norm_ref`, residual in fp32.

Weights: mamba_ssm's init (A_log = log(1..n), dt bias = softplus^-1 of a log-uniform dt, ...) plus noise
on every parameter so that no gradient hides behind a special value (D = 1, norms = 1). Stored under the
official state-dict keys (`param.backbone.…`, lm_head tied and not stored). Each fixture holds
`in.tokens` [N, T], `out.logits` [N, T, V] at every position with an upstream gradient `up.logits`,
the final `out.conv_state.{i}` / `out.ssm_state.{i}` (mamba_ssm's inference cache after a prefill) and
every parameter's gradient.

`step_forward` below is the independent float64 recomputation that selfcheck.py runs: the recurrent
form, one token at a time, as mamba_ssm's `step` methods compute it (rolled conv_state, per-token state
update) — against fixtures computed with the whole-sequence forms above.

Run through tools/golden/gen_all.sh.
"""

import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import autograd_fixture, seed_of  # noqa: E402


def rms_norm(x, weight, eps):
    """mamba_ssm's rms_norm_ref: x * rsqrt(mean(x^2) + eps) * weight, in float32."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def selective_scan_ref(u, delta, A, B, C, D, z, delta_bias):
    """selective_scan_ref with delta_softplus=True, return_last_state=True.
    u, delta, z: (b, di, l); A: (di, n); B, C: (b, n, l); D, delta_bias: (di,)."""
    delta = F.softplus(delta + delta_bias[..., None])
    b, di, n = u.shape[0], A.shape[0], A.shape[1]
    deltaA = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
    deltaB_u = torch.einsum("bdl,bnl,bdl->bdln", delta, B, u)
    x = A.new_zeros((b, di, n))
    ys = []
    for i in range(u.shape[2]):
        x = deltaA[:, :, i] * x + deltaB_u[:, :, i]
        ys.append(torch.einsum("bdn,bn->bd", x, C[:, :, i]))
    y = torch.stack(ys, dim=2)
    out = (y + u * D[..., None]) * F.silu(z)
    return out, x


def segsum(x):
    """ssd_minimal's stable segment sum: out[..., i, j] = sum_{j < k <= i} x[..., k], -inf above the diagonal."""
    T = x.size(-1)
    x = x[..., None].expand(*x.shape, T)
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool), diagonal=-1)
    x = x.masked_fill(~mask, 0)
    x_segsum = torch.cumsum(x, dim=-2)
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool), diagonal=0)
    return x_segsum.masked_fill(~mask, -torch.inf)


def ssd_minimal_discrete(X, A, B, C, block_len):
    """ssd_minimal_discrete (Listing 1 of the Mamba-2 paper), with B and C already per head.
    X: (b, l, h, p); A: (b, l, h); B, C: (b, l, h, n). Returns Y (b, l, h, p) and the final state."""
    b, l, h, p = X.shape
    assert l % block_len == 0
    c = l // block_len
    X, A, B, C = [t.reshape(b, c, block_len, *t.shape[2:]) for t in (X, A, B, C)]
    A = A.permute(0, 3, 1, 2)  # b h c l
    A_cumsum = torch.cumsum(A, dim=-1)
    # 1. intra-chunk (diagonal blocks)
    L = torch.exp(segsum(A))
    Y_diag = torch.einsum("bclhn,bcshn,bhcls,bcshp->bclhp", C, B, L, X)
    # 2. the state each chunk produces
    decay_states = torch.exp(A_cumsum[:, :, :, -1:] - A_cumsum)
    states = torch.einsum("bclhn,bhcl,bclhp->bchpn", B, decay_states, X)
    # 3. inter-chunk recurrence (initial state zero)
    states = torch.cat([torch.zeros_like(states[:, :1]), states], dim=1)
    decay_chunk = torch.exp(segsum(F.pad(A_cumsum[:, :, :, -1], (1, 0))))
    new_states = torch.einsum("bhzc,bchpn->bzhpn", decay_chunk, states)
    states, final_state = new_states[:, :-1], new_states[:, -1]
    # 4. state -> output
    state_decay_out = torch.exp(A_cumsum)
    Y_off = torch.einsum("bclhn,bchpn,bhcl->bclhp", C, states, state_decay_out)
    return (Y_diag + Y_off).reshape(b, l, h, p), final_state


def dt_bias_init(n, dt_min=0.001, dt_max=0.1, dt_init_floor=1e-4):
    dt = torch.exp(torch.rand(n) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)).clamp(min=dt_init_floor)
    return dt + torch.log(-torch.expm1(-dt))  # inverse of softplus


class Mamba(nn.Module):
    """mamba_simple.Mamba's parameters (same names, shapes, init)."""

    def __init__(self, cfg):
        super().__init__()
        d, n, k = cfg["dModel"], cfg["dState"], cfg["dConv"]
        di = cfg["expand"] * d
        r = cfg["dtRank"]
        self.d_inner, self.d_state, self.d_conv, self.dt_rank = di, n, k, r
        self.in_proj = nn.Linear(d, 2 * di, bias=cfg["bias"])
        self.conv1d = nn.Conv1d(di, di, k, groups=di, padding=k - 1, bias=cfg["convBias"])
        self.x_proj = nn.Linear(di, r + 2 * n, bias=False)
        self.dt_proj = nn.Linear(r, di, bias=True)
        nn.init.uniform_(self.dt_proj.weight, -r ** -0.5, r ** -0.5)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt_bias_init(di))
        self.A_log = nn.Parameter(torch.log(torch.arange(1, n + 1, dtype=torch.float32).repeat(di, 1)))
        self.D = nn.Parameter(torch.ones(di))
        self.out_proj = nn.Linear(di, d, bias=cfg["bias"])

    def forward(self, hidden):
        b, l, _ = hidden.shape
        xz = self.in_proj(hidden).transpose(1, 2)  # b, 2di, l
        x, z = xz.chunk(2, dim=1)
        conv_state = F.pad(x, (self.d_conv - l, 0))  # the cache mamba_ssm keeps: last d_conv inputs
        x = F.silu(self.conv1d(x)[..., :l])
        x_dbl = self.x_proj(x.transpose(1, 2).reshape(b * l, -1))
        dt, B, C = torch.split(x_dbl, [self.dt_rank, self.d_state, self.d_state], dim=-1)
        dt = (self.dt_proj.weight @ dt.t()).reshape(-1, b, l).permute(1, 0, 2)
        B = B.reshape(b, l, -1).transpose(1, 2)
        C = C.reshape(b, l, -1).transpose(1, 2)
        A = -torch.exp(self.A_log)
        y, last = selective_scan_ref(x, dt, A, B, C, self.D, z, self.dt_proj.bias)
        return self.out_proj(y.transpose(1, 2)), conv_state, last


class GatedRMSNorm(nn.Module):
    """layernorm_gated.RMSNorm with norm_before_gate=False: rmsnorm(x * silu(z)) per group, times weight."""

    def __init__(self, d, group_size, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.group_size, self.eps = group_size, eps

    def forward(self, x, z):
        x = x * F.silu(z)
        shp = x.shape
        xg = x.reshape(*shp[:-1], shp[-1] // self.group_size, self.group_size)
        xg = xg * torch.rsqrt(xg.pow(2).mean(-1, keepdim=True) + self.eps)
        return xg.reshape(shp) * self.weight


class Mamba2(nn.Module):
    """mamba2.Mamba2's parameters (same names, shapes, init; rmsnorm=True, d_ssm = d_inner)."""

    def __init__(self, cfg):
        super().__init__()
        d, n, k = cfg["dModel"], cfg["dState"], cfg["dConv"]
        di = cfg["expand"] * d
        self.d_inner, self.d_state, self.d_conv = di, n, k
        self.headdim, self.ngroups, self.chunk = cfg["headdim"], cfg["ngroups"], cfg["chunkSize"]
        self.nheads = di // self.headdim
        g, nh = self.ngroups, self.nheads
        self.in_proj = nn.Linear(d, 2 * di + 2 * g * n + nh, bias=cfg["bias"])
        conv_dim = di + 2 * g * n
        self.conv1d = nn.Conv1d(conv_dim, conv_dim, k, groups=conv_dim, padding=k - 1, bias=cfg["convBias"])
        self.dt_bias = nn.Parameter(dt_bias_init(nh))
        self.A_log = nn.Parameter(torch.log(torch.empty(nh).uniform_(1, 16)))
        self.D = nn.Parameter(torch.ones(di if cfg["DHasHdim"] else nh))
        self.norm = GatedRMSNorm(di, di // g)
        self.out_proj = nn.Linear(di, d, bias=cfg["bias"])

    def forward(self, u):
        b, l, _ = u.shape
        di, n, g, nh, p = self.d_inner, self.d_state, self.ngroups, self.nheads, self.headdim
        zxbcdt = self.in_proj(u)
        z, xBC, dt = torch.split(zxbcdt, [di, di + 2 * g * n, nh], dim=-1)
        conv_state = F.pad(xBC.transpose(1, 2), (self.d_conv - l, 0))
        xBC = F.silu(self.conv1d(xBC.transpose(1, 2))[..., :l].transpose(1, 2))
        x, B, C = torch.split(xBC, [di, g * n, g * n], dim=-1)
        dt = F.softplus(dt + self.dt_bias)  # b l h
        A = -torch.exp(self.A_log)
        X = x.reshape(b, l, nh, p)
        # B, C per head: head i reads group i // (nh / g), as the Triton kernels do.
        Bh = B.reshape(b, l, g, n).repeat_interleave(nh // g, dim=2)
        Ch = C.reshape(b, l, g, n).repeat_interleave(nh // g, dim=2)
        y, last = ssd_minimal_discrete(X * dt[..., None], A * dt, Bh, Ch, self.chunk)
        Dh = self.D.reshape(nh, p) if self.D.numel() == di else self.D[:, None]
        y = (y + X * Dh).reshape(b, l, di)
        return self.out_proj(self.norm(y, z)), conv_state, last


class Block(nn.Module):
    def __init__(self, mixer, d, eps):
        super().__init__()
        self.mixer = mixer
        self.norm = nn.Module()
        self.norm.weight = nn.Parameter(torch.ones(d))
        self.eps = eps


class MambaLM(nn.Module):
    """MambaLMHeadModel: backbone = MixerModel(embedding, layers, norm_f), lm_head tied to the embedding."""

    def __init__(self, cfg):
        super().__init__()
        v = cfg["vocabSize"]
        m = cfg["padVocabSizeMultiple"]
        v += (m - v % m) % m
        self.cfg = cfg
        self.backbone = nn.Module()
        self.backbone.embedding = nn.Embedding(v, cfg["dModel"])
        mixer = Mamba if cfg["kind"] == "mamba" else Mamba2
        self.backbone.layers = nn.ModuleList([Block(mixer(cfg), cfg["dModel"], cfg["rmsNormEps"]) for _ in range(cfg["nLayer"])])
        self.backbone.norm_f = nn.Module()
        self.backbone.norm_f.weight = nn.Parameter(torch.ones(cfg["dModel"]))
        # MixerModel._init_weights: embedding N(0, 0.02); out_proj kaiming-uniform(a=sqrt 5) / sqrt(n_layer)
        nn.init.normal_(self.backbone.embedding.weight, std=0.02)
        for blk in self.backbone.layers:
            for lin in (blk.mixer.in_proj, blk.mixer.out_proj):
                if lin.bias is not None:
                    nn.init.zeros_(lin.bias)
            nn.init.kaiming_uniform_(blk.mixer.out_proj.weight, a=math.sqrt(5))
            with torch.no_grad():
                blk.mixer.out_proj.weight /= math.sqrt(cfg["nLayer"])

    def forward(self, ids):
        eps = self.cfg["rmsNormEps"]
        hidden = self.backbone.embedding(ids)
        residual = None
        convs, ssms = [], []
        for blk in self.backbone.layers:
            residual = hidden + residual if residual is not None else hidden
            hidden, conv_state, ssm_state = blk.mixer(rms_norm(residual, blk.norm.weight, eps))
            convs.append(conv_state)
            ssms.append(ssm_state)
        residual = hidden + residual
        hidden = rms_norm(residual, self.backbone.norm_f.weight, eps)
        return hidden @ self.backbone.embedding.weight.t(), convs, ssms


# --------------------------------------------------------------------------- #
# the recurrent form (mamba_ssm's step), used by selfcheck.py in float64
# --------------------------------------------------------------------------- #

def step_forward(cfg, ins, p):
    """One token at a time, each layer's conv_state rolled and its ssm_state updated as mamba_ssm's
    Mamba.step / Mamba2.step do. Returns the outputs under the fixture's names."""
    eps, nl, k = cfg["rmsNormEps"], cfg["nLayer"], cfg["dConv"]
    ids = ins["tokens"].long()
    b, T = ids.shape
    E = p["backbone.embedding.weight"]
    d = E.shape[1]
    di = cfg["expand"] * d
    n = cfg["dState"]
    two = cfg["kind"] == "mamba2"
    if two:
        g, hd = cfg["ngroups"], cfg["headdim"]
        nh = di // hd
        conv_dim = di + 2 * g * n
        ssm = [torch.zeros(b, nh, hd, n) for _ in range(nl)]
    else:
        conv_dim = di
        ssm = [torch.zeros(b, di, n) for _ in range(nl)]
    conv = [torch.zeros(b, conv_dim, k) for _ in range(nl)]
    logits = []
    for t in range(T):
        r = E[ids[:, t]]
        for i in range(nl):
            m = "backbone.layers.%d.mixer." % i
            get = lambda key: p.get(m + key)  # noqa: E731
            u = rms_norm(r, p["backbone.layers.%d.norm.weight" % i], eps)
            proj = u @ get("in_proj.weight").t() + (get("in_proj.bias") if get("in_proj.bias") is not None else 0)
            if two:
                z, xBC, dt = torch.split(proj, [di, conv_dim, nh], dim=-1)
                xin = xBC
            else:
                xin, z = proj.chunk(2, dim=-1)
            conv[i] = torch.cat([conv[i][:, :, 1:], xin[:, :, None]], dim=2)  # roll, newest last
            w = get("conv1d.weight")[:, 0, :]
            xc = (conv[i] * w).sum(-1) + (get("conv1d.bias") if get("conv1d.bias") is not None else 0)
            xc = F.silu(xc)
            if two:
                x, B, C = torch.split(xc, [di, g * n, g * n], dim=-1)
                dl = F.softplus(dt + get("dt_bias"))  # b h
                A = -torch.exp(get("A_log"))
                xh = x.reshape(b, nh, hd)
                Bh = B.reshape(b, g, n).repeat_interleave(nh // g, dim=1)
                Ch = C.reshape(b, g, n).repeat_interleave(nh // g, dim=1)
                ssm[i] = ssm[i] * torch.exp(dl * A)[:, :, None, None] + (dl[:, :, None] * xh)[..., None] * Bh[:, :, None, :]
                y = (ssm[i] * Ch[:, :, None, :]).sum(-1)
                D = get("D")
                y = y + (D.reshape(nh, hd) if D.numel() == di else D[:, None]) * xh
                y = y.reshape(b, di) * F.silu(z)
                yg = y.reshape(b, g, di // g)
                y = (yg * torch.rsqrt(yg.pow(2).mean(-1, keepdim=True) + 1e-5)).reshape(b, di) * get("norm.weight")
            else:
                r_ = cfg["dtRank"]
                dbc = xc @ get("x_proj.weight").t()
                dt, B, C = torch.split(dbc, [r_, n, n], dim=-1)
                dl = F.softplus(dt @ get("dt_proj.weight").t() + get("dt_proj.bias"))  # b di
                A = -torch.exp(get("A_log"))
                ssm[i] = ssm[i] * torch.exp(dl[:, :, None] * A) + (dl * xc)[:, :, None] * B[:, None, :]
                y = (ssm[i] * C[:, None, :]).sum(-1) + get("D") * xc
                y = y * F.silu(z)
            out = y @ get("out_proj.weight").t() + (get("out_proj.bias") if get("out_proj.bias") is not None else 0)
            r = r + out
        logits.append(rms_norm(r, p["backbone.norm_f.weight"], eps) @ E.t())
    outs = {"logits": torch.stack(logits, 1)}
    for i in range(nl):
        outs["conv_state.%d" % i] = conv[i]
        outs["ssm_state.%d" % i] = ssm[i]
    return outs


# --------------------------------------------------------------------------- #

COMMON = {"rmsNormEps": 1e-5, "expand": 2, "batch": 2}

FIXTURES = {
    # Mamba-1, mamba_ssm's defaults at a tiny width: dt_rank = ceil(16/16) = 1, vocab 13 padded to 16.
    "mamba_tiny": dict(kind="mamba", dModel=16, nLayer=2, vocabSize=13, padVocabSizeMultiple=8, dState=4, dConv=4,
                       dtRank=1, bias=False, convBias=True, seqLen=6),
    # Mamba-1 with biases on in/out_proj, none on the conv, a wider Δ projection and a sequence shorter than d_conv.
    "mamba_bias_short": dict(kind="mamba", dModel=8, nLayer=1, vocabSize=7, padVocabSizeMultiple=1, dState=3, dConv=4,
                             dtRank=3, bias=True, convBias=False, seqLen=3),
    # Mamba-2, 2 heads, one group, chunks of 3 over 6 tokens (two chunks: the inter-chunk path runs).
    "mamba2_tiny": dict(kind="mamba2", dModel=16, nLayer=2, vocabSize=13, padVocabSizeMultiple=8, dState=4, dConv=4,
                        headdim=16, ngroups=1, chunkSize=3, DHasHdim=False, bias=False, convBias=True, seqLen=6),
    # Mamba-2, 4 heads in 2 groups, D per channel, biases, one chunk of 4.
    "mamba2_groups": dict(kind="mamba2", dModel=8, nLayer=1, vocabSize=9, padVocabSizeMultiple=1, dState=3, dConv=3,
                          headdim=4, ngroups=2, chunkSize=4, DHasHdim=True, bias=True, convBias=True, seqLen=4),
}


def make(name, spec):
    cfg = dict(COMMON, **spec)
    seed = seed_of(name)
    cfg["seed"] = seed
    torch.manual_seed(seed)
    model = MambaLM(cfg)
    with torch.no_grad():
        for pname, prm in model.named_parameters():
            # noise on every parameter (relative for the log-parametrised ones), so no value is special
            scale = 0.1 if pname.endswith(("A_log", "dt_proj.bias", "dt_bias")) else 0.2
            prm.add_(scale * torch.randn_like(prm))
            if pname.endswith(("dt_proj.bias", "dt_bias")):
                prm.add_(3.0)  # Δ ≈ softplus(bias) of order 1, so the states move visibly in a few steps
    v = model.backbone.embedding.weight.shape[0]
    tokens = torch.randint(0, cfg["vocabSize"], (cfg["batch"], cfg["seqLen"]))
    params = dict(model.named_parameters())

    def forward(ins, prm):
        logits, convs, ssms = model(ins["tokens"])
        out = {"logits": logits}
        for i, (c, s) in enumerate(zip(convs, ssms)):
            out["conv_state.%d" % i] = c
            out["ssm_state.%d" % i] = s
        return out

    # float64 cross-check of the two forms before writing (the recurrence vs the whole-sequence forms)
    with torch.no_grad():
        want = forward({"tokens": tokens}, params)
        got = step_forward(cfg, {"tokens": tokens}, {k: v.double() for k, v in params.items()})
        for key, val in want.items():
            err = (val.double() - got[key]).abs().max().item()
            assert err < 1e-4, (name, key, err)
    assert v == cfg["vocabSize"] + (-cfg["vocabSize"]) % cfg["padVocabSizeMultiple"]
    autograd_fixture(name, cfg, forward, {"tokens": tokens}, params, ["logits"],
                     description="tiny %s LM with random weights; see tools/golden/gen_mamba.py" % cfg["kind"])


def main():
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(1)
    for name, spec in FIXTURES.items():
        make(name, spec)
    print("wrote %d mamba fixtures" % len(FIXTURES))


if __name__ == "__main__":
    main()
