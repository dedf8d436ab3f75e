"""Golden fixtures for seqlab's recurrent layers: RNN (tanh/relu), LSTM (with and without
projection), GRU (PyTorch's reset-after form and the hand-written reset-before form),
variable-length (packed) batches, the *Cell modules, and a short char-LM training
trajectory (Embedding -> 2-layer LSTM -> Linear, Adam + clip_grad_norm_).

Run through tools/golden/gen_all.sh. Each fixture is seeded with
torch.manual_seed(seed_of(name)); layouts are described in test/golden/README.md.
"""

import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import autograd_fixture, save_fixture, seed_of  # noqa: E402

torch.set_default_dtype(torch.float32)
torch.set_num_threads(1)

T, N, I, H, P = 5, 3, 4, 5, 3  # seq len, batch, input size, hidden size, LSTM proj size


def begin(name):
    s = seed_of(name)
    torch.manual_seed(s)
    return s


# family name -> (kind, extra constructor kwargs, extra config)
FAMILIES = {
    "rnn_tanh": ("rnn", {"nonlinearity": "tanh"}, {"nonlinearity": "tanh"}),
    "rnn_relu": ("rnn", {"nonlinearity": "relu"}, {"nonlinearity": "relu"}),
    "lstm": ("lstm", {}, {"projSize": 0}),
    "lstm_proj": ("lstm", {"proj_size": P}, {"projSize": P}),
    "gru": ("gru", {}, {"resetAfter": True}),
}

# variant name -> (numLayers, bidirectional, batchFirst, bias)
VARIANTS = {
    "1layer": (1, False, False, True),
    "2layer": (2, False, False, True),
    "bidir": (1, True, False, True),
    "2layer_bidir_bf": (2, True, True, True),
    "nobias": (1, False, False, False),
}


def build(kind, kwargs, num_layers, bidir, batch_first, bias):
    cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
    return cls(I, H, num_layers=num_layers, bias=bias, batch_first=batch_first,
               bidirectional=bidir, **kwargs)


def base_config(kind, extra, num_layers, bidir, batch_first, bias, seed):
    cfg = {"kind": kind, "inputSize": I, "hiddenSize": H, "numLayers": num_layers,
           "bidirectional": bidir, "batchFirst": batch_first, "bias": bias, "dropout": 0.0,
           "seqLen": T, "batchSize": N, "seed": seed}
    cfg.update(extra)
    return cfg


def initial_states(kind, m):
    D = 2 if m.bidirectional else 1
    h_size = m.proj_size if (kind == "lstm" and m.proj_size > 0) else m.hidden_size
    st = {"h0": torch.randn(m.num_layers * D, N, h_size)}
    if kind == "lstm":
        st["c0"] = torch.randn(m.num_layers * D, N, m.hidden_size)
    return st


def run_module(kind, m, x, ins):
    if kind == "lstm":
        y, (h_n, c_n) = m(x, (ins["h0"], ins["c0"]))
        return {"y": y, "h_n": h_n, "c_n": c_n}
    y, h_n = m(x, ins["h0"])
    return {"y": y, "h_n": h_n}


# --------------------------------------------------------------------------- #
# full-sequence layers
# --------------------------------------------------------------------------- #

def gen_layers():
    for fam, (kind, kwargs, extra) in FAMILIES.items():
        for var, (L, bidir, bf, bias) in VARIANTS.items():
            name = "%s_%s" % (fam, var)
            seed = begin(name)
            m = build(kind, kwargs, L, bidir, bf, bias)
            x = torch.randn(N, T, I) if bf else torch.randn(T, N, I)
            inputs = {"x": x}
            inputs.update(initial_states(kind, m))
            cfg = base_config(kind, extra, L, bidir, bf, bias, seed)

            def fwd(i, p, m=m, kind=kind):
                return run_module(kind, m, i["x"], i)

            outs = ["y", "h_n", "c_n"] if kind == "lstm" else ["y", "h_n"]
            autograd_fixture(name, cfg, fwd, inputs, dict(m.named_parameters()), outs)


