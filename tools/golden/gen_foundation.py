"""Golden fixtures for seqlab's foundation layer: Linear, LayerNorm, RMSNorm, Embedding,
cross-entropy, MSE, optimizers, gradient clipping and learning-rate schedules.

Run through tools/golden/gen_all.sh (needs /usr/bin/python3 with torch). Each fixture is
seeded with torch.manual_seed(seed_of(name)); see test/golden/README.md for the layout.
"""

import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import autograd_fixture, save_fixture, seed_of  # noqa: E402

torch.set_default_dtype(torch.float32)
torch.set_num_threads(1)


def begin(name):
    s = seed_of(name)
    torch.manual_seed(s)
    return s


# --------------------------------------------------------------------------- #
# Linear
# --------------------------------------------------------------------------- #

def gen_linear():
    for name, shape, bias in [
        ("linear_2d", (3, 5), True),
        ("linear_3d", (2, 3, 5), True),
        ("linear_nobias", (3, 5), False),
    ]:
        seed = begin(name)
        m = nn.Linear(5, 4, bias=bias)
        x = torch.randn(*shape)
        cfg = {"kind": "linear", "inFeatures": 5, "outFeatures": 4, "bias": bias, "seed": seed}
        autograd_fixture(name, cfg, lambda i, p, m=m: {"y": m(i["x"])}, {"x": x},
                         dict(m.named_parameters()), ["y"])


# --------------------------------------------------------------------------- #
# LayerNorm / RMSNorm
# --------------------------------------------------------------------------- #

def gen_layernorm():
    for name, shape, nshape in [
        ("layernorm", (2, 3, 6), [6]),
        ("layernorm_2d_shape", (2, 3, 6), [3, 6]),
    ]:
        seed = begin(name)
        m = nn.LayerNorm(nshape, eps=1e-5)
        with torch.no_grad():
            m.weight.copy_(1.0 + 0.5 * torch.randn(nshape))
            m.bias.copy_(0.5 * torch.randn(nshape))
        x = 2.0 * torch.randn(*shape) + 0.5
        cfg = {"kind": "layernorm", "normalizedShape": nshape, "eps": 1e-5,
               "elementwiseAffine": True, "seed": seed}
        autograd_fixture(name, cfg, lambda i, p, m=m: {"y": m(i["x"])}, {"x": x},
                         dict(m.named_parameters()), ["y"])


def rms_norm(x, weight, eps):
    # y = x * rsqrt(mean(x^2, -1) + eps) * weight   (== torch 2.4 nn.RMSNorm / F.rms_norm)
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def gen_rmsnorm():
    feps = torch.finfo(torch.float32).eps
    for name, eps, note in [
        ("rmsnorm_eps1e-5", 1e-5, "eps=1e-5"),
        ("rmsnorm_eps_default", feps,
         "eps=torch.finfo(float32).eps, what torch>=2.4 nn.RMSNorm uses when eps=None"),
    ]:
        seed = begin(name)
        w = nn.Parameter(1.0 + 0.5 * torch.randn(6))
        x = torch.randn(2, 3, 6)
        with torch.no_grad():
            x[1, 2] *= 1e-3  # a tiny row so that eps visibly matters
        cfg = {"kind": "rmsnorm", "normalizedShape": [6], "eps": eps, "elementwiseAffine": True,
               "seed": seed}
        autograd_fixture(name, cfg, lambda i, p, eps=eps: {"y": rms_norm(i["x"], p["weight"], eps)},
                         {"x": x}, {"weight": w}, ["y"], description=note)


# --------------------------------------------------------------------------- #
# Embedding
# --------------------------------------------------------------------------- #

