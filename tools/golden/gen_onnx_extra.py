"""Extra ONNX RNN/GRU/LSTM node cases for what the upstream backend tests do not cover.

Writes test/golden/onnx/<case>/case.json (the JSON twin format of /work/shared/conformance/onnx, plus
`description`, `reference` and `checks` fields) and test/golden/onnx/README.md.

    /usr/bin/python3 tools/golden/gen_onnx_extra.py

Needs Debian's python3 with python3-onnx (1.12), python3-numpy and python3-torch (1.13). Deterministic:
re-running rewrites byte-identical files.

Every expected output comes from one of three independent references, named per output in the case's
`reference` field:

- `onnx-helper`: ONNX's own numpy reference helpers RNN_Helper / GRU_Helper / LSTM_Helper from
  onnx.backend.test.case.node.{rnn,gru,lstm} (ONNX 1.12). They handle one forward direction, layout 0,
  B, initial_h, initial_c, P and GRU linear_before_reset, and return Y and Y_h (not Y_c). For
  non-default activations, a subclass replaces their f/g/h methods and nothing else.
- `torch`: PyTorch 1.13 nn.RNN / nn.GRU / nn.LSTM in float64 with the ONNX gate blocks reordered here
  (LSTM iofc -> ifgo, GRU zrh -> rzn); ragged batches go through pack_padded_sequence /
  pad_packed_sequence. Only for default activations (RNN: Tanh or Relu), no clip, no peepholes, no
  input_forget and GRU linear_before_reset=1.
- `numpy-spec`: the float64 implementation of the ONNX operator text in this file (spec_ref below), for
  everything else (bidirectional/reverse with other features, sequence_lens with GRU
  linear_before_reset=0, clip, input_forget, activation parameters).

Every case is computed by all references that support it; they must agree within 1e-9 (all three run in
float64), and the differences are recorded in `checks`.
"""

import hashlib
import json
import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper
from onnx.backend.test.case.node.gru import GRU_Helper
from onnx.backend.test.case.node.lstm import LSTM_Helper
from onnx.backend.test.case.node.rnn import RNN_Helper
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "test", "golden", "onnx")
GEN = "tools/golden/gen_onnx_extra.py"
OPSET = 14
AGREE = 1e-9

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
DEFAULT_ACTS = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}
INPUT_ORDER = ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"]
OUTPUT_ORDER = ["Y", "Y_h", "Y_c"]

torch.set_num_threads(1)

# ----------------------------------------------------------------------------- activations (ONNX text)

# name -> (function of x, alpha, beta; alpha default or None; beta default or None). None = not taken.
# Defaults: those of the ONNX operators of the same name (LeakyRelu, ThresholdedRelu, HardSigmoid, Elu)
# and of the former experimental Affine; ScaledTanh has none.
ACTS = {
    "relu": (lambda x, a, b: np.maximum(x, 0.0), None, None),
    "tanh": (lambda x, a, b: np.tanh(x), None, None),
    "sigmoid": (lambda x, a, b: 1.0 / (1.0 + np.exp(-x)), None, None),
    "affine": (lambda x, a, b: a * x + b, 1.0, 0.0),
    "leakyrelu": (lambda x, a, b: np.where(x >= 0, x, a * x), float(np.float32(0.01)), None),
    "thresholdedrelu": (lambda x, a, b: np.where(x >= a, x, 0.0), 1.0, None),
    "scaledtanh": (lambda x, a, b: a * np.tanh(b * x), "required", "required"),
    "hardsigmoid": (lambda x, a, b: np.minimum(np.maximum(a * x + b, 0.0), 1.0), float(np.float32(0.2)), 0.5),
    "elu": (lambda x, a, b: np.where(x >= 0, x, a * (np.exp(np.minimum(x, 0.0)) - 1.0)), 1.0, None),
    "softsign": (lambda x, a, b: x / (1.0 + np.abs(x)), None, None),
    "softplus": (lambda x, a, b: np.log1p(np.exp(x)), None, None),
}


def resolve_activations(names, alphas, betas, positional=False):
    """[(fn, alpha, beta)] for each name. Values are consumed in order by the activations that take
    them (positional=False, as ONNX Runtime), or read at the activation's own index (positional=True,
    the other reading of the spec); cases are built so that both give the same parameters."""
    out, ai, bi = [], 0, 0
    for k, name in enumerate(names):
        fn, ad, bd = ACTS[name.lower()]
        a = b = 0.0
        if ad is not None:
            idx = k if positional else ai
            ai += 1
            a = alphas[idx] if idx < len(alphas) else ad
        if bd is not None:
            idx = k if positional else bi
            bi += 1
            b = betas[idx] if idx < len(betas) else bd
        assert a != "required" and b != "required", "ScaledTanh needs explicit alpha and beta"
        out.append((fn, float(a), float(b)))
    return out


# ----------------------------------------------------------------------------- numpy spec reference