# --------------------------------------------------------------------------- #
# variable lengths (packed sequences)
# --------------------------------------------------------------------------- #

def gen_varlen():
    fams = {"lstm": FAMILIES["lstm"], "gru": FAMILIES["gru"], "rnn_tanh": FAMILIES["rnn_tanh"]}
    variants = {"bidir": (1, True), "2layer": (2, False)}
    lens = {"sorted": [5, 3, 1], "unsorted": [2, 5, 4]}
    for fam, (kind, kwargs, extra) in fams.items():
        for var, (L, bidir) in variants.items():
            for lk, lengths in lens.items():
                name = "%s_varlen_%s_%s" % (fam, var, lk)
                seed = begin(name)
                m = build(kind, kwargs, L, bidir, False, True)
                x = torch.randn(T, N, I)  # values past each length are garbage that must be ignored
                inputs = {"x": x, "lengths": torch.tensor(lengths, dtype=torch.int64)}
                inputs.update(initial_states(kind, m))
                enforce_sorted = lk == "sorted"
                cfg = base_config(kind, extra, L, bidir, False, True, seed)
                cfg.update({"lengths": lengths, "enforceSorted": enforce_sorted})

                def fwd(i, p, m=m, kind=kind, enforce_sorted=enforce_sorted):
                    packed = pack_padded_sequence(i["x"], i["lengths"], enforce_sorted=enforce_sorted)
                    o = run_module(kind, m, packed, i)
                    y, _ = pad_packed_sequence(o["y"], total_length=T)
                    o["y"] = y
                    return o

                outs = ["y", "h_n", "c_n"] if kind == "lstm" else ["y", "h_n"]
                autograd_fixture(name, cfg, fwd, inputs, dict(m.named_parameters()), outs,
                                 description="pack_padded_sequence(enforce_sorted=%s) + pad_packed_sequence"
                                             "(total_length=%d)" % (enforce_sorted, T))


# --------------------------------------------------------------------------- #
# cells
# --------------------------------------------------------------------------- #

def gen_cells():
    cells = {
        "rnn_cell_tanh": ("rnn_cell", lambda: nn.RNNCell(I, H, nonlinearity="tanh"), {"nonlinearity": "tanh"}),
        "rnn_cell_relu": ("rnn_cell", lambda: nn.RNNCell(I, H, nonlinearity="relu"), {"nonlinearity": "relu"}),
        "lstm_cell": ("lstm_cell", lambda: nn.LSTMCell(I, H), {}),
        "gru_cell": ("gru_cell", lambda: nn.GRUCell(I, H), {}),
    }
    for base, (kind, ctor, extra) in cells.items():
        for loop in (False, True):
            if loop and base == "rnn_cell_relu":
                continue
            name = base + ("_loop" if loop else "")
            seed = begin(name)
            c = ctor()
            steps = 4
            x = torch.randn(steps, N, I) if loop else torch.randn(N, I)
            inputs = {"x": x, "h0": torch.randn(N, H)}
            if kind == "lstm_cell":
                inputs["c0"] = torch.randn(N, H)
            cfg = {"kind": kind, "inputSize": I, "hiddenSize": H, "bias": True, "batchSize": N,
                   "loop": loop, "seed": seed}
            if loop:
                cfg["steps"] = steps
            cfg.update(extra)

            def fwd(i, p, c=c, kind=kind, loop=loop):
                h = i["h0"]
                cs = i.get("c0")
                xs = i["x"] if loop else i["x"].unsqueeze(0)
                hs = []
                for t in range(xs.shape[0]):
                    if kind == "lstm_cell":
                        h, cs = c(xs[t], (h, cs))
                    else:
                        h = c(xs[t], h)
                    hs.append(h)
                if loop:
                    o = {"y": torch.stack(hs)}
                    if kind == "lstm_cell":
                        o["c_n"] = cs
                else:
                    o = {"h": h}
                    if kind == "lstm_cell":
                        o["c"] = cs
                return o

            if loop:
                outs = ["y", "c_n"] if kind == "lstm_cell" else ["y"]
            else:
                outs = ["h", "c"] if kind == "lstm_cell" else ["h"]
            autograd_fixture(name, cfg, fwd, inputs, dict(c.named_parameters()), outs)


