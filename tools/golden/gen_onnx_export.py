"""Fixtures for seqlab's ONNX import (sl.io.readOnnx): recurrent models exported by torch.onnx.export
(PyTorch 1.13), next to PyTorch's outputs for the same inputs.

* lstm_2layer_bidir_opset{9,14}.onnx: nn.LSTM(4, 5, num_layers=2, bidirectional=True), inputs x, h0, c0.
* gru_opset13.onnx: nn.GRU(4, 6, num_layers=2) (exported with linear_before_reset=1), inputs x, h0.
* rnn_opset11.onnx: nn.RNN(3, 5, nonlinearity='relu'), input x only (zero initial state).
* lm_lstm_opset14.onnx: Embedding(11, 6) -> nn.LSTM(6, 8, batch_first=True) -> Linear(8, 11) on token ids
  [batch, time] (Gather, LSTM, MatMul + Add).
* softmax_head.onnx: an LSTM followed by Softmax, which the importer must refuse by naming the node.

Each <name>.expected.safetensors holds inputs and outputs. Run: /usr/bin/python3 tools/golden/gen_onnx_export.py
"""
import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import encode_safetensors, seed_of  # noqa: E402
import gen_torch  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "test", "golden", "onnx-export")
torch.set_num_threads(1)


class Seq(nn.Module):
    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, *args):
        y, h = self.rnn(args[0], args[1] if len(args) == 2 else (args[1], args[2]) if len(args) == 3 else None)
        return (y,) + (h if isinstance(h, tuple) else (h,))


class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(11, 6)
        self.lstm = nn.LSTM(6, 8, batch_first=True)
        self.head = nn.Linear(8, 11)

    def forward(self, tokens):
        y, _ = self.lstm(self.emb(tokens))
        return self.head(y)


class SoftmaxHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 4)

    def forward(self, x):
        return torch.softmax(self.lstm(x)[0], -1)


def export(name, module, inputs, input_names, output_names, opset):
    module.eval()
    with torch.no_grad():
        outs = module(*inputs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    path = os.path.join(OUT, name + ".onnx")
    torch.onnx.export(module, tuple(inputs), path, input_names=input_names, output_names=output_names, opset_version=opset)
    tensors = {"in." + n: t.float() for n, t in zip(input_names, inputs)}
    tensors.update({"out." + n: t.float() for n, t in zip(output_names, outs)})
    tensors.update({"param." + k: v.float() for k, v in module.state_dict().items()})
    buf, _ = encode_safetensors({k: v.detach().contiguous() for k, v in tensors.items()},
                                {"opset": str(opset), "torch_version": torch.__version__, "generator": "tools/golden/gen_onnx_export.py"})
    with open(os.path.join(OUT, name + ".expected.safetensors"), "wb") as f:
        f.write(buf)


def main():
    os.makedirs(OUT, exist_ok=True)
    for opset in (9, 14):
        name = "lstm_2layer_bidir_opset%d" % opset
        torch.manual_seed(seed_of(name))
        m = Seq(nn.LSTM(4, 5, num_layers=2, bidirectional=True))
        export(name, m, [torch.randn(6, 3, 4), torch.randn(4, 3, 5), torch.randn(4, 3, 5)], ["x", "h0", "c0"], ["y", "hn", "cn"], opset)
    torch.manual_seed(seed_of("gru_opset13"))
    export("gru_opset13", Seq(nn.GRU(4, 6, num_layers=2)), [torch.randn(5, 2, 4), torch.randn(2, 2, 6)], ["x", "h0"], ["y", "hn"], 13)
    torch.manual_seed(seed_of("rnn_opset11"))
    export("rnn_opset11", Seq(nn.RNN(3, 5, nonlinearity="relu")), [torch.randn(7, 2, 3)], ["x"], ["y", "hn"], 11)
    torch.manual_seed(seed_of("lm_lstm_opset14"))
    export("lm_lstm_opset14", LM(), [torch.randint(0, 11, (2, 5))], ["tokens"], ["logits"], 14)
    torch.manual_seed(seed_of("softmax_head"))
    export("softmax_head", SoftmaxHead(), [torch.randn(4, 1, 3)], ["x"], ["p"], 13)
    gen_torch.readme(OUT, "ONNX files from torch.onnx.export", "gen_onnx_export.py",
                     "`*.expected.safetensors` hold inputs (`in.*`), PyTorch's outputs (`out.*`) and the module's state dict (`param.*`).")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