def spec_ref(op, attrs, inp, clip_h=True):
    """The ONNX operator text in float64: returns dict Y, Y_h, (Y_c). clip_h=False is ONNX Runtime's
    reading of clip for the LSTM (h's input C_t not clipped), used only for a note in the README."""
    G = GATES[op]
    H = attrs["hidden_size"]
    direction = attrs.get("direction", "forward")
    D = 2 if direction == "bidirectional" else 1
    layout = attrs.get("layout", 0)
    clip = attrs.get("clip")
    lbr = attrs.get("linear_before_reset", 0)
    input_forget = attrs.get("input_forget", 0)
    n_act = len(DEFAULT_ACTS[op])
    acts = resolve_activations(expand_activations(op, attrs), attrs.get("activation_alpha", []), attrs.get("activation_beta", []))

    X = inp["X"].astype(np.float64)
    if layout == 1:
        X = X.transpose(1, 0, 2)
    T, N, _ = X.shape
    W, R = inp["W"].astype(np.float64), inp["R"].astype(np.float64)
    B = inp["B"].astype(np.float64) if "B" in inp else np.zeros((D, 2 * G * H))
    P = inp["P"].astype(np.float64) if "P" in inp else np.zeros((D, 3 * H))

    def state(name):
        if name not in inp:
            return np.zeros((D, N, H))
        s = inp[name].astype(np.float64)
        return s.transpose(1, 0, 2) if layout == 1 else s

    H0, C0 = state("initial_h"), state("initial_c")
    lens = np.asarray(inp["sequence_lens"]) if "sequence_lens" in inp else np.full(N, T)
    cl = (lambda v: np.clip(v, -clip, clip)) if clip is not None else (lambda v: v)

    Y = np.zeros((T, D, N, H))
    Yh = np.zeros((D, N, H))
    Yc = np.zeros((D, N, H))
    for d in range(D):
        f, g, hh = [(lambda v, a=a, k=k: a[0](cl(v) if (clip_h or k < 2) else v, a[1], a[2]))
                    for k, a in enumerate(acts[d * n_act:(d + 1) * n_act])] + [None] * (3 - n_act)
        reverse = direction == "reverse" or d == 1
        Wd, Rd = W[d], R[d]
        Wb, Rb = B[d, :G * H], B[d, G * H:]
        h, c = H0[d].copy(), C0[d].copy()
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            x = X[t]
            if op == "RNN":
                hn = f(x @ Wd.T + h @ Rd.T + Wb + Rb)
                cn = c
            elif op == "GRU":
                Wz, Wr, Wh = np.split(Wd, 3)
                Rz, Rr, Rh = np.split(Rd, 3)
                wbz, wbr, wbh = np.split(Wb, 3)
                rbz, rbr, rbh = np.split(Rb, 3)
                z = f(x @ Wz.T + h @ Rz.T + wbz + rbz)
                r = f(x @ Wr.T + h @ Rr.T + wbr + rbr)
                if lbr:
                    ht = g(x @ Wh.T + r * (h @ Rh.T + rbh) + wbh)
                else:
                    ht = g(x @ Wh.T + (r * h) @ Rh.T + rbh + wbh)
                hn = (1 - z) * ht + z * h
                cn = c
            else:
                Wi, Wo, Wf, Wc = np.split(Wd, 4)
                Ri, Ro, Rf, Rc = np.split(Rd, 4)
                wbi, wbo, wbf, wbc = np.split(Wb, 4)
                rbi, rbo, rbf, rbc = np.split(Rb, 4)
                pi, po, pf = np.split(P[d], 3)
                i = f(x @ Wi.T + h @ Ri.T + pi * c + wbi + rbi)
                if input_forget:
                    fg = 1 - i
                else:
                    fg = f(x @ Wf.T + h @ Rf.T + pf * c + wbf + rbf)
                ct = g(x @ Wc.T + h @ Rc.T + wbc + rbc)
                cn = fg * c + i * ct
                o = f(x @ Wo.T + h @ Ro.T + po * cn + wbo + rbo)
                hn = o * hh(cn)
            on = (t < lens)[:, None]
            Y[t, d] = np.where(on, hn, 0.0)
            h = np.where(on, hn, h)
            c = np.where(on, cn, c)
        Yh[d], Yc[d] = h, c
    if layout == 1:
        Y = Y.transpose(2, 0, 1, 3)
        Yh, Yc = Yh.transpose(1, 0, 2), Yc.transpose(1, 0, 2)
    out = {"Y": Y, "Y_h": Yh}
    if op == "LSTM":
        out["Y_c"] = Yc
    return out


# ----------------------------------------------------------------------------- ONNX's helpers


def expand_activations(op, attrs):
    """Activation names for every direction (a bidirectional node may list one direction's only)."""
    D = 2 if attrs.get("direction", "forward") == "bidirectional" else 1
    names = attrs.get("activations", DEFAULT_ACTS[op] * D)
    return names * 2 if D == 2 and len(names) == len(DEFAULT_ACTS[op]) else names