# --------------------------------------------------------------------------- #
# GRU, hand-written (both reset forms)
# --------------------------------------------------------------------------- #

def gru_manual(x, h0, params, num_layers, bidir, reset_after):
    """Multi-layer (bi)GRU with PyTorch's parameter names/layout (rows r, z, n).

    reset_after=True : n = tanh(W_in x + b_in + r * (W_hn h + b_hn))   (PyTorch, ONNX lbr=1)
    reset_after=False: n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)   (ONNX lbr=0, Keras reset_after=False)
    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr); z likewise; h' = (1 - z) * n + z * h.
    """
    steps = x.shape[0]
    D = 2 if bidir else 1
    layer_in = x
    h_n = []
    for layer in range(num_layers):
        dir_outs = []
        for d in range(D):
            sfx = "_l%d%s" % (layer, "_reverse" if d else "")
            w_ih, w_hh = params["weight_ih" + sfx], params["weight_hh" + sfx]
            b_ih, b_hh = params["bias_ih" + sfx], params["bias_hh" + sfx]
            w_hr, w_hz, w_hn = w_hh.chunk(3, 0)
            b_hr, b_hz, b_hn = b_hh.chunk(3, 0)
            h = h0[layer * D + d]
            ys = [None] * steps
            order = range(steps) if d == 0 else range(steps - 1, -1, -1)
            for t in order:
                gi = layer_in[t] @ w_ih.t() + b_ih
                i_r, i_z, i_n = gi.chunk(3, 1)
                r = torch.sigmoid(i_r + h @ w_hr.t() + b_hr)
                z = torch.sigmoid(i_z + h @ w_hz.t() + b_hz)
                if reset_after:
                    n = torch.tanh(i_n + r * (h @ w_hn.t() + b_hn))
                else:
                    n = torch.tanh(i_n + (r * h) @ w_hn.t() + b_hn)
                h = (1 - z) * n + z * h
                ys[t] = h
            dir_outs.append(torch.stack(ys))
            h_n.append(h)
        layer_in = torch.cat(dir_outs, -1)
    return layer_in, torch.stack(h_n)


def gen_gru_reset_before():
    for name, L, bidir in [("gru_reset_before_1layer", 1, False),
                           ("gru_reset_before_2layer_bidir", 2, True)]:
        seed = begin(name)
        m = nn.GRU(I, H, num_layers=L, bidirectional=bidir)  # only used for PyTorch's init + names
        x = torch.randn(T, N, I)
        h0 = torch.randn(L * (2 if bidir else 1), N, H)
        params = dict(m.named_parameters())
        # sanity: the hand-written reset-after form reproduces nn.GRU
        with torch.no_grad():
            y_ref, h_ref = m(x, h0)
            y_man, h_man = gru_manual(x, h0, params, L, bidir, reset_after=True)
            err = max((y_ref - y_man).abs().max().item(), (h_ref - h_man).abs().max().item())
            assert err < 1e-5, (name, err)
        cfg = base_config("gru", {"resetAfter": False}, L, bidir, False, True, seed)

        def fwd(i, p, L=L, bidir=bidir):
            y, h_n = gru_manual(i["x"], i["h0"], p, L, bidir, reset_after=False)
            return {"y": y, "h_n": h_n}

        autograd_fixture(name, cfg, fwd, {"x": x, "h0": h0}, params, ["y", "h_n"],
                         description="reset-before GRU (ONNX linear_before_reset=0, Keras reset_after=False), "
                                     "hand-written in torch: n = tanh(W_in x + b_in + W_hn (r*h) + b_hn)")


