/**
 * The kernel conformance suite: every `Kernels` method of a backend against `ref` (the specification) on
 * seeded random inputs. Sizes are drawn to include values that are not multiples of any SIMD width
 * (1, 3, 5, 7, 17, 33), batch 1, zero-length sequences and blocking boundaries of the fast GEMM, because
 * tails, padding and block edges are where fast kernels break.
 *
 * Agreement is magnitude-scaled: |got − want| ≤ atol·S + rtol·|want| elementwise, where S is the largest
 * |want| of that output (so a sum of k float32 products is judged against the size of the result, not
 * against zero). A `skip` entry names a method the backend leaves to ref and says why; the suite then checks
 * that the method really is ref's.
 *
 *   runKernelConformance({ name: 'wasm', make: () => myKernels, skip: { softmax: 'reason' } })
 */
import { describe, expect, it } from 'vitest';
import { Generator } from '../../src/tensor/random.js';
import { refKernels } from '../../src/kernels/ref/index.js';
import {
  GATES, recurrentSavedSizes, type BinaryOp, type FloatArray, type Kernels, type RecurrentGrads, type RecurrentKind,
  type RecurrentSaved, type RecurrentShape, type RecurrentWeights, type UnaryOp,
} from '../../src/kernels/types.js';
import { attentionConformance } from './attention-conformance.js';
import { scanConformance } from './scan-conformance.js';
import { stepConformance } from './step-conformance.js';
import { wkvConformance } from './wkv-conformance.js';

export interface ConformanceOptions {
  name: string;
  make: () => Kernels;
  /** Methods not to test, each with the reason. */
  skip?: Partial<Record<keyof Kernels, string>>;
}

/**
 * `scale`, when given, is a floor for S: outputs that cancel to nearly zero (a norm's dx over one column)
 * are judged against the size of the terms that cancelled, not against the rounding noise left over.
 */
interface Tol { atol: number; rtol: number; scale?: number }
const TOL: Tol = { atol: 2e-5, rtol: 1e-4 };
const maxAbs = (a: FloatArray): number => { let m = 0; for (const v of a) m = Math.max(m, Math.abs(v)); return m; };
/** The size of a norm's backward terms: |dy| · rstd · |w|. */
const normScale = (dy: FloatArray, rstd: FloatArray, w: FloatArray | null): Tol => ({ ...TOL, scale: maxAbs(dy) * maxAbs(rstd) * (w ? Math.max(1, maxAbs(w)) : 1) });

function rand(g: Generator, n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * g.uniform();
  return a;
}

/** got equals want bit for bit (NaN matches NaN; +0 and −0 differ), reporting the first difference. */
function expectSameBits(got: FloatArray, want: FloatArray, what: string, detail: (i: number) => string = () => ''): void {
  for (let i = 0; i < want.length; i++) {
    if (!(Object.is(got[i], want[i]) || (Number.isNaN(got[i]) && Number.isNaN(want[i])))) expect.fail(`${what} [${i}]${detail(i)}: got ${got[i]}, want ${want[i]}`);
  }
}

/** |got − want| ≤ atol·max|want| + rtol·|want|, reporting the worst element. */
export function expectConform(got: FloatArray | Int32Array, want: FloatArray | Int32Array, what: string, tol: Tol = TOL): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  let scale = tol.scale ?? 0;
  for (let i = 0; i < want.length; i++) if (Number.isFinite(want[i]!)) scale = Math.max(scale, Math.abs(want[i]!));
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (Object.is(g, w) || (Number.isNaN(g) && Number.isNaN(w))) continue;
    const excess = Math.abs(g - w) - (tol.atol * Math.max(scale, 1e-30) + tol.rtol * Math.abs(w));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) { worst = i; worstExcess = excess; }
  }
  if (worst >= 0) {
    expect.fail(`${what}: element ${worst} of ${want.length} is ${got[worst]}, ref ${want[worst]} (scale ${scale}, atol ${tol.atol}, rtol ${tol.rtol})`);
  }
}

const SIZES = [1, 3, 5, 7, 17, 33];