def helper_ref(op, attrs, inp):
    """Y, Y_h from ONNX's numpy helpers, or None (input_forget). The helpers run one forward direction of
    full-length sequences, so they are called once per direction and sequence: on X[:len] (flipped in
    time for the reverse direction, and the result flipped back), with that sequence's initial state.
    Activations (and clip, which bounds every activation's input) replace the f/g/h methods."""
    if attrs.get("input_forget", 0):
        return None
    H = attrs["hidden_size"]
    D = 2 if attrs.get("direction", "forward") == "bidirectional" else 1
    layout = attrs.get("layout", 0)
    clip = attrs.get("clip")
    n_act = len(DEFAULT_ACTS[op])
    acts = resolve_activations(expand_activations(op, attrs), attrs.get("activation_alpha", []), attrs.get("activation_beta", []))
    base = {"RNN": RNN_Helper, "GRU": GRU_Helper, "LSTM": LSTM_Helper}[op]
    X = inp["X"].astype(np.float64)
    if layout == 1:
        X = X.transpose(1, 0, 2)
    T, N, _ = X.shape
    lens = np.asarray(inp["sequence_lens"]) if "sequence_lens" in inp else np.full(N, T)

    def state(name):
        s = inp[name].astype(np.float64)
        return s.transpose(1, 0, 2) if layout == 1 else s

    Y, Yh = np.zeros((T, D, N, H)), np.zeros((D, N, H))
    for d in range(D):
        reverse = attrs.get("direction", "forward") == "reverse" or d == 1

        class Helper(base):  # only the activation methods differ from ONNX's class
            pass

        for name, a in zip(["f", "g", "h"], acts[d * n_act:(d + 1) * n_act]):
            fn = (lambda x, a=a: a[0](np.clip(x, -clip, clip), a[1], a[2])) if clip is not None else (lambda x, a=a: a[0](x, a[1], a[2]))
            setattr(Helper, name, lambda self, x, fn=fn: fn(x))
        for n in range(N):
            L = int(lens[n])
            if L == 0:
                Yh[d, n] = state("initial_h")[d, n] if "initial_h" in inp else 0.0
                continue
            xs = X[:L, n:n + 1]
            params = {"X": xs[::-1].copy() if reverse else xs}
            for k in ("W", "R", "B", "P"):
                if k in inp:
                    params[k] = inp[k][d:d + 1].astype(np.float64)
            for k in ("initial_h", "initial_c"):
                if k in inp:
                    params[k] = state(k)[d:d + 1, n:n + 1]
            if op == "GRU" and attrs.get("linear_before_reset", 0):
                params["linear_before_reset"] = np.array([1])
            y, yh = Helper(**params).step()  # y [L, 1, 1, H], yh [1, 1, H]
            y = y[:, 0, 0]
            Y[:L, d, n] = y[::-1] if reverse else y
            Yh[d, n] = yh[0, 0]
    if layout == 1:
        Y, Yh = Y.transpose(2, 0, 1, 3), Yh.transpose(1, 0, 2)
    return {"Y": Y, "Y_h": Yh}


# ----------------------------------------------------------------------------- PyTorch


TORCH_FROM_ONNX = {"RNN": [0], "GRU": [1, 0, 2], "LSTM": [0, 2, 3, 1]}


def reorder(a, op):
    blocks = np.split(a, GATES[op], axis=0)
    return np.concatenate([blocks[k] for k in TORCH_FROM_ONNX[op]], axis=0)