# --------------------------------------------------------------------------- #
# char-LM training trajectory
# --------------------------------------------------------------------------- #

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak."


class CharLM(nn.Module):
    """Embedding(V,16) -> LSTM(16,32,num_layers=2) -> Linear(32,V).

    Takes batch-first tokens [N, T]; the LSTM runs sequence-first (batch_first=False), so the
    embedded [N, T, 16] is transposed to [T, N, 16] and the LSTM output back to [N, T, 32]
    before the head. Logits are [N, T, V]."""

    def __init__(self, vocab):
        super().__init__()
        self.emb = nn.Embedding(vocab, 16)
        self.lstm = nn.LSTM(16, 32, num_layers=2)
        self.head = nn.Linear(32, vocab)

    def forward(self, tokens):
        e = self.emb(tokens).transpose(0, 1)
        o, _ = self.lstm(e)
        return self.head(o.transpose(0, 1))


def gen_char_lm(name, clip):
    seed = begin(name)
    vocab = "".join(sorted(set(TEXT)))
    V = len(vocab)
    ids = torch.tensor([vocab.index(ch) for ch in TEXT])
    offsets, seq_len, steps = [0, 13, 26, 39], 12, 10
    tokens = torch.stack([ids[o:o + seq_len] for o in offsets])
    targets = torch.stack([ids[o + 1:o + 1 + seq_len] for o in offsets])
    model = CharLM(V)
    t = {"in.tokens": tokens, "in.targets": targets}
    for k, v in model.state_dict().items():
        t["param." + k] = v.clone()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses, norms = [], []
    for _ in range(steps):
        opt.zero_grad()
        logits = model(tokens)
        loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
        loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), clip).item())
        losses.append(loss.item())
        opt.step()
    with torch.no_grad():
        final_loss = F.cross_entropy(model(tokens).reshape(-1, V), targets.reshape(-1))
    t["out.losses"] = torch.tensor(losses)
    t["out.grad_norms"] = torch.tensor(norms)
    t["out.final_loss"] = final_loss
    for k, v in model.state_dict().items():
        t["out.final." + k] = v.clone()
    cfg = {"kind": "char_lm", "text": TEXT, "vocab": vocab, "vocabSize": V, "embeddingDim": 16,
           "cell": "lstm", "hiddenSize": 32, "numLayers": 2, "offsets": offsets, "seqLen": seq_len,
           "batchSize": len(offsets), "steps": steps, "optimizer": "adam", "lr": 1e-2,
           "betas": [0.9, 0.999], "eps": 1e-8, "weightDecay": 0.0, "clipGradNorm": clip, "seed": seed,
           "paramOrder": list(model.state_dict().keys()),
           "description": "Embedding(V,16) -> LSTM(16,32,2 layers, seq-first inside) -> Linear(32,V). tokens/"
                          "targets are batch-first [N,T] (targets = next character); the model transposes to "
                          "[T,N,16] for the LSTM and back to [N,T,32] for the head. Each step: zero grads, "
                          "loss = F.cross_entropy(logits.reshape(-1,V), targets.reshape(-1)) (mean), backward, "
                          "clip_grad_norm_(all params, clipGradNorm) (out.grad_norms = the returned pre-clip norm), "
                          "Adam step. out.losses[k] = loss before step k; out.final_loss = loss after the "
                          "last step; out.final.<name> = parameters after 10 steps. Zero initial LSTM state."}
    save_fixture(name, cfg, t)


def main():
    gen_layers()
    gen_varlen()
    gen_cells()
    gen_gru_reset_before()
    # with maxNorm 1.0 the gradient norms of this tiny model stay below 1 (clipping is a no-op), so a
    # second trajectory uses maxNorm 0.2, where clipping is active on most steps.
    gen_char_lm("char_lm_trajectory", 1.0)
    gen_char_lm("char_lm_trajectory_clipped", 0.2)
    print("recurrent fixtures written")


if __name__ == "__main__":
    main()