def gen_embedding():
    name = "embedding"
    seed = begin(name)
    m = nn.Embedding(10, 4)
    idx = torch.tensor([[1, 2, 1], [3, 1, 9]])
    cfg = {"kind": "embedding", "numEmbeddings": 10, "embeddingDim": 4, "seed": seed}
    autograd_fixture(name, cfg, lambda i, p: {"y": m(i["indices"])}, {"indices": idx},
                     dict(m.named_parameters()), ["y"],
                     description="index 1 appears three times: its grad row accumulates three upstream rows")

    name = "embedding_padding_idx"
    seed = begin(name)
    m = nn.Embedding(10, 4, padding_idx=0)
    with torch.no_grad():
        # PyTorch zeroes the padding row at init; make it non-zero so the fixture shows that
        # forward still reads the stored row while backward never updates it.
        m.weight[0].copy_(torch.randn(4))
    idx = torch.tensor([[0, 2, 1], [3, 0, 0]])
    cfg = {"kind": "embedding", "numEmbeddings": 10, "embeddingDim": 4, "paddingIdx": 0, "seed": seed}
    autograd_fixture(name, cfg, lambda i, p: {"y": m(i["indices"])}, {"indices": idx},
                     dict(m.named_parameters()), ["y"],
                     description="padding row 0 set non-zero after init; forward returns it, its grad row is zero")


# --------------------------------------------------------------------------- #
# Losses
# --------------------------------------------------------------------------- #

def gen_cross_entropy():
    one = torch.tensor(1.0)

    name = "cross_entropy"
    seed = begin(name)
    logits = 2.0 * torch.randn(6, 5)
    targets = torch.randint(0, 5, (6,))
    cfg = {"kind": "cross_entropy", "numClasses": 5, "ignoreIndex": -100, "reduction": "mean",
           "classDim": "last", "seed": seed}
    autograd_fixture(name, cfg, lambda i, p: {"loss": F.cross_entropy(i["logits"], i["targets"])},
                     {"logits": logits, "targets": targets}, {}, {"loss": one})

    name = "cross_entropy_ignore_default"
    seed = begin(name)
    logits = 2.0 * torch.randn(6, 5)
    targets = torch.randint(0, 5, (6,))
    targets[1] = -100
    targets[4] = -100
    cfg = {"kind": "cross_entropy", "numClasses": 5, "ignoreIndex": -100, "reduction": "mean",
           "classDim": "last", "seed": seed}
    autograd_fixture(name, cfg, lambda i, p: {"loss": F.cross_entropy(i["logits"], i["targets"])},
                     {"logits": logits, "targets": targets}, {}, {"loss": one},
                     description="targets -100 at positions 1 and 4: mean over the 4 other rows")

    name = "cross_entropy_ignore_custom"
    seed = begin(name)
    logits = 2.0 * torch.randn(6, 5)
    targets = torch.tensor([0, 2, 4, 1, 2, 3])
    cfg = {"kind": "cross_entropy", "numClasses": 5, "ignoreIndex": 2, "reduction": "mean",
           "classDim": "last", "seed": seed}
    autograd_fixture(name, cfg,
                     lambda i, p: {"loss": F.cross_entropy(i["logits"], i["targets"], ignore_index=2)},
                     {"logits": logits, "targets": targets}, {}, {"loss": one},
                     description="class 2 ignored (positions 1 and 4)")

    name = "cross_entropy_3d"
    seed = begin(name)
    logits = 2.0 * torch.randn(2, 3, 5)
    targets = torch.randint(0, 5, (2, 3))
    cfg = {"kind": "cross_entropy", "numClasses": 5, "ignoreIndex": -100, "reduction": "mean",
           "classDim": "last", "seed": seed}
    autograd_fixture(name, cfg,
                     lambda i, p: {"loss": F.cross_entropy(i["logits"].reshape(-1, 5),
                                                           i["targets"].reshape(-1))},
                     {"logits": logits, "targets": targets}, {}, {"loss": one},
                     description="logits [N,T,C] with the class dim LAST (seqlab convention); computed as "
                                 "F.cross_entropy(logits.reshape(-1,C), targets.reshape(-1)). PyTorch's own "
                                 "F.cross_entropy on a 3-D input would treat dim 1 as the class dim.")


def gen_mse():
    name = "mse"
    seed = begin(name)
    pred = torch.randn(4, 3)
    target = torch.randn(4, 3)
    cfg = {"kind": "mse", "reduction": "mean", "seed": seed}
    autograd_fixture(name, cfg, lambda i, p: {"loss": F.mse_loss(i["pred"], i["target"])},
                     {"pred": pred, "target": target}, {}, {"loss": torch.tensor(1.0)})