def torch_ref(op, attrs, inp):
    """Y, Y_h, (Y_c) from torch.nn in float64, or None when PyTorch has no such cell."""
    names = [n.lower() for n in attrs.get("activations", DEFAULT_ACTS[op])]
    if "clip" in attrs or attrs.get("input_forget", 0) or "P" in inp:
        return None
    if op == "GRU" and not attrs.get("linear_before_reset", 0):
        return None
    if op == "RNN":
        if len(set(names)) != 1 or names[0] not in ("tanh", "relu"):
            return None
    elif names not in ([n.lower() for n in DEFAULT_ACTS[op]], [n.lower() for n in DEFAULT_ACTS[op]] * 2):
        return None
    H = attrs["hidden_size"]
    direction = attrs.get("direction", "forward")
    layout = attrs.get("layout", 0)
    G = GATES[op]
    W, R = inp["W"].astype(np.float64), inp["R"].astype(np.float64)
    Dn = W.shape[0]
    I = W.shape[2]
    bidir = direction != "forward"  # reverse: a bidirectional module, keep its backward half
    kw = dict(bias=True, batch_first=layout == 1, bidirectional=bidir)
    if op == "RNN":
        m = torch.nn.RNN(I, H, nonlinearity=names[0], **kw)
    else:
        m = {"GRU": torch.nn.GRU, "LSTM": torch.nn.LSTM}[op](I, H, **kw)
    m = m.double()
    B = inp["B"].astype(np.float64) if "B" in inp else np.zeros((Dn, 2 * G * H))
    dirs = [(0, "")] if direction == "forward" else [(0, "_reverse")] if direction == "reverse" else [(0, ""), (1, "_reverse")]
    sd = {}
    for d, suffix in dirs:
        sd["weight_ih_l0" + suffix] = reorder(W[d], op)
        sd["weight_hh_l0" + suffix] = reorder(R[d], op)
        sd["bias_ih_l0" + suffix] = reorder(B[d, :G * H], op)
        sd["bias_hh_l0" + suffix] = reorder(B[d, G * H:], op)
    if direction == "reverse":  # the unused forward half: zeros
        for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            sd[k] = np.zeros_like(sd[k + "_reverse"])
    m.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()})

    X = torch.from_numpy(inp["X"].astype(np.float64))
    N = X.shape[1] if layout == 0 else X.shape[0]
    T = X.shape[0] if layout == 0 else X.shape[1]
    Dt = 2 if bidir else 1

    def state(name):
        if name not in inp:
            return torch.zeros(Dt, N, H, dtype=torch.float64)
        s = torch.from_numpy(inp[name].astype(np.float64))
        if layout == 1:
            s = s.transpose(0, 1)
        if direction == "reverse":
            s = torch.cat([torch.zeros_like(s), s], 0)
        return s.contiguous()

    hx = (state("initial_h"), state("initial_c")) if op == "LSTM" else state("initial_h")
    if "sequence_lens" in inp:
        lens = torch.tensor(np.asarray(inp["sequence_lens"]), dtype=torch.int64)
        packed = pack_padded_sequence(X, lens, batch_first=layout == 1, enforce_sorted=False)
        out, hn = m(packed, hx)
        out, _ = pad_packed_sequence(out, batch_first=layout == 1, total_length=T)
    else:
        out, hn = m(X, hx)
    out = out.detach().numpy()
    if layout == 1:
        out = out.transpose(1, 0, 2)
    Y = out.reshape(T, N, Dt, H).transpose(0, 2, 1, 3)  # [T, Dt, N, H]
    h_n, c_n = (hn[0], hn[1]) if op == "LSTM" else (hn, None)
    h_n = h_n.detach().numpy()
    c_n = c_n.detach().numpy() if c_n is not None else None
    if direction == "reverse":
        Y, h_n = Y[:, 1:], h_n[1:]
        c_n = c_n[1:] if c_n is not None else None
    if layout == 1:
        Y = Y.transpose(2, 0, 1, 3)
        h_n = h_n.transpose(1, 0, 2)
        c_n = c_n.transpose(1, 0, 2) if c_n is not None else None
    res = {"Y": Y, "Y_h": h_n}
    if op == "LSTM":
        res["Y_c"] = c_n
    return res


# ----------------------------------------------------------------------------- cases


def f32(a):
    return np.asarray(a, dtype=np.float32)


def make_inputs(op, seed, T, N, I, H, D=1, layout=0, bias=True, h0=False, c0=False, P=False, lens=None,
                w_scale=0.5, x_scale=1.0, state_scale=0.5):
    rs = np.random.RandomState(seed)
    G = GATES[op]
    inp = {}
    inp["X"] = f32(rs.randn(*((T, N, I) if layout == 0 else (N, T, I))) * x_scale)
    inp["W"] = f32(rs.uniform(-w_scale, w_scale, (D, G * H, I)))
    inp["R"] = f32(rs.uniform(-w_scale, w_scale, (D, G * H, H)))
    if bias:
        inp["B"] = f32(rs.uniform(-w_scale, w_scale, (D, 2 * G * H)))
    if lens is not None:
        inp["sequence_lens"] = np.asarray(lens, dtype=np.int32)
    shape = (D, N, H) if layout == 0 else (N, D, H)
    if h0:
        inp["initial_h"] = f32(rs.randn(*shape) * state_scale)
    if c0:
        inp["initial_c"] = f32(rs.randn(*shape) * state_scale)
    if P:
        inp["P"] = f32(rs.uniform(-w_scale, w_scale, (D, 3 * H)))
    return inp


def f32list(xs):
    return [float(np.float32(v)) for v in xs]


CASES = []


def case(name, op, attrs, inp, outputs, description):
    CASES.append(dict(name=name, op=op, attrs=attrs, inp=inp, outputs=outputs, description=description))