export function runKernelConformance({ name, make, skip = {} }: ConformanceOptions): void {
  const ref = refKernels;
  const suite = (method: keyof Kernels, body: () => void): void => {
    const reason = skip[method];
    // A backend may leave a method to the reference, with a written reason; that is then checked, not skipped.
    if (reason !== undefined) {
      describe(`${String(method)} (delegates to ref: ${reason})`, () => {
        it('is the reference implementation', () => expect(make()[method]).toBe(ref[method]));
      });
    } else describe(String(method), body);
  };

  describe(`kernel conformance: ${name}`, () => {
    const k = make();

    suite('gemm', () => {
      const shapes: [number, number, number][] = [];
      for (let i = 0; i < SIZES.length; i++) {
        for (let j = 0; j < SIZES.length; j++) shapes.push([SIZES[i]!, SIZES[j]!, SIZES[(i + 2 * j) % SIZES.length]!]);
      }
      // Blocking edges of a packed GEMM: m past one A block, k past one K block, n past several strips.
      shapes.push([130, 41, 300], [1, 1030, 257], [64, 64, 64], [2, 9, 513], [0, 5, 3], [4, 0, 3], [3, 4, 0]);
      for (const tA of [false, true]) {
        for (const tB of [false, true]) {
          for (const acc of [false, true]) {
            it(`transA=${tA} transB=${tB} accumulate=${acc}, ${shapes.length} shapes incl. tails`, () => {
              const g = new Generator(11 + (tA ? 1 : 0) + (tB ? 2 : 0) + (acc ? 4 : 0));
              for (const [m, n, kk] of shapes) {
                const aOff = 3, bOff = 5, cOff = 2;
                const a = rand(g, aOff + m * kk + 1), b = rand(g, bOff + kk * n + 2), c0 = rand(g, cOff + m * n + 3);
                const want = c0.slice(), got = c0.slice();
                ref.gemm(tA, tB, m, n, kk, a, aOff, b, bOff, want, cOff, acc);
                k.gemm(tA, tB, m, n, kk, a, aOff, b, bOff, got, cOff, acc);
                expectConform(got, want, `gemm ${m}×${n}×${kk}`);
              }
            });
          }
        }
      }
    });

    const unaryOps: UnaryOp[] = ['neg', 'exp', 'log', 'sqrt', 'tanh', 'sigmoid', 'relu', 'abs', 'pow', 'softplus', 'silu', 'gelu'];
    const positive = new Set<UnaryOp>(['log', 'sqrt', 'pow']);
    suite('unary', () => {
      for (const op of unaryOps) {
        it(op, () => {
          const g = new Generator(21);
          for (const n of [...SIZES, 0, 1000]) {
            const x = positive.has(op) ? rand(g, n, 0.05, 4) : rand(g, n, -12, 12);
            const want = new Float32Array(n), got = new Float32Array(n);
            ref.unary(op, x, want, n, 1.7);
            k.unary(op, x, got, n, 1.7);
            expectConform(got, want, `unary ${op} n=${n}`, { atol: 1e-6, rtol: 2e-6 });
          }
        });
      }
    });

    suite('unaryBackward', () => {
      for (const op of unaryOps) {
        it(op, () => {
          const g = new Generator(22);
          for (const n of [...SIZES, 1000]) {
            const x = positive.has(op) ? rand(g, n, 0.05, 4) : rand(g, n, -12, 12);
            const y = new Float32Array(n);
            ref.unary(op, x, y, n, 1.7);
            const dy = rand(g, n);
            const want = new Float32Array(n), got = new Float32Array(n);
            ref.unaryBackward(op, x, y, dy, want, n, 1.7);
            k.unaryBackward(op, x, y, dy, got, n, 1.7);
            expectConform(got, want, `unaryBackward ${op} n=${n}`, { atol: 1e-6, rtol: 2e-6 });
          }
        });
      }
    });

    // The rules computed from y (exp, tanh, sigmoid) are plain float64 arithmetic in ref: a backend has no
    // reason to differ by a bit, so these are held to equality, over every size class and edge values.
    it('unaryBackward exp, tanh, sigmoid bit for bit', () => {
      const g = new Generator(23);
      const edges = [0, -0, 1e-30, -1e-30, 1e-45, 88.8, 89, -104, -120, 20, -20, 9, -9, Infinity, -Infinity, NaN];
      for (const op of ['exp', 'tanh', 'sigmoid'] as const) {
        for (const n of [...SIZES, 1000, 4099]) {
          const x = rand(g, n, -25, 25);
          for (let i = 0; i < Math.min(n, edges.length); i++) x[(i * 7) % n] = edges[i]!;
          const y = new Float32Array(n);
          ref.unary(op, x, y, n, 0);
          const dy = rand(g, n, -3, 3);
          const want = new Float32Array(n), got = new Float32Array(n);
          ref.unaryBackward(op, x, y, dy, want, n, 0);
          k.unaryBackward(op, x, y, dy, got, n, 0);
          expectSameBits(got, want, `unaryBackward ${op} n=${n}`, (i) => ` y=${y[i]} dy=${dy[i]}`);
        }
      }
    });

    // tokenMix is the composed add/mul arithmetic in one pass: held to ref's bits, with and without m.
    it('tokenMix and tokenMixBackward bit for bit', () => {
      const g = new Generator(24);
      for (const [rows, d] of [[1, 1], [3, 5], [7, 17], [33, 3], [64, 256], [5, 1030]] as const) {
        for (const withM of [false, true]) {
          const n = rows * d, x = rand(g, n, -3, 3), xx = rand(g, n, -3, 3), c = rand(g, d), m = withM ? rand(g, n) : null, dy = rand(g, n, -2, 2);
          const what = `tokenMix rows=${rows} d=${d}${withM ? ' with m' : ''}`;
          const want = new Float32Array(n), got = new Float32Array(n);
          ref.tokenMix(x, xx, c, m, want, rows, d);
          k.tokenMix(x, xx, c, m, got, rows, d);
          expectSameBits(got, want, what);
          const wxx = new Float32Array(n), wm = new Float32Array(n), gxx = new Float32Array(n), gm = new Float32Array(n);
          ref.tokenMixBackward(dy, xx, c, m, wxx, wm, rows, d);
          k.tokenMixBackward(dy, xx, c, m, gxx, gm, rows, d);
          expectSameBits(gxx, wxx, `${what} gxx`);
          expectSameBits(gm, wm, `${what} gm`);
        }
      }
    });

    it('reluSquare and reluSquareBackward bit for bit', () => {
      const g = new Generator(25);
      for (const n of [...SIZES, 1000, 4099]) {
        const x = rand(g, n, -4, 4), dy = rand(g, n, -2, 2);
        for (let i = 0; i < Math.min(n, 6); i++) x[(i * 5) % n] = [0, -0, NaN, Infinity, -Infinity, 1e-30][i]!;
        const want = new Float32Array(n), got = new Float32Array(n);
        ref.reluSquare(x, want, n);
        k.reluSquare(x, got, n);
        expectSameBits(got, want, `reluSquare n=${n}`, (i) => ` x=${x[i]}`);
        const wdx = new Float32Array(n), gdx = new Float32Array(n);
        ref.reluSquareBackward(x, dy, wdx, n);
        k.reluSquareBackward(x, dy, gdx, n);
        expectSameBits(gdx, wdx, `reluSquareBackward n=${n}`, (i) => ` x=${x[i]}`);
      }
    });

    suite('binary', () => {
      const ops: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum'];
      const cases: { shape: number[]; as: number[]; bs: number[]; an: number; bn: number }[] = [
        { shape: [5, 7], as: [7, 1], bs: [7, 1], an: 35, bn: 35 },
        { shape: [3, 17], as: [17, 1], bs: [0, 1], an: 51, bn: 17 }, // row broadcast
        { shape: [3, 33], as: [33, 1], bs: [1, 0], an: 99, bn: 3 }, // column broadcast
        { shape: [2, 3, 5], as: [15, 5, 1], bs: [0, 0, 0], an: 30, bn: 1 }, // scalar
        { shape: [], as: [], bs: [], an: 1, bn: 1 },
        { shape: [0, 4], as: [4, 1], bs: [4, 1], an: 0, bn: 0 },
        // RWKV's shapes: a per-head scalar, a [heads, size] table, both operands broadcast, a bias over [b, t].
        { shape: [2, 3, 4, 9], as: [108, 36, 9, 1], bs: [12, 4, 1, 0], an: 216, bn: 24 },
        { shape: [2, 3, 4, 9], as: [0, 0, 9, 1], bs: [108, 36, 9, 1], an: 36, bn: 216 },
        { shape: [2, 3, 4, 9], as: [12, 4, 1, 0], bs: [0, 0, 0, 0], an: 24, bn: 1 },
        { shape: [3, 5, 18], as: [0, 18, 1], bs: [90, 18, 1], an: 90, bn: 270 },
        { shape: [1, 5, 1, 18], as: [0, 18, 0, 1], bs: [0, 0, 0, 1], an: 90, bn: 18 }, // size-1 dims
        { shape: [4, 7], as: [1, 0], bs: [0, 1], an: 4, bn: 7 }, // an outer product
        { shape: [2, 3, 2, 3, 5], as: [10, 0, 5, 0, 1], bs: [0, 15, 0, 5, 1], an: 20, bn: 45 }, // five dims that do not merge
      ];
      for (const op of ops) {
        it(op, () => {
          const g = new Generator(23);
          for (const c of cases) {
            const a = rand(g, c.an, 0.5, 2), b = rand(g, c.bn, 0.5, 2);
            const n = c.shape.reduce((p, q) => p * q, 1);
            const want = new Float32Array(n), got = new Float32Array(n);
            ref.binary(op, a, c.as, b, c.bs, want, c.shape);
            k.binary(op, a, c.as, b, c.bs, got, c.shape);
            expectConform(got, want, `binary ${op} [${c.shape}]`, { atol: 1e-7, rtol: 1e-6 });
          }
        });
      }
      // float32 add/sub/mul/div round once whichever way they are computed, and maximum/minimum select, so
      // every backend must give ref's bits (NaN, ±0 and ±∞ included).
      it('every op bit for bit, special values included', () => {
        const g = new Generator(26);
        const special = [NaN, 0, -0, Infinity, -Infinity, 1, -1, 3.5e38, 1e-40];
        const n = 4 * 9 * 33;
        const a = rand(g, n, -3, 3), b = rand(g, n, -3, 3);
        for (let i = 0; i < n; i += 7) a[i] = special[(i / 7) % special.length]!;
        for (let i = 0; i < n; i += 5) b[i] = special[(i / 5) % special.length]!;
        for (const op of ops) {
          for (const [as, bs] of [[[297, 33, 1], [297, 33, 1]], [[297, 33, 1], [0, 0, 1]], [[297, 33, 1], [9, 1, 0]], [[0, 0, 0], [297, 33, 1]]]) {
            const want = new Float32Array(n), got = new Float32Array(n);
            ref.binary(op, a, as!, b, bs!, want, [4, 9, 33]);
            k.binary(op, a, as!, b, bs!, got, [4, 9, 33]);
            expect(Array.from(got), `binary ${op} ${JSON.stringify([as, bs])}`).toEqual(Array.from(want));
          }
        }
      });
    });

    const reduceShapes: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [1, 33, 1], [17, 3, 1], [2, 1, 5], [4, 0, 3], [1, 1000, 1]];
    suite('reduceSum', () => {
      it('[outer, dim, inner] incl. tails and an empty dim', () => {
        const g = new Generator(24);
        for (const [o, d, i] of reduceShapes) {
          const x = rand(g, o * d * i);
          const want = new Float32Array(o * i), got = new Float32Array(o * i);
          ref.reduceSum(x, want, o, d, i);
          k.reduceSum(x, got, o, d, i);
          expectConform(got, want, `reduceSum ${o}×${d}×${i}`);
        }
      });
      it('bit for bit (float64 sums in ref\'s order), 16-column blocks and their tails', () => {
        const g = new Generator(27);
        for (const [o, d, i] of [...reduceShapes, [3, 9, 16], [2, 7, 35], [1, 64, 256], [5, 3, 48], [33, 13, 1]] as [number, number, number][]) {
          const x = rand(g, o * d * i, -1e3, 1e3);
          const want = new Float32Array(o * i), got = new Float32Array(o * i);
          ref.reduceSum(x, want, o, d, i);
          k.reduceSum(x, got, o, d, i);
          expect(Array.from(got), `reduceSum ${o}×${d}×${i}`).toEqual(Array.from(want));
        }
      });
    });

    suite('reduceMax', () => {
      it('values and argmax (first maximum)', () => {
        const g = new Generator(25);
        for (const [o, d, i] of reduceShapes.filter(([, d]) => d > 0)) {
          const x = rand(g, o * d * i);
          if (x.length > 2) x[1] = x[0]!; // a tie
          const want = new Float32Array(o * i), got = new Float32Array(o * i);
          const wa = new Int32Array(o * i), ga = new Int32Array(o * i);
          ref.reduceMax(x, want, wa, o, d, i);
          k.reduceMax(x, got, ga, o, d, i);
          expectConform(got, want, `reduceMax ${o}×${d}×${i}`, { atol: 0, rtol: 0 });
          expect(Array.from(ga)).toEqual(Array.from(wa));
        }
      });
    });

    suite('permute', () => {
      it('rank 2–4', () => {
        const g = new Generator(26);
        const cases: [number[], number[]][] = [[[3, 5], [1, 0]], [[2, 3, 7], [2, 0, 1]], [[1, 17, 3], [0, 2, 1]], [[2, 3, 4, 5], [3, 1, 0, 2]], [[0, 3], [1, 0]]];
        for (const [shape, perm] of cases) {
          const n = shape.reduce((p, q) => p * q, 1);
          const x = rand(g, n);
          const want = new Float32Array(n), got = new Float32Array(n);
          ref.permute(x, want, shape, perm);
          k.permute(x, got, shape, perm);
          expectConform(got, want, `permute [${shape}] by [${perm}]`, { atol: 0, rtol: 0 });
        }
      });
    });

    const rowShapes: [number, number][] = [[1, 1], [3, 5], [7, 17], [1, 33], [5, 3], [2, 1000], [0, 4]];
    suite('softmax', () => {
      for (const log of [false, true]) {
        it(log ? 'log-softmax' : 'softmax', () => {
          const g = new Generator(27);
          for (const [r, c] of rowShapes) {
            const x = rand(g, r * c, -20, 20);
            const want = new Float32Array(r * c), got = new Float32Array(r * c);
            ref.softmax(x, want, r, c, log);
            k.softmax(x, got, r, c, log);
            expectConform(got, want, `softmax ${r}×${c}`, { atol: 1e-6, rtol: 1e-5 });
          }
        });
      }
    });

    suite('softmaxBackward', () => {
      for (const log of [false, true]) {
        it(log ? 'log-softmax' : 'softmax', () => {
          const g = new Generator(28);
          for (const [r, c] of rowShapes) {
            const y = new Float32Array(r * c);
            ref.softmax(rand(g, r * c, -5, 5), y, r, c, log);
            const dy = rand(g, r * c);
            const want = new Float32Array(r * c), got = new Float32Array(r * c);
            ref.softmaxBackward(y, dy, want, r, c, log);
            k.softmaxBackward(y, dy, got, r, c, log);
            expectConform(got, want, `softmaxBackward ${r}×${c}`);
          }
        });
      }
    });

    const ceCase = (g: Generator, r: number, c: number) => {
      const logits = rand(g, r * c, -8, 8);
      const targets = new Int32Array(r);
      for (let i = 0; i < r; i++) targets[i] = i % 4 === 3 ? -100 : Math.floor(g.uniform() * c);
      return { logits, targets };
    };
    suite('crossEntropyForward', () => {
      it('with ignored rows', () => {
        const g = new Generator(29);
        for (const [r, c] of rowShapes) {
          const { logits, targets } = ceCase(g, r, c);
          const wl = new Float32Array(r), gl = new Float32Array(r), wp = new Float32Array(r * c), gp = new Float32Array(r * c);
          ref.crossEntropyForward(logits, targets, r, c, -100, wl, wp);
          k.crossEntropyForward(logits, targets, r, c, -100, gl, gp);
          expectConform(gl, wl, `crossEntropy loss ${r}×${c}`, { atol: 1e-6, rtol: 1e-5 });
          expectConform(gp, wp, `crossEntropy logp ${r}×${c}`, { atol: 1e-6, rtol: 1e-5 });
        }
      });
    });

    suite('crossEntropyBackward', () => {
      it('with ignored rows', () => {
        const g = new Generator(30);
        for (const [r, c] of rowShapes) {
          const { logits, targets } = ceCase(g, r, c);
          const logp = new Float32Array(r * c);
          ref.crossEntropyForward(logits, targets, r, c, -100, new Float32Array(r), logp);
          const dloss = rand(g, r);
          const want = new Float32Array(r * c), got = new Float32Array(r * c);
          ref.crossEntropyBackward(logp, targets, r, c, -100, dloss, want);
          k.crossEntropyBackward(logp, targets, r, c, -100, dloss, got);
          expectConform(got, want, `crossEntropyBackward ${r}×${c}`);
        }
      });
    });

    for (const affine of [true, false]) {
      suite('layerNormForward', () => {
        it(affine ? 'with weight and bias' : 'without affine', () => {
          const g = new Generator(31);
          for (const [r, c] of rowShapes) {
            const x = rand(g, r * c, -3, 5);
            const w = affine ? rand(g, c) : null, b = affine ? rand(g, c) : null;
            const wy = new Float32Array(r * c), gy = new Float32Array(r * c);
            const wm = new Float32Array(r), gm = new Float32Array(r), wr = new Float32Array(r), gr = new Float32Array(r);
            ref.layerNormForward(x, w, b, wy, wm, wr, r, c, 1e-5);
            k.layerNormForward(x, w, b, gy, gm, gr, r, c, 1e-5);
            expectConform(gy, wy, `layerNorm y ${r}×${c}`);
            expectConform(gm, wm, `layerNorm mean ${r}×${c}`);
            expectConform(gr, wr, `layerNorm rstd ${r}×${c}`);
          }
        });
      });
      suite('layerNormBackward', () => {
        it(affine ? 'with weight and bias' : 'without affine', () => {
          const g = new Generator(32);
          for (const [r, c] of rowShapes) {
            const x = rand(g, r * c, -3, 5);
            const w = affine ? rand(g, c) : null;
            const mean = new Float32Array(r), rstd = new Float32Array(r);
            ref.layerNormForward(x, w, null, new Float32Array(r * c), mean, rstd, r, c, 1e-5);
            const dy = rand(g, r * c);
            const wdx = new Float32Array(r * c), gdx = new Float32Array(r * c);
            const dw0 = rand(g, c), db0 = rand(g, c);
            const wdw = affine ? dw0.slice() : null, gdw = affine ? dw0.slice() : null;
            const wdb = affine ? db0.slice() : null, gdb = affine ? db0.slice() : null;
            ref.layerNormBackward(x, w, mean, rstd, dy, wdx, wdw, wdb, r, c);
            k.layerNormBackward(x, w, mean, rstd, dy, gdx, gdw, gdb, r, c);
            expectConform(gdx, wdx, `layerNorm dx ${r}×${c}`, normScale(dy, rstd, w));
            if (wdw && gdw) expectConform(gdw, wdw, `layerNorm dw ${r}×${c}`);
            if (wdb && gdb) expectConform(gdb, wdb, `layerNorm db ${r}×${c}`);
          }
        });
      });
      suite('rmsNormForward', () => {
        it(affine ? 'with weight' : 'without weight', () => {
          const g = new Generator(33);
          for (const [r, c] of rowShapes) {
            const x = rand(g, r * c, -3, 5);
            const w = affine ? rand(g, c) : null;
            const wy = new Float32Array(r * c), gy = new Float32Array(r * c), wr = new Float32Array(r), gr = new Float32Array(r);
            ref.rmsNormForward(x, w, wy, wr, r, c, 1e-6);
            k.rmsNormForward(x, w, gy, gr, r, c, 1e-6);
            expectConform(gy, wy, `rmsNorm y ${r}×${c}`);
            expectConform(gr, wr, `rmsNorm rstd ${r}×${c}`);
          }
        });
      });
      suite('rmsNormBackward', () => {
        it(affine ? 'with weight' : 'without weight', () => {
          const g = new Generator(34);
          for (const [r, c] of rowShapes) {
            const x = rand(g, r * c, -3, 5);
            const w = affine ? rand(g, c) : null;
            const rstd = new Float32Array(r);
            ref.rmsNormForward(x, w, new Float32Array(r * c), rstd, r, c, 1e-6);
            const dy = rand(g, r * c);
            const wdx = new Float32Array(r * c), gdx = new Float32Array(r * c);
            const dw0 = rand(g, c);
            const wdw = affine ? dw0.slice() : null, gdw = affine ? dw0.slice() : null;
            ref.rmsNormBackward(x, w, rstd, dy, wdx, wdw, r, c);
            k.rmsNormBackward(x, w, rstd, dy, gdx, gdw, r, c);
            expectConform(gdx, wdx, `rmsNorm dx ${r}×${c}`, normScale(dy, rstd, w));
            if (wdw && gdw) expectConform(gdw, wdw, `rmsNorm dw ${r}×${c}`);
          }
        });
      });
    }

    suite('indexSelect', () => {
      it('rows of a table', () => {
        const g = new Generator(35);
        for (const cols of SIZES) {
          const table = rand(g, 9 * cols);
          const idx = Int32Array.from([0, 8, 3, 3, 5]);
          const want = new Float32Array(idx.length * cols), got = new Float32Array(idx.length * cols);
          ref.indexSelect(table, idx, want, cols);
          k.indexSelect(table, idx, got, cols);
          expectConform(got, want, `indexSelect cols=${cols}`, { atol: 0, rtol: 0 });
        }
      });
    });

    suite('indexAdd', () => {
      it('repeated rows and a skipped index', () => {
        const g = new Generator(36);
        for (const cols of SIZES) {
          const idx = Int32Array.from([0, 8, 3, 3, 5, 2]);
          const dout = rand(g, idx.length * cols);
          const t0 = rand(g, 9 * cols);
          const want = t0.slice(), got = t0.slice();
          ref.indexAdd(want, idx, dout, cols, 2);
          k.indexAdd(got, idx, dout, cols, 2);
          expectConform(got, want, `indexAdd cols=${cols}`);
        }
      });
    });

    suite('sgdUpdate', () => {
      const variants = [
        { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 },
        { momentum: 0.9, dampening: 0.1, nesterov: false, weightDecay: 0.01 },
        { momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 0.001 },
      ];
      for (const v of variants) {
        it(JSON.stringify(v), () => {
          const g = new Generator(37);
          for (const n of [...SIZES, 1001]) {
            const p0 = rand(g, n), grad = rand(g, n), b0 = rand(g, n);
            for (const first of [true, false]) {
              const wp = p0.slice(), gp = p0.slice();
              const wb = v.momentum ? b0.slice() : null, gb = v.momentum ? b0.slice() : null;
              const o = { lr: 0.05, first, ...v };
              ref.sgdUpdate(wp, grad, wb, n, o);
              k.sgdUpdate(gp, grad, gb, n, o);
              expectConform(gp, wp, `sgd p n=${n}`, { atol: 1e-7, rtol: 1e-6 });
              if (wb && gb) expectConform(gb, wb, `sgd buf n=${n}`, { atol: 1e-7, rtol: 1e-6 });
            }
          }
        });
      }
    });

    suite('adamUpdate', () => {
      const variants = [
        { weightDecay: 0, decoupled: false, amsgrad: false },
        { weightDecay: 0.01, decoupled: false, amsgrad: false },
        { weightDecay: 0.1, decoupled: true, amsgrad: false },
        { weightDecay: 0.1, decoupled: true, amsgrad: true },
      ];
      for (const v of variants) {
        it(JSON.stringify(v), () => {
          const g = new Generator(38);
          for (const n of [...SIZES, 1001]) {
            for (const step of [1, 7]) {
              const p0 = rand(g, n), grad = rand(g, n), m0 = rand(g, n, -0.1, 0.1), v0 = rand(g, n, 0, 0.01), vm0 = rand(g, n, 0, 0.02);
              const w = { p: p0.slice(), m: m0.slice(), v: v0.slice(), vm: v.amsgrad ? vm0.slice() : null };
              const q = { p: p0.slice(), m: m0.slice(), v: v0.slice(), vm: v.amsgrad ? vm0.slice() : null };
              const o = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, step, ...v };
              ref.adamUpdate(w.p, grad, w.m, w.v, w.vm, n, o);
              k.adamUpdate(q.p, grad, q.m, q.v, q.vm, n, o);
              const t = { atol: 1e-6, rtol: 1e-5 };
              expectConform(q.p, w.p, `adam p n=${n} step=${step}`, t);
              expectConform(q.m, w.m, `adam m n=${n}`, t);
              expectConform(q.v, w.v, `adam v n=${n}`, t);
              if (w.vm && q.vm) expectConform(q.vm, w.vm, `adam vmax n=${n}`, t);
            }
          }
        });
      }
    });

    recurrentConformance(k);
    wkvConformance(make);
    scanConformance(make);
    attentionConformance(make);
    stepConformance(make);
  });
}

