// The sequence kernels split over independent (sequence, head) blocks: 2 threads must give the same bits
// as 1, at sizes where the job really is split (several blocks per thread, a tail stretch, N not a
// multiple of 4). The conformance suite on the 2-thread backend (wasm.test.ts) checks values against ref.
import { describe, expect, it } from 'vitest';
import { createWasmKernels, loadWasmModuleSync } from '../../src/kernels/wasm/index.js';
import { selectiveScanSavedSize, ssdChunks, wkvSavedSizes, type AttentionShape, type SelectiveScanShape, type SSDShape, type WkvShape } from '../../src/kernels/types.js';

const kernels = createWasmKernels(loadWasmModuleSync('relaxed-shared')!, { minGemmWork: 0, minElements: 0, threads: 2, minMacsPerThread: 1 });
await kernels.pool?.whenOnline();
const rnd = (n: number, seed: number, lo = -1, hi = 1) => Float32Array.from({ length: n }, (_, i) => lo + ((hi - lo) * (1 + Math.sin(i * 0.37 + seed * 1.7))) / 2);

/** Runs `f` on 1 and then on 2 threads; each call returns its outputs, which must match bit for bit. */
function sameBits(f: () => Float32Array[]): void {
  kernels.setThreads(1);
  const one = f();
  kernels.setThreads(2);
  const two = f();
  expect(two.length).toBe(one.length);
  for (let i = 0; i < one.length; i++) expect(Array.from(two[i]!)).toEqual(Array.from(one[i]!));
}