def build_cases():
    # --- several timesteps, random weights, nonzero initial states
    case("rnn_seq5_initial_h", "RNN", {"hidden_size": 4},
         make_inputs("RNN", 101, T=5, N=2, I=3, H=4, h0=True), ["Y", "Y_h"],
         "RNN Tanh, 5 steps, random W/R/B, nonzero initial_h.")
    case("gru_seq5_initial_h", "GRU", {"hidden_size": 4},
         make_inputs("GRU", 102, T=5, N=3, I=3, H=4, h0=True), ["Y", "Y_h"],
         "GRU linear_before_reset=0 (ONNX default), 5 steps, random weights incl. Rb, nonzero initial_h.")
    case("gru_linear_before_reset_seq5", "GRU", {"hidden_size": 4, "linear_before_reset": 1},
         make_inputs("GRU", 103, T=5, N=3, I=3, H=4, h0=True), ["Y", "Y_h"],
         "GRU linear_before_reset=1 (PyTorch's form), 5 steps, random weights, nonzero initial_h.")
    case("lstm_seq5_initial_hc", "LSTM", {"hidden_size": 3},
         make_inputs("LSTM", 104, T=5, N=2, I=4, H=3, h0=True, c0=True), ["Y", "Y_h", "Y_c"],
         "LSTM, 5 steps, random W/R/B (catches i/o/f/c order mix-ups), nonzero initial_h and initial_c.")
    case("lstm_peepholes_seq4", "LSTM", {"hidden_size": 3},
         make_inputs("LSTM", 105, T=4, N=2, I=3, H=3, h0=True, c0=True, P=True), ["Y", "Y_h", "Y_c"],
         "LSTM with random peepholes over 4 steps from a nonzero cell: Pi, Pf see C_{t-1}, Po sees C_t.")
    # --- ragged batches
    case("rnn_seq_lens_forward", "RNN", {"hidden_size": 4},
         make_inputs("RNN", 106, T=6, N=4, I=3, H=4, h0=True, lens=[6, 3, 1, 4]), ["Y", "Y_h"],
         "RNN forward with sequence_lens [6, 3, 1, 4] of seq 6: Y is 0 past each length, Y_h is the state at the last valid step.")
    case("gru_seq_lens_reverse", "GRU", {"hidden_size": 3, "direction": "reverse", "linear_before_reset": 1},
         make_inputs("GRU", 107, T=5, N=3, I=2, H=3, h0=True, lens=[2, 5, 3]), ["Y", "Y_h"],
         "GRU reverse (linear_before_reset=1) with sequence_lens [2, 5, 3]: each sequence is read from its own last valid step back to t=0.")
    case("gru_seq_lens_reverse_lbr0", "GRU", {"hidden_size": 3, "direction": "reverse"},
         make_inputs("GRU", 108, T=5, N=3, I=2, H=3, h0=True, lens=[2, 5, 3]), ["Y", "Y_h"],
         "GRU reverse, linear_before_reset=0, sequence_lens [2, 5, 3].")
    case("rnn_seq_lens_bidirectional", "RNN", {"hidden_size": 3, "direction": "bidirectional"},
         make_inputs("RNN", 109, T=4, N=3, I=2, H=3, D=2, h0=True, lens=[1, 4, 2]), ["Y", "Y_h"],
         "RNN bidirectional with sequence_lens [1, 4, 2] and different initial_h per direction.")
    case("lstm_seq_lens_bidirectional", "LSTM", {"hidden_size": 3, "direction": "bidirectional"},
         make_inputs("LSTM", 110, T=5, N=3, I=2, H=3, D=2, h0=True, c0=True, lens=[5, 2, 4]), ["Y", "Y_h", "Y_c"],
         "LSTM bidirectional with sequence_lens [5, 2, 4], nonzero initial_h/initial_c.")
    # --- layout 1 with two directions
    case("lstm_bidirectional_layout1", "LSTM", {"hidden_size": 3, "direction": "bidirectional", "layout": 1},
         make_inputs("LSTM", 111, T=4, N=3, I=2, H=3, D=2, layout=1, h0=True, c0=True), ["Y", "Y_h", "Y_c"],
         "LSTM bidirectional, layout=1: X [batch, seq, in], Y [batch, seq, dirs, H], initial states and Y_h/Y_c [batch, dirs, H].")
    case("gru_bidirectional_layout1_seq_lens", "GRU", {"hidden_size": 3, "direction": "bidirectional", "layout": 1},
         make_inputs("GRU", 112, T=4, N=3, I=2, H=3, D=2, layout=1, h0=True, lens=[3, 4, 1]), ["Y", "Y_h"],
         "GRU bidirectional (linear_before_reset=0), layout=1, sequence_lens [3, 4, 1].")
    # --- clip and input_forget
    case("lstm_clip", "LSTM", {"hidden_size": 3, "clip": 0.5},
         make_inputs("LSTM", 113, T=5, N=2, I=3, H=3, h0=True, c0=True, w_scale=1.5, x_scale=2.0, state_scale=3.0),
         ["Y", "Y_h", "Y_c"],
         "LSTM clip=0.5 with large weights and initial_c: pre-activations of f and g and the cell state passed to h exceed the bound "
         "(clip applies to every activation's input, h's input C_t included; the carried C_t is not clipped).")
    case("lstm_input_forget", "LSTM", {"hidden_size": 3, "input_forget": 1},
         make_inputs("LSTM", 114, T=5, N=2, I=3, H=3, h0=True, c0=True, P=True), ["Y", "Y_h", "Y_c"],
         "LSTM input_forget=1 (f = 1 - i) with peepholes: Pf and the f rows of W/R/B are unused.")
    # --- activations
    case("rnn_relu", "RNN", {"hidden_size": 4, "activations": ["Relu"]},
         make_inputs("RNN", 115, T=5, N=3, I=3, H=4, h0=True), ["Y", "Y_h"],
         "RNN with activations=[Relu].")
    case("gru_hardsigmoid_softsign", "GRU",
         {"hidden_size": 3, "activations": ["HardSigmoid", "Softsign"], "activation_alpha": f32list([0.25]), "activation_beta": f32list([0.45])},
         make_inputs("GRU", 116, T=5, N=2, I=3, H=3, h0=True), ["Y", "Y_h"],
         "GRU with f=HardSigmoid(alpha 0.25, beta 0.45), g=Softsign.")
    case("gru_affine_thresholdedrelu", "GRU",
         {"hidden_size": 3, "activations": ["Affine", "ThresholdedRelu"], "activation_alpha": f32list([0.4, 0.15]), "activation_beta": f32list([0.5])},
         make_inputs("GRU", 117, T=4, N=2, I=3, H=3, h0=True), ["Y", "Y_h"],
         "GRU with f=Affine(alpha 0.4, beta 0.5), g=ThresholdedRelu(alpha 0.15).")
    case("lstm_hardsigmoid_leakyrelu_softplus", "LSTM",
         {"hidden_size": 3, "activations": ["HardSigmoid", "LeakyRelu", "Softplus"], "activation_alpha": f32list([0.3, 0.2]), "activation_beta": f32list([0.4])},
         make_inputs("LSTM", 118, T=4, N=2, I=3, H=3, h0=True, c0=True), ["Y", "Y_h", "Y_c"],
         "LSTM with f=HardSigmoid(0.3, 0.4), g=LeakyRelu(0.2), h=Softplus.")
    case("lstm_activation_defaults", "LSTM",
         {"hidden_size": 3, "activations": ["HardSigmoid", "Tanh", "Elu"]},
         make_inputs("LSTM", 119, T=4, N=2, I=3, H=3, h0=True, c0=True), ["Y", "Y_h", "Y_c"],
         "LSTM with f=HardSigmoid, h=Elu and no activation_alpha/beta: the defaults (HardSigmoid 0.2/0.5, Elu 1.0).")
    case("rnn_bidirectional_scaledtanh_elu", "RNN",
         {"hidden_size": 3, "direction": "bidirectional", "activations": ["ScaledTanh", "Elu"],
          "activation_alpha": f32list([1.5, 0.8]), "activation_beta": f32list([0.7])},
         make_inputs("RNN", 120, T=4, N=2, I=3, H=3, D=2, h0=True), ["Y", "Y_h"],
         "RNN bidirectional, forward f=ScaledTanh(alpha 1.5, beta 0.7), reverse f=Elu(alpha 0.8).")
    # --- everything at once (step path with lengths, both directions, layout 1)
    case("lstm_bidirectional_layout1_everything", "LSTM",
         {"hidden_size": 3, "direction": "bidirectional", "layout": 1, "clip": 1.5, "input_forget": 0,
          "activations": ["Sigmoid", "Tanh", "Tanh", "HardSigmoid", "Softsign", "Tanh"]},
         make_inputs("LSTM", 121, T=5, N=3, I=2, H=3, D=2, layout=1, h0=True, c0=True, P=True, lens=[5, 3, 1],
                     w_scale=1.0, x_scale=1.5, state_scale=1.0),
         ["Y", "Y_h", "Y_c"],
         "LSTM bidirectional, layout=1, sequence_lens [5, 3, 1], peepholes, clip=1.5, per-direction activations "
         "(reverse: HardSigmoid with default alpha/beta, Softsign, Tanh).")


