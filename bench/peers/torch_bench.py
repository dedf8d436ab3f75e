"""PyTorch side of `npm run bench:peers`: the same workloads as bench/run.ts, printed as JSON lines.

Run by bench/peers/run.mjs with Debian's /usr/bin/python3 (python3-torch). Usage:
    python3 torch_bench.py [--threads N] [--large] [--onnx DIR] [--w4]   (--onnx: also export the W4 LSTM for ONNX Runtime;
                                                                          --w4: the W4 streaming step only)
"""
import json
import sys
import time

import torch

args = sys.argv[1:]
threads = int(args[args.index('--threads') + 1]) if '--threads' in args else 1
large = '--large' in args
onnx_dir = args[args.index('--onnx') + 1] if '--onnx' in args else None
w4_only = '--w4' in args
torch.set_num_threads(threads)
torch.manual_seed(0)


def median_ms(fn, warmup=2, min_runs=5, min_time=1.5, max_runs=1000):
    for _ in range(warmup):
        fn()
    ts = []
    start = time.perf_counter()
    while len(ts) < max_runs and (len(ts) < min_runs or time.perf_counter() - start < min_time):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    ts.sort()
    return ts[len(ts) // 2], len(ts)


def emit(workload, unit, value, runs):
    print(json.dumps({'peer': f'pytorch {threads}T', 'workload': workload, 'unit': unit, 'value': value, 'runs': runs}), flush=True)


for m, n, k in [] if w4_only else [(32, 256, 1024), (2048, 128, 1024), (1024, 1024, 1024)]:
    a, b = torch.randn(m, k), torch.randn(k, n)
    ms, runs = median_ms(lambda: torch.mm(a, b))
    emit(f'GEMM {m}×{n}×{k}', 'GFLOP/s', 2 * m * n * k / ms / 1e6, runs)

if not w4_only:
    p = torch.nn.Parameter(torch.randn(1 << 20))
    p.grad = torch.randn(1 << 20) * 0.01
    opt = torch.optim.AdamW([p], lr=1e-3, weight_decay=0.01)
    ms, runs = median_ms(opt.step)
    emit('AdamW step, 1M params', 'ms', ms, runs)

T, N, I, H = 64, 32, 128, 256
for label, cls, kw in [] if w4_only else [('W1 LSTM train step', torch.nn.LSTM, {}), ('W2 GRU train step', torch.nn.GRU, {}),
                       ('W3 RNN train step', torch.nn.RNN, {'nonlinearity': 'tanh'})]:
    model = cls(I, H, **kw)
    sgd = torch.optim.SGD(model.parameters(), lr=1e-3)
    x, target = torch.randn(T, N, I), torch.randn(T, N, H)

    def step():
        out, _ = model(x)
        loss = torch.nn.functional.mse_loss(out, target)
        sgd.zero_grad()
        loss.backward()
        sgd.step()
    ms, runs = median_ms(step, min_time=3)
    emit(f'{label} T={T} N={N} I={I} H={H}', 'tokens/s', T * N / (ms / 1000), runs)

lstm = torch.nn.LSTM(I, H)
xs = [torch.randn(1, 1, I) for _ in range(16)]
state = [None]
counter = [0]


def stream():
    out, state[0] = lstm(xs[counter[0] & 15], state[0])
    counter[0] += 1


with torch.no_grad():
    ms, runs = median_ms(stream, warmup=50, min_runs=200, min_time=2, max_runs=100000)
emit(f'W4 LSTM stream step N=1 I={I} H={H}', 'µs', ms * 1000, runs)

if onnx_dir is not None:
    # The W4 cell for ONNX Runtime: one step with the state as inputs and outputs.
    class Step(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = lstm

        def forward(self, x, h, c):
            y, (h2, c2) = self.lstm(x, (h, c))
            return y, h2, c2
    torch.onnx.export(Step(), (torch.randn(1, 1, I), torch.zeros(1, 1, H), torch.zeros(1, 1, H)), f'{onnx_dir}/w4_lstm.onnx',
                      input_names=['x', 'h', 'c'], output_names=['y', 'hn', 'cn'], opset_version=14)

if large and not w4_only:
    T5, N5, I5, H5 = 128, 64, 1024, 1024
    big = torch.nn.LSTM(I5, H5)
    x5, t5 = torch.randn(T5, N5, I5), torch.randn(T5, N5, H5)

    def fb():
        out, _ = big(x5)
        torch.nn.functional.mse_loss(out, t5).backward()
        big.zero_grad()
    ms, runs = median_ms(fb, warmup=1, min_runs=3, min_time=0, max_runs=5)
    emit(f'W5 LSTM fwd+bwd T={T5} N={N5} I={I5} H={H5}', 'tokens/s', T5 * N5 / (ms / 1000), runs)