// ------------------------------------------------------------------ recurrent layers

interface RecCase { T: number; N: number; I: number; H: number; P?: number; bias?: boolean }
const REC_CASES: RecCase[] = [
  { T: 5, N: 3, I: 7, H: 5 },
  { T: 1, N: 1, I: 1, H: 1 },
  { T: 0, N: 2, I: 3, H: 3 },
  { T: 7, N: 1, I: 17, H: 33 },
  { T: 3, N: 5, I: 33, H: 17, bias: false },
  { T: 6, N: 7, I: 5, H: 8 },
];
const PROJ_CASES: RecCase[] = [{ T: 5, N: 3, I: 4, H: 7, P: 3 }, { T: 4, N: 1, I: 6, H: 17, P: 5, bias: false }];

function recurrentConformance(k: Kernels): void {
  const kinds: RecurrentKind[] = ['rnn_tanh', 'rnn_relu', 'lstm', 'gru', 'gru_reset_before'];
  for (const method of ['recurrentForward', 'recurrentBackward'] as const) {
    describe(method, () => {
      for (const kind of kinds) {
        const cases = kind === 'lstm' ? [...REC_CASES, ...PROJ_CASES] : REC_CASES;
        for (const c of cases) {
          for (const reverse of [false, true]) {
            for (const varlen of [false, true]) {
              const P = c.P ?? c.H;
              it(`${kind} T=${c.T} N=${c.N} I=${c.I} H=${c.H}${P !== c.H ? ` P=${P}` : ''}${c.bias === false ? ' no bias' : ''}${reverse ? ' reverse' : ''}${varlen ? ' lengths' : ''}`, () => {
                checkRecurrent(k, kind, c, reverse, varlen, method === 'recurrentBackward');
              });
            }
          }
        }
      }
    });
  }
}