# ----------------------------------------------------------------------------- writing


def tensor_json(name, a):
    a = np.asarray(a)
    if a.dtype == np.int32:
        return {"name": name, "dtype": "int32", "dims": list(a.shape), "data": [int(v) for v in a.ravel()]}
    a = a.astype(np.float32)
    return {"name": name, "dtype": "float32", "dims": list(a.shape), "data": [float(v) for v in a.ravel()]}


def onnx_check(op, attrs, inp, outputs, expected):
    """Validate the node with onnx.checker and compare ONNX's shape inference with our output shapes."""
    node_inputs = [k if k in inp else "" for k in INPUT_ORDER]
    while node_inputs and node_inputs[-1] == "":
        node_inputs.pop()
    node_outputs = [k if k in outputs else "" for k in OUTPUT_ORDER[:3 if op == "LSTM" else 2]]
    while node_outputs and node_outputs[-1] == "":
        node_outputs.pop()
    node = helper.make_node(op, node_inputs, node_outputs, **attrs)
    vi = []
    for k in node_inputs:
        if not k:
            continue
        et = TensorProto.INT32 if k == "sequence_lens" else TensorProto.FLOAT
        vi.append(helper.make_tensor_value_info(k, et, list(inp[k].shape)))
    # Outputs typed with their rank only; shape inference must fill in the sizes.
    outs = [helper.make_tensor_value_info(k, TensorProto.FLOAT, [None] * expected[k].ndim) for k in node_outputs if k]
    model = helper.make_model(helper.make_graph([node], "g", vi, outs), opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 7
    onnx.checker.check_model(model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    for o in inferred.graph.output:
        dims = [d.dim_value for d in o.type.tensor_type.shape.dim]
        assert dims == list(expected[o.name].shape), (o.name, dims, expected[o.name].shape)
    return node_inputs, node_outputs


def max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)))) if np.asarray(a).size else 0.0