# --------------------------------------------------------------------------- #
# Optimizers
# --------------------------------------------------------------------------- #

STEPS = 5


def run_optimizer(name, kind, make_opt, cfg):
    seed = begin(name)
    p = nn.Parameter(torch.randn(4, 3))
    q = nn.Parameter(torch.randn(5))
    t = {"param.p": p.detach().clone(), "param.q": q.detach().clone()}
    gp = [torch.randn(4, 3) for _ in range(STEPS)]
    gq = [torch.randn(5) for _ in range(STEPS)]
    opt = make_opt([p, q])
    for k in range(STEPS):
        p.grad = gp[k].clone()
        q.grad = gq[k].clone()
        opt.step()
        t["in.grad_p.%d" % k] = gp[k]
        t["in.grad_q.%d" % k] = gq[k]
        t["out.p.%d" % k] = p.detach().clone()
        t["out.q.%d" % k] = q.detach().clone()
    for pname, prm in (("p", p), ("q", q)):
        for sk, sv in opt.state[prm].items():
            if sk == "step" or sv is None:
                continue
            t["out.state.%s.%s" % (pname, sk)] = sv.detach().clone()
    cfg = dict(cfg)
    cfg.update({"kind": kind, "steps": STEPS, "params": ["p", "q"], "seed": seed})
    save_fixture(name, cfg, t)