function checkRecurrent(k: Kernels, kind: RecurrentKind, c: RecCase, reverse: boolean, varlen: boolean, backward: boolean): void {
  const { T, N, I, H } = c;
  const P = c.P ?? H;
  const g = new Generator(T * 1000 + N * 100 + H + (reverse ? 7 : 0) + (varlen ? 13 : 0));
  const GH = GATES[kind] * H;
  const ws = 1 / Math.sqrt(H);
  let lengths: Int32Array | null = null;
  if (varlen) {
    lengths = new Int32Array(N);
    for (let n = 0; n < N; n++) lengths[n] = n === 0 ? T : n === 1 ? 0 : Math.floor(g.uniform() * (T + 1));
  }
  const s: RecurrentShape = { kind, T, N, I, H, P, reverse, lengths };
  const w: RecurrentWeights = {
    wih: rand(g, GH * I, -ws, ws), whh: rand(g, GH * P, -ws, ws),
    bih: c.bias === false ? null : rand(g, GH, -ws, ws), bhh: c.bias === false ? null : rand(g, GH, -ws, ws),
    whr: P !== H ? rand(g, P * H, -ws, ws) : null,
  };
  const x = rand(g, T * N * I, -2, 2), h0 = rand(g, N * P), c0 = kind === 'lstm' ? rand(g, N * H) : null;
  const sizes = recurrentSavedSizes(s);
  const outs = () => ({
    y: new Float32Array(T * N * P), hn: new Float32Array(N * P), cn: kind === 'lstm' ? new Float32Array(N * H) : null,
    saved: { gates: new Float32Array(sizes.gates), h: new Float32Array(sizes.h), c: new Float32Array(sizes.c), aux: new Float32Array(sizes.aux) } satisfies RecurrentSaved,
  });
  const want = outs(), got = outs();
  refKernels.recurrentForward(s, x, w, h0, c0, want.y, want.hn, want.cn, want.saved);
  if (!backward) {
    k.recurrentForward(s, x, w, h0, c0, got.y, got.hn, got.cn, got.saved);
    expectConform(got.y, want.y, 'y');
    expectConform(got.hn, want.hn, 'hn');
    if (got.cn && want.cn) expectConform(got.cn, want.cn, 'cn');
    for (const key of ['gates', 'h', 'c', 'aux'] as const) expectConform(got.saved[key], want.saved[key], `saved.${key}`);
    // Without saved buffers (no backward to feed) the backend keeps them as scratch: the same bits out.
    const bare = outs();
    k.recurrentForward(s, x, w, h0, c0, bare.y, bare.hn, bare.cn, null);
    expect(Array.from(bare.y)).toEqual(Array.from(got.y));
    expect(Array.from(bare.hn)).toEqual(Array.from(got.hn));
    expect(Array.from(bare.cn ?? [])).toEqual(Array.from(got.cn ?? []));
    return;
  }
  // Backward from the reference's saved buffers, so both backends see identical inputs.
  const dy = rand(g, T * N * P), dhn = rand(g, N * P), dcn = kind === 'lstm' ? rand(g, N * H) : null;
  const grads = (): RecurrentGrads => ({
    dx: new Float32Array(T * N * I), dh0: new Float32Array(N * P), dc0: kind === 'lstm' ? new Float32Array(N * H) : null,
    // Weight gradients accumulate: start from the same non-zero values.
    dwih: new Float32Array(GH * I).fill(0.25), dwhh: new Float32Array(GH * P).fill(-0.5),
    dbih: w.bih ? new Float32Array(GH).fill(0.125) : null, dbhh: w.bhh ? new Float32Array(GH).fill(1) : null,
    dwhr: w.whr ? new Float32Array(P * H).fill(0.75) : null,
  });
  for (const [withDy, withDhn] of [[true, true], [true, false], [false, true]] as const) {
    const gw = grads(), gg = grads();
    const args = [withDy ? dy : null, withDhn ? dhn : null, withDhn ? dcn : null] as const;
    refKernels.recurrentBackward(s, x, w, h0, c0, want.saved, ...args, gw);
    k.recurrentBackward(s, x, w, h0, c0, want.saved, ...args, gg);
    const tag = `dy=${withDy} dhn=${withDhn}`;
    for (const key of ['dx', 'dh0', 'dc0', 'dwih', 'dwhh', 'dbih', 'dbhh', 'dwhr'] as const) {
      const a = gg[key], b = gw[key];
      if (a && b) expectConform(a, b, `${key} (${tag})`);
    }
  }
}