def generate(c):
    op, attrs, inp, outputs = c["op"], c["attrs"], c["inp"], c["outputs"]
    # Cases must not depend on how activation_alpha/beta are read (in order vs. by position).
    if "activations" in attrs:
        args = (expand_activations(op, attrs), attrs.get("activation_alpha", []), attrs.get("activation_beta", []))
        assert [a[1:] for a in resolve_activations(*args)] == [a[1:] for a in resolve_activations(*args, positional=True)], c["name"]
    refs = {"numpy-spec": spec_ref(op, attrs, inp)}
    h = helper_ref(op, attrs, inp)
    if h is not None:
        refs["onnx-helper"] = h
    t = torch_ref(op, attrs, inp)
    if t is not None:
        refs["torch"] = t
    # Primary reference per output: ONNX's helper, else PyTorch, else the numpy spec.
    reference, expected = {}, {}
    for o in outputs:
        for r in ("onnx-helper", "torch", "numpy-spec"):
            if r in refs and o in refs[r]:
                reference[o], expected[o] = r, refs[r][o]
                break
    checks = []
    names = sorted(refs)
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            for o in outputs:
                if o in refs[names[i]] and o in refs[names[j]]:
                    d = max_diff(refs[names[i]][o], refs[names[j]][o])
                    assert d < AGREE, (c["name"], names[i], names[j], o, d)
                    checks.append({"output": o, "a": names[i], "b": names[j], "max_abs_diff": float(f"{d:.3g}")})
    node_inputs, node_outputs = onnx_check(op, attrs, inp, outputs, expected)
    doc = {
        "case": c["name"],
        "source": f"seqlab {GEN} (ONNX {onnx.__version__} helpers, torch {torch.__version__}, numpy {np.__version__})",
        "description": c["description"],
        "operator": op,
        "domain": "",
        "opset": [{"domain": "", "version": OPSET}],
        "attributes": attrs,
        "node_inputs": node_inputs,
        "node_outputs": node_outputs,
        "inputs": [tensor_json(k, inp[k]) for k in node_inputs if k],
        "outputs": [tensor_json(k, expected[k]) for k in node_outputs if k],
        "reference": reference,
        "checks": checks,
    }
    notes = {}
    if c["name"] == "lstm_clip":
        ort = spec_ref(op, attrs, inp, clip_h=False)
        notes["ort_reading_max_abs_diff"] = {o: float(f"{max_diff(ort[o], expected[o]):.3g}") for o in outputs}
        Yc_all = []  # |C_t| over all steps, to show the clip of h's input is exercised
        for T in range(1, inp["X"].shape[0] + 1):
            part = dict(inp)
            part["X"] = inp["X"][:T]
            Yc_all.append(spec_ref(op, attrs, part)["Y_c"])
        cells = np.abs(np.stack(Yc_all))
        notes["max_abs_cell_state"] = float(f"{cells.max():.3g}")
        notes["cell_states_beyond_clip"] = f"{int((cells > attrs['clip']).sum())} of {cells.size}"
    if notes:
        doc["notes"] = notes
    path = os.path.join(OUT, c["name"])
    os.makedirs(path, exist_ok=True)
    text = json.dumps(doc, indent=1) + "\n"
    with open(os.path.join(path, "case.json"), "w", encoding="utf-8") as fh:
        fh.write(text)
    return doc, hashlib.sha256(text.encode("utf-8")).hexdigest()