def gen_optimizers():
    SGD, Adam, AdamW = torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW
    sgd_base = {"lr": 0.1, "momentum": 0.0, "dampening": 0.0, "nesterov": False, "weightDecay": 0.0}
    run_optimizer("optim_sgd", "sgd", lambda ps: SGD(ps, lr=0.1), sgd_base)
    run_optimizer("optim_sgd_momentum", "sgd", lambda ps: SGD(ps, lr=0.1, momentum=0.9),
                  dict(sgd_base, momentum=0.9))
    run_optimizer("optim_sgd_nesterov_wd", "sgd",
                  lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
                  dict(sgd_base, momentum=0.9, nesterov=True, weightDecay=0.01))
    run_optimizer("optim_sgd_dampening", "sgd",
                  lambda ps: SGD(ps, lr=0.1, momentum=0.9, dampening=0.1),
                  dict(sgd_base, momentum=0.9, dampening=0.1))

    def adam_cfg(**kw):
        c = {"lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-8, "weightDecay": 0.0, "amsgrad": False}
        c.update(kw)
        return c

    run_optimizer("optim_adam", "adam", lambda ps: Adam(ps, lr=1e-2), adam_cfg())
    run_optimizer("optim_adam_wd", "adam", lambda ps: Adam(ps, lr=1e-2, weight_decay=0.1),
                  adam_cfg(weightDecay=0.1))
    run_optimizer("optim_adam_amsgrad", "adam", lambda ps: Adam(ps, lr=1e-2, amsgrad=True),
                  adam_cfg(amsgrad=True))
    run_optimizer("optim_adamw", "adamw", lambda ps: AdamW(ps, lr=1e-2, weight_decay=0.1),
                  adam_cfg(weightDecay=0.1))
    run_optimizer("optim_adamw_betas", "adamw",
                  lambda ps: AdamW(ps, lr=1e-2, betas=(0.9, 0.95), eps=1e-6, weight_decay=0.1),
                  adam_cfg(weightDecay=0.1, betas=[0.9, 0.95], eps=1e-6))


# --------------------------------------------------------------------------- #
# Gradient clipping
# --------------------------------------------------------------------------- #

CLIP_SHAPES = [(3, 4), (5,), (2, 3)]


def clip_inputs(scale):
    params = []
    t = {}
    for i, s in enumerate(CLIP_SHAPES):
        prm = nn.Parameter(torch.randn(*s))
        prm.grad = scale * torch.randn(*s)
        t["in.grad.%d" % i] = prm.grad.clone()
        params.append(prm)
    return params, t


def gen_clip():
    for name, max_norm, norm_type, should_clip in [
        ("clip_grad_norm", 1.0, 2.0, True),
        ("clip_grad_norm_noclip", 100.0, 2.0, False),
        ("clip_grad_norm_inf", 1.0, float("inf"), True),
    ]:
        seed = begin(name)
        params, t = clip_inputs(1.0)
        total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
        assert (float(total) > max_norm) == should_clip, (name, float(total))
        t["out.total_norm"] = total.detach().clone()
        for i, prm in enumerate(params):
            t["out.grad.%d" % i] = prm.grad.clone()
        cfg = {"kind": "clip_grad_norm", "maxNorm": max_norm,
               "normType": "inf" if math.isinf(norm_type) else norm_type,
               "shapes": [list(s) for s in CLIP_SHAPES], "seed": seed}
        save_fixture(name, cfg, t, description="torch 1.13: coef = maxNorm/(total_norm+1e-6), clamped to <= 1, "
                                               "always multiplied in")

    name = "clip_grad_value"
    seed = begin(name)
    params, t = clip_inputs(0.1)
    torch.nn.utils.clip_grad_value_(params, 0.05)
    for i, prm in enumerate(params):
        t["out.grad.%d" % i] = prm.grad.clone()
    cfg = {"kind": "clip_grad_value", "clipValue": 0.05, "shapes": [list(s) for s in CLIP_SHAPES],
           "seed": seed}
    save_fixture(name, cfg, t)


# --------------------------------------------------------------------------- #
# LR schedules
# --------------------------------------------------------------------------- #

def nanogpt_get_lr(it, learning_rate, warmup_iters, lr_decay_iters, min_lr):
    """karpathy/nanoGPT train.py get_lr (current master):
        it <  warmup_iters            -> learning_rate * (it + 1) / (warmup_iters + 1)
        it >  lr_decay_iters          -> min_lr
        otherwise decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
                  coeff = 0.5 * (1 + cos(pi * decay_ratio))
                  lr = min_lr + coeff * (learning_rate - min_lr)
    (Older nanoGPT versions used learning_rate * it / warmup_iters for the warmup.)"""
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    if it > lr_decay_iters:
        return min_lr
    decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    assert 0 <= decay_ratio <= 1
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
    return min_lr + coeff * (learning_rate - min_lr)


def torch_schedule(make_sched, lr, steps):
    prm = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([prm], lr=lr)
    sched = make_sched(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        prm.grad = torch.zeros(1)
        opt.step()
        sched.step()
    return torch.tensor(lrs, dtype=torch.float64)


def gen_lr():
    name = "lr_steplr"
    seed = begin(name)
    lrs = torch_schedule(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 0.1, 10)
    save_fixture(name, {"kind": "step_lr", "lr": 0.1, "stepSize": 3, "gamma": 0.5, "steps": 10,
                        "seed": seed}, {"out.lr": lrs})

    name = "lr_cosine"
    seed = begin(name)
    lrs = torch_schedule(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
                         0.1, 11)
    save_fixture(name, {"kind": "cosine_annealing_lr", "lr": 0.1, "tMax": 10, "etaMin": 0.001, "steps": 11,
                        "seed": seed}, {"out.lr": lrs},
                 description="lr at steps 0..10; step 10 = etaMin. (PyTorch keeps going periodically past T_max.)")

    name = "lr_nanogpt"
    seed = begin(name)
    cfg = {"kind": "nanogpt_lr", "lr": 1e-3, "minLr": 1e-4, "warmupIters": 3, "lrDecayIters": 10,
           "steps": 13, "seed": seed,
           "formula": "it<warmupIters: lr*(it+1)/(warmupIters+1); it>lrDecayIters: minLr; else "
                      "minLr + 0.5*(1+cos(pi*(it-warmupIters)/(lrDecayIters-warmupIters)))*(lr-minLr)"}
    lrs = [nanogpt_get_lr(it, 1e-3, 3, 10, 1e-4) for it in range(13)]
    save_fixture(name, cfg, {"out.lr": torch.tensor(lrs, dtype=torch.float64)})


def main():
    gen_linear()
    gen_layernorm()
    gen_rmsnorm()
    gen_embedding()
    gen_cross_entropy()
    gen_mse()
    gen_optimizers()
    gen_clip()
    gen_lr()
    print("foundation fixtures written")


if __name__ == "__main__":
    main()