describe('sequence kernels on 2 threads equal 1 thread bit for bit', () => {
  it('a worker is online', () => expect(kernels.pool?.workersOnline).toBe(1));
  const s: WkvShape = { B: 3, T: 37, H: 3, N: 6 };
  const n = s.B * s.T * s.H * s.N, ns = s.B * s.H * s.N * s.N;
  for (const version of [6, 7] as const) {
    it(`wkv${version} forward and backward`, () => {
      const x = version === 6
        ? { r: rnd(n, 1), k: rnd(n, 2), v: rnd(n, 3), w: rnd(n, 4, 0.5, 1), u: rnd(s.H * s.N, 5) }
        : { r: rnd(n, 1), w: rnd(n, 4, 0.5, 1), k: rnd(n, 2), v: rnd(n, 3), a: rnd(n, 6, -0.5, 0.5), b: rnd(n, 7, -0.5, 0.5) };
      const s0 = rnd(ns, 8, -0.1, 0.1), dy = rnd(n, 9), dsT = rnd(ns, 10);
      sameBits(() => {
        const y = new Float32Array(n), sT = new Float32Array(ns), saved = { states: new Float32Array(wkvSavedSizes(s).states) };
        const grads = { dr: new Float32Array(n), dw: new Float32Array(n), dk: new Float32Array(n), dv: new Float32Array(n), ds0: new Float32Array(ns) };
        if (version === 6) {
          const x6 = x as { r: Float32Array; k: Float32Array; v: Float32Array; w: Float32Array; u: Float32Array };
          const g = { ...grads, du: rnd(s.H * s.N, 11) }; // du accumulates: summed over sequences in a fixed order
          kernels.wkv6Forward(s, x6, s0, y, sT, saved);
          kernels.wkv6Backward(s, x6, saved, dy, dsT, g);
          return [y, sT, saved.states, g.dr, g.dk, g.dv, g.dw, g.du, g.ds0];
        }
        const x7 = x as { r: Float32Array; w: Float32Array; k: Float32Array; v: Float32Array; a: Float32Array; b: Float32Array };
        const g = { ...grads, da: new Float32Array(n), db: new Float32Array(n) };
        kernels.wkv7Forward(s, x7, s0, y, sT, saved);
        kernels.wkv7Backward(s, x7, saved, dy, dsT, g);
        return [y, sT, saved.states, g.dr, g.dw, g.dk, g.dv, g.da, g.db, g.ds0];
      });
    });
  }
  for (const [Tq, Tk] of [[45, 45], [7, 52]] as const) {
    it(`causal attention forward and backward (Tq ${Tq}, Tk ${Tk})`, () => {
      const s: AttentionShape = { B: 2, H: 3, Tq, Tk, D: 10, scale: 1 / Math.sqrt(10) };
      const nq = s.B * Tq * s.H * s.D, nk = s.B * Tk * s.H * s.D;
      const q = rnd(nq, 1), k = rnd(nk, 2), v = rnd(nk, 3), dy = rnd(nq, 4);
      sameBits(() => {
        const y = new Float32Array(nq), lse = new Float32Array(s.B * s.H * Tq);
        const dq = new Float32Array(nq), dk = rnd(nk, 5), dv = rnd(nk, 6); // dk, dv must be overwritten
        kernels.attentionForward(s, q, k, v, y, lse);
        kernels.attentionBackward(s, q, k, v, lse, dy, dq, dk, dv);
        return [y, lse, dq, dk, dv];
      });
    });
  }
  it('selective scan forward, split over (row, channel) blocks', () => {
    const s: SelectiveScanShape = { b: 2, t: 29, di: 7, n: 6 }; // 14 blocks: a thread's share starts mid-row
    const bt = s.b * s.t;
    const p = { x: rnd(bt * s.di, 1), delta: rnd(bt * s.di, 2, 0.01, 1), A: rnd(s.di * s.n, 3, -2, -0.1), B: rnd(bt * s.n, 4), C: rnd(bt * s.n, 5), D: rnd(s.di, 6) };
    const h0 = rnd(s.b * s.di * s.n, 7);
    sameBits(() => {
      const y = new Float32Array(bt * s.di), hT = new Float32Array(h0.length), hs = new Float32Array(selectiveScanSavedSize(s));
      kernels.selectiveScanForward(s, p, h0, y, hT, hs);
      return [y, hT, hs];
    });
  });
  it('selective scan backward, split over batch rows (dA, dD summed over rows in a fixed order)', () => {
    const s: SelectiveScanShape = { b: 5, t: 23, di: 7, n: 6 }; // 5 rows on 2 threads: 3 + 2
    const bt = s.b * s.t, nx = bt * s.di, ns = s.b * s.di * s.n;
    const p = { x: rnd(nx, 1), delta: rnd(nx, 2, 0.01, 1), A: rnd(s.di * s.n, 3, -2, -0.1), B: rnd(bt * s.n, 4), C: rnd(bt * s.n, 5), D: rnd(s.di, 6) };
    const h0 = rnd(ns, 7), dy = rnd(nx, 8), dhT = rnd(ns, 9);
    sameBits(() => {
      const y = new Float32Array(nx), hT = new Float32Array(ns), hs = new Float32Array(selectiveScanSavedSize(s));
      kernels.selectiveScanForward(s, p, h0, y, hT, hs);
      // Every gradient accumulates: start from non-zero values.
      const g = { dx: rnd(nx, 10), ddelta: rnd(nx, 11), dA: rnd(s.di * s.n, 12), dB: rnd(bt * s.n, 13), dC: rnd(bt * s.n, 14), dD: rnd(s.di, 15), dh0: rnd(ns, 16) };
      kernels.selectiveScanBackward(s, p, h0, hs, dy, dhT, g);
      return [g.dx, g.ddelta, g.dA, g.dB, g.dC, g.dD!, g.dh0];
    });
  });
  for (const [g, dPerChannel] of [[1, false], [3, true]] as const) {
    it(`Mamba-2 SSD forward and backward, split over (row, group) units (${g} group${g > 1 ? 's' : ''})`, () => {
      // t not a multiple of q (a short last chunk); 3 rows × g units split unevenly over 2 threads.
      const s: SSDShape = { b: 3, t: 19, nh: 6, hs: 5, g, n: 7, q: 4, dPerChannel };
      const bt = s.b * s.t, nx = bt * s.nh * s.hs, nbc = bt * s.g * s.n, nS = s.b * s.nh * s.hs * s.n, nD = dPerChannel ? s.nh * s.hs : s.nh;
      const p = { x: rnd(nx, 1), delta: rnd(bt * s.nh, 2, 0.01, 0.5), A: rnd(s.nh, 3, -2, -0.1), B: rnd(nbc, 4), C: rnd(nbc, 5), D: rnd(nD, 6) };
      const h0 = rnd(nS, 7), dy = rnd(nx, 8), dhT = rnd(nS, 9);
      sameBits(() => {
        const y = new Float32Array(nx), hT = new Float32Array(nS), chunkStates = new Float32Array(ssdChunks(s) * nS);
        kernels.ssdForward(s, p, h0, y, hT, chunkStates);
        const gr = { dx: rnd(nx, 10), ddelta: rnd(bt * s.nh, 11), dA: rnd(s.nh, 12), dB: rnd(nbc, 13), dC: rnd(nbc, 14), dD: rnd(nD, 15), dh0: rnd(nS, 16) };
        kernels.ssdBackward(s, p, chunkStates, dy, dhT, gr);
        return [y, hT, chunkStates, gr.dx, gr.ddelta, gr.dA, gr.dB, gr.dC, gr.dD!, gr.dh0];
      });
    });
  }
  it('elementwise silu, softplus, GELU (and backward), exp, tanh, sigmoid, split into ranges', () => {
    const n = 1001; // not a multiple of 4 or of the thread count: the last range has a tail
    const x = rnd(n, 1, -25, 25), dy = rnd(n, 2);
    sameBits(() => (['exp', 'tanh', 'sigmoid', 'silu', 'softplus', 'gelu'] as const).flatMap((op) => {
      const y = new Float32Array(n), dx = new Float32Array(n);
      kernels.unary(op, x, y, n, 0);
      kernels.unaryBackward(op, x, y, dy, dx, n, 0);
      return [y, dx];
    }));
  });
  it('relu and neg (and backward), split into ranges', () => {
    const n = 1001, x = rnd(n, 1, -3, 3), dy = rnd(n, 2);
    sameBits(() => (['relu', 'neg'] as const).flatMap((op) => {
      const y = new Float32Array(n), dx = new Float32Array(n);
      kernels.unary(op, x, y, n, 0);
      kernels.unaryBackward(op, x, y, dy, dx, n, 0);
      return [y, dx];
    }));
  });
  it('broadcast binary ops, split into ranges of the output (a range starts mid-row)', () => {
    const shape = [3, 7, 5, 13], n = 3 * 7 * 5 * 13; // 1365: not a multiple of 4
    const a = rnd(n, 1, 0.5, 2), head = rnd(3 * 7 * 5, 2, 0.5, 2), table = rnd(5 * 13, 3, 0.5, 2);
    const full = [455, 65, 13, 1], perHead = [35, 5, 1, 0], perTable = [0, 0, 13, 1];
    sameBits(() => (['add', 'sub', 'mul', 'div', 'maximum', 'minimum'] as const).flatMap((op) => {
      const o1 = new Float32Array(n), o2 = new Float32Array(n), o3 = new Float32Array(n);
      kernels.binary(op, a, full, head, perHead, o1, shape);
      kernels.binary(op, table, perTable, a, full, o2, shape);
      kernels.binary(op, a, full, a, full, o3, shape);
      return [o1, o2, o3];
    }));
  });
  it('reduceSum, split over rows and 16-column blocks', () => {
    const x = rnd(5 * 11 * 37, 1);
    sameBits(() => [[5, 11, 37], [55, 37, 1], [1, 5, 407]].map(([o, d, i]) => {
      const out = new Float32Array(o! * i!);
      kernels.reduceSum(x, out, o!, d!, i!);
      return out;
    }));
  });
  it('Adam / AdamW (amsgrad) update, split into ranges', () => {
    const n = 1001, g = rnd(n, 2);
    for (const decoupled of [false, true]) {
      sameBits(() => {
        const p = rnd(n, 1), m = rnd(n, 3), v = rnd(n, 4, 0, 1), vmax = rnd(n, 5, 0, 1);
        kernels.adamUpdate(p, g, m, v, vmax, n, { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, decoupled, step: 3, amsgrad: true });
        return [p, m, v, vmax];
      });
    }
  });
});