README_HEAD = """# Extra ONNX RNN / GRU / LSTM node cases (seqlab)

Generated by `tools/golden/gen_onnx_extra.py`; do not edit by hand (this README is written by it too).

    /usr/bin/python3 tools/golden/gen_onnx_extra.py

They cover what the 18 ONNX backend cases in `/work/shared/conformance/onnx` (`../shared/conformance/onnx`
from the repo root) do not: several time steps with random weights, nonzero initial states, GRU
`linear_before_reset=1`, ragged `sequence_lens` (forward, reverse, bidirectional), bidirectional with
`layout=1`, LSTM `clip` and `input_forget=1`, and non-default `activations` (all 11 ONNX activation
functions appear). `test/onnx/conformance.test.ts` runs them next to the upstream cases with the same
tolerances.

## Format

`<case>/case.json` has exactly the format of `/work/shared/conformance/onnx/*/case.json` (see its README):
`operator`, `attributes`, positional `node_inputs` / `node_outputs` (`""` = absent), `inputs` and
`outputs` as `{name, dtype, dims, data}` with row-major data; float32 values are written as the exact
double of the float32, `sequence_lens` as int32. Three extra fields: `description`; `reference`: which
reference produced each expected output; `checks`: the largest absolute difference between every pair of
references that computed the same output (all must be < 1e-9; they all run in float64 and agree to
< 4e-16 here). Inputs are float32; expected outputs are the float64 reference rounded to float32.
`lstm_input_forget` has a single reference (numpy-spec): neither the helpers nor PyTorch have that cell.

## References

- **onnx-helper** — ONNX's own numpy helpers `RNN_Helper`, `GRU_Helper`, `LSTM_Helper` from
  `onnx.backend.test.case.node.{rnn,gru,lstm}` (ONNX 1.12, Debian `python3-onnx`). They run one forward
  direction of full-length, time-major sequences and return Y and Y_h (not Y_c), so the generator calls them
  once per direction and per sequence: on `X[:len]` of that sequence (flipped in time for the reverse
  direction, the result flipped back), with that sequence's initial state, after converting layout 1 to 0.
  For non-default activations a subclass overrides their `f`/`g`/`h` methods and nothing else; for `clip`
  those overrides also clip each activation's input (so the clip *reading* there is the generator's, see
  below). Not used for `input_forget=1`, which the helpers cannot express.
- **torch** — PyTorch 1.13 `nn.RNN` / `nn.GRU` / `nn.LSTM` in float64, with ONNX's gate blocks reordered
  by the generator (LSTM iofc→ifgo, GRU zrh→rzn); ragged batches through `pack_padded_sequence` /
  `pad_packed_sequence`; the reverse-only cases use the `_reverse` half of a bidirectional module. Only
  where PyTorch has the cell (no clip/peepholes/input_forget, GRU `linear_before_reset=1`, RNN Tanh/Relu).
- **numpy-spec** — `spec_ref` in the generator: the ONNX operator text implemented directly in float64,
  for everything else (and as a cross-check everywhere).

The primary reference of an output is the first of onnx-helper, torch, numpy-spec that computes it.

## Readings of the spec these cases fix

- **clip** bounds the input of every activation — f and g of the gates *and* h's input C_t
  (`H_t = o ⊙ h(clip(C_t))`); the carried cell state C_t itself is not clipped. This is the literal text
  ("applied to the input of activations") and OpenVINO's LSTMCell. ONNX Runtime's CPU LSTM does not clip
  h's input; `lstm_clip/case.json` → `notes` records how far that reading lands from the expected values,
  and how many cell states exceed the bound.
- **sequence_lens**: past a sequence's length, Y is 0 and the state is frozen; Y_h/Y_c hold the state after
  the last valid step. The **reverse** direction starts at t = len − 1 of each sequence (not at seq − 1),
  and its Y_h is the state after t = 0 — PyTorch's packed sequences and ONNX Runtime agree. No case has a
  length of 0 (the ONNX reference implementation returns the initial state there, ONNX Runtime zeros).
- **activation_alpha / activation_beta** are consumed in order by the activations that take them (ONNX
  Runtime); another reading indexes them by the activation's position. Every case here is built so both
  readings give the same parameters (the generator asserts it). Missing values take the defaults of the
  ONNX operators of the same name (LeakyRelu 0.01, ThresholdedRelu 1.0, HardSigmoid 0.2/0.5, Elu 1.0;
  Affine 1.0/0.0 from the former experimental op). ONNX Runtime defaults ThresholdedRelu, Affine and
  ScaledTanh parameters to 0 instead, so no case relies on those defaults (`lstm_activation_defaults` uses
  HardSigmoid and Elu, where all agree). ThresholdedRelu is `x if x >= alpha else 0` (the RNN operators'
  text; ONNX Runtime uses `x > alpha`, equal except at x = alpha).
- **bidirectional** activations: the list has the forward direction's functions first, then the reverse's.

## Cases

| case | op | attributes | inputs | outputs | reference | sha256 (case.json) |
| --- | --- | --- | --- | --- | --- | --- |
"""

README_TAIL = """
## Versions

- onnx {onnx} (Debian python3-onnx), torch {torch}, numpy {numpy}, python {python}
- node validated with `onnx.checker.check_model(full_check=True)`, and ONNX shape inference (opset {opset})
  gives the output shapes stored here.

License: the ONNX helpers used as a reference are Apache-2.0 (Copyright (c) ONNX Project Contributors); no
ONNX code or data is copied into these files, only values they computed.
"""


def main():
    build_cases()
    os.makedirs(OUT, exist_ok=True)
    rows = []
    for c in CASES:
        doc, sha = generate(c)
        def short(v):
            if isinstance(v, float):
                return f"{v:.6g}"
            if isinstance(v, list):
                return "[" + ", ".join(str(short(x)) for x in v) + "]"
            return v

        attrs = ", ".join(f"{k}={short(v)}" for k, v in doc["attributes"].items())
        ins = ", ".join(k for k in doc["node_inputs"] if k)
        outs = ", ".join(k for k in doc["node_outputs"] if k)
        ref = ", ".join(f"{k}: {v}" for k, v in doc["reference"].items())
        rows.append(f"| `{doc['case']}` | {doc['operator']} | {attrs} | {ins} | {outs} | {ref} | `{sha[:16]}` |")
        print(f"{doc['case']}: {ref}; checks {len(doc['checks'])}" + (f"; notes {doc['notes']}" if "notes" in doc else ""))
    tail = README_TAIL.format(onnx=onnx.__version__, torch=torch.__version__, numpy=np.__version__,
                              python=sys.version.split()[0], opset=OPSET)
    with open(os.path.join(OUT, "README.md"), "w", encoding="utf-8") as fh:
        fh.write(README_HEAD + "\n".join(rows) + "\n" + tail)


if __name__ == "__main__":
    main()
