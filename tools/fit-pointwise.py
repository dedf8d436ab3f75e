"""Least-squares fits behind wasm/assembly/pointwise.ts's float32 softplus and GELU (run: /usr/bin/python3 tools/fit-pointwise.py).

erfcx(a) = erfc(a)·e^{a²} as a degree-10 polynomial in t = 1/(1 + a/2) on a in [0, 6.5], weighted for relative error;
log1p(u)/u as a degree-8 polynomial in u on [0, 1]. Prints the coefficients (lowest degree first) and the worst
relative error of a float32 Horner evaluation.
"""
import math
import numpy as np


def fit(xs, ys, basis, deg):
    V = np.vander(basis, deg + 1, increasing=True)
    w = 1 / np.abs(ys)
    c, *_ = np.linalg.lstsq(V * w[:, None], ys * w, rcond=None)
    b32, r = basis.astype(np.float32), np.zeros(len(xs), np.float32)
    for cc in c.astype(np.float32)[::-1]:
        r = (r * b32 + cc).astype(np.float32)
    return c, np.max(np.abs(r / ys - 1))


a = np.linspace(0, 6.5, 20001)
c, err = fit(a, np.array([math.erfc(v) * math.exp(v * v) for v in a]), 1 / (1 + 0.5 * a), 10)
print('erfcx', [float(np.float32(v)) for v in c], 'worst relative error', err)
u = np.linspace(1e-6, 1, 20001)
c, err = fit(u, np.array([math.log1p(v) / v for v in u]), u, 8)
print('log1p(u)/u', [float(np.float32(v)) for v in c], 'worst relative error', err)
