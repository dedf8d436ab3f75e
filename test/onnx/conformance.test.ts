/**
 * ONNX RNN / GRU / LSTM operator semantics (src/io/onnx-rnn.ts):
 * - the 18 ONNX backend node tests in ../shared/conformance/onnx (case.json twins, ONNX 1.12 + upstream
 *   direction cases) and seqlab's own cases in test/golden/onnx (tools/golden/gen_onnx_extra.py), each through
 *   the automatic path and the per-timestep path (and the fused path where it applies), compared with ONNX's
 *   backend-test tolerance (rtol 1e-3, atol 1e-7) and a tighter one (atol 1e-5, rtol 1e-5);
 * - fused path == step path on random float64 cases, values and gradients of every input;
 * - spec readings pinned: reverse + sequence_lens, zero lengths, clip on h's input, input_forget, activation
 *   parameters;
 * - ONNX ↔ PyTorch weight conversion round trip, and against nn.RNN / nn.LSTM / nn.GRU;
 * - error messages.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';
import {
  ONNX_FROM_TORCH, ONNX_GATE_ORDER, TORCH_FROM_ONNX, TORCH_GATE_ORDER, onnxToTorchWeights, parseOnnxRecurrentAttributes,
  runOnnxRecurrent, torchToOnnxWeights, type OnnxRecurrentInputs, type OnnxRecurrentNode, type OnnxRecurrentOperator,
  type OnnxRecurrentOutputs, type RunOnnxRecurrentOptions,
} from '../../src/io/onnx-rnn.js';
import { expectClose, expectGradOk } from '../helpers.js';

// ------------------------------------------------------------------ case.json loading

interface CaseTensor { name: string; dtype: 'float32' | 'int32'; dims: number[]; data: number[] }
interface CaseFile {
  case: string;
  operator: OnnxRecurrentOperator;
  attributes: Record<string, unknown>;
  node_inputs: string[];
  node_outputs: string[];
  inputs: CaseTensor[];
  outputs: CaseTensor[];
}
interface LoadedCase {
  name: string;
  node: OnnxRecurrentNode;
  inputs: OnnxRecurrentInputs;
  expected: { role: 'Y' | 'Y_h' | 'Y_c'; dims: number[]; data: Float32Array }[];
}

const INPUT_ROLES = ['X', 'W', 'R', 'B', 'sequence_lens', 'initial_h', 'initial_c', 'P'] as const;
const OUTPUT_ROLES = ['Y', 'Y_h', 'Y_c'] as const;

function loadCase(path: string): LoadedCase {
  const c = JSON.parse(readFileSync(path, 'utf8')) as CaseFile;
  const inputs: Record<string, unknown> = {};
  for (const t of c.inputs) {
    const role = INPUT_ROLES[c.node_inputs.indexOf(t.name)];
    if (!role) throw new Error(`${c.case}: input ${t.name} is not in node_inputs ${c.node_inputs.join(', ')}`);
    inputs[role] = t.dtype === 'int32' ? Int32Array.from(t.data) : sl.tensor(Float32Array.from(t.data), t.dims);
  }
  const expected = c.outputs.map((t) => {
    const role = OUTPUT_ROLES[c.node_outputs.indexOf(t.name)];
    if (!role) throw new Error(`${c.case}: output ${t.name} is not in node_outputs ${c.node_outputs.join(', ')}`);
    return { role, dims: t.dims, data: Float32Array.from(t.data) };
  });
  return { name: c.case, node: { operator: c.operator, attributes: c.attributes }, inputs: inputs as unknown as OnnxRecurrentInputs, expected };
}

function casesIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((d) => existsSync(join(dir, d, 'case.json'))).sort().map((d) => join(dir, d, 'case.json'));
}

const SHARED = fileURLToPath(new URL('../../../shared/conformance/onnx', import.meta.url));
const OWN = fileURLToPath(new URL('../golden/onnx', import.meta.url));
const haveShared = existsSync(SHARED);
if (!haveShared) {
  console.warn(`[onnx conformance] ${SHARED} (../shared/conformance/onnx) is absent: skipping the 18 ONNX backend cases. CI always has them.`);
}

/** Cases whose node the fused layer cannot run (peepholes, clip, input_forget, non-default activations). */
const STEP_ONLY = new Set([
  'test_lstm_with_peepholes', 'lstm_peepholes_seq4', 'lstm_clip', 'lstm_input_forget', 'gru_hardsigmoid_softsign',
  'gru_affine_thresholdedrelu', 'lstm_hardsigmoid_leakyrelu_softplus', 'lstm_activation_defaults',
  'rnn_bidirectional_scaledtanh_elu', 'lstm_bidirectional_layout1_everything',
]);

function checkCase(c: LoadedCase, path: NonNullable<RunOnnxRecurrentOptions['path']>): void {
  const out = runOnnxRecurrent(c.node, c.inputs, { path });
  for (const e of c.expected) {
    const got = out[e.role];
    expect(got, `${c.name} ${e.role}`).toBeDefined();
    expect([...got!.shape], `${c.name} ${e.role} shape`).toEqual(e.dims);
    expectClose(got!, e.data, 1e-7, 1e-3, `${c.name} ${e.role} (ONNX tolerance, path ${path})`);
    expectClose(got!, e.data, 1e-5, 1e-5, `${c.name} ${e.role} (tight tolerance, path ${path})`);
  }
}

function conformanceSuite(files: string[]): void {
  for (const file of files) {
    const c = loadCase(file);
    it(`${c.name}`, () => {
      checkCase(c, 'auto');
      checkCase(c, 'steps');
      if (STEP_ONLY.has(c.name)) {
        expect(() => runOnnxRecurrent(c.node, c.inputs, { path: 'fused' })).toThrow(sl.ConfigError);
      } else {
        checkCase(c, 'fused');
      }
    });
  }
}

describe.skipIf(!haveShared)('ONNX backend node tests (../shared/conformance/onnx)', () => {
  const files = casesIn(SHARED);
  it('has all 18 cases', () => expect(files.length).toBe(18));
  conformanceSuite(files);
});

describe('seqlab extra ONNX cases (test/golden/onnx)', () => {
  const files = casesIn(OWN);
  it('has all 21 cases', () => expect(files.length).toBe(21));
  conformanceSuite(files);
});

// ------------------------------------------------------------------ random cases

const G = { RNN: 1, GRU: 3, LSTM: 4 } as const;
let seed = 1000;

function rnd(shape: number[], scale = 0.5, grad = true): sl.Tensor {
  const t = sl.randn(shape, { seed: seed++, dtype: 'float64' });
  for (let i = 0; i < t.size; i++) t.buf[i] = t.buf[i]! * scale;
  t.requiresGrad = grad;
  return t;
}

interface RandomSpec {
  op: OnnxRecurrentOperator;
  direction?: 'forward' | 'reverse' | 'bidirectional';
  layout?: 0 | 1;
  lens?: number[];
  lbr?: number;
  bias?: boolean;
  states?: boolean;
  zeroP?: boolean;
  /** With zeroP: the zero P still requires a gradient. */
  zeroPGrad?: boolean;
  attrs?: Record<string, unknown>;
  P?: boolean;
}

function randomCase(s: RandomSpec, T = 4, N = 3, I = 3, H = 3): { node: OnnxRecurrentNode; inputs: OnnxRecurrentInputs; leaves: [string, sl.Tensor][] } {
  const D = s.direction === 'bidirectional' ? 2 : 1;
  const layout = s.layout ?? 0;
  const g = G[s.op];
  const attributes: Record<string, unknown> = { hidden_size: H, ...(s.attrs ?? {}) };
  if (s.direction) attributes['direction'] = s.direction;
  if (layout) attributes['layout'] = layout;
  if (s.lbr !== undefined) attributes['linear_before_reset'] = s.lbr;
  const inputs: Record<string, unknown> = {
    X: rnd(layout === 0 ? [T, N, I] : [N, T, I], 1), W: rnd([D, g * H, I]), R: rnd([D, g * H, H]),
  };
  if (s.bias !== false) inputs['B'] = rnd([D, 2 * g * H]);
  if (s.lens) inputs['sequence_lens'] = s.lens;
  const st = layout === 0 ? [D, N, H] : [N, D, H];
  if (s.states !== false) {
    inputs['initial_h'] = rnd(st);
    if (s.op === 'LSTM') inputs['initial_c'] = rnd(st);
  }
  if (s.op === 'LSTM' && (s.zeroP || s.P)) {
    const P = rnd([D, 3 * H], 0.5, !s.zeroP || !!s.zeroPGrad);
    if (s.zeroP) P.buf.fill(0);
    inputs['P'] = P;
  }
  const leaves = Object.entries(inputs).filter((e): e is [string, sl.Tensor] => e[1] instanceof sl.Tensor && e[1].requiresGrad);
  return { node: { operator: s.op, attributes }, inputs: inputs as unknown as OnnxRecurrentInputs, leaves };
}

/** Values and gradients (of L = Σ out ⊙ up) of every float input, through the given path. */
function valuesAndGrads(c: ReturnType<typeof randomCase>, path: 'fused' | 'steps'): { out: OnnxRecurrentOutputs; grads: Record<string, Float64Array> } {
  for (const [, t] of c.leaves) t.grad = null;
  const out = runOnnxRecurrent(c.node, c.inputs, { path });
  let loss: sl.Tensor | null = null;
  let k = 77;
  for (const o of [out.Y, out.Y_h, out.Y_c]) {
    if (!o) continue;
    const up = sl.randn(o.shape, { seed: k++, dtype: 'float64' });
    const term = sl.sum(sl.mul(o, up));
    loss = loss ? sl.add(loss, term) : term;
  }
  sl.backward(loss!);
  const grads: Record<string, Float64Array> = {};
  for (const [name, t] of c.leaves) grads[name] = Float64Array.from(t.grad ? t.grad.buf : new Float64Array(t.size));
  return { out, grads };
}

describe('fused path == step path (random float64 cases)', () => {
  const specs: RandomSpec[] = [];
  for (const op of ['RNN', 'GRU', 'LSTM'] as const) {
    for (const direction of ['forward', 'reverse', 'bidirectional'] as const) {
      for (const layout of [0, 1] as const) {
        for (const lens of [undefined, [4, 2, 1], [0, 3, 4]]) {
          const base: RandomSpec = { op, direction, layout, ...(lens ? { lens } : {}) };
          if (op === 'GRU') specs.push({ ...base, lbr: 0 }, { ...base, lbr: 1 });
          else specs.push(base);
        }
      }
    }
    specs.push({ op, bias: false, states: false });
  }
  specs.push({ op: 'RNN', attrs: { activations: ['Relu'] } });
  specs.push({ op: 'RNN', direction: 'bidirectional', lens: [2, 4, 3], attrs: { activations: ['Relu', 'Tanh'] } });
  specs.push({ op: 'LSTM', zeroP: true, direction: 'bidirectional' });

  for (const s of specs) {
    const label = `${s.op} ${s.direction ?? 'forward'} layout=${s.layout ?? 0}${s.lens ? ` lens=[${s.lens}]` : ''}`
      + `${s.lbr !== undefined ? ` lbr=${s.lbr}` : ''}${s.bias === false ? ' no B, no states' : ''}${s.attrs ? ` ${JSON.stringify(s.attrs)}` : ''}${s.zeroP ? ' zero P' : ''}`;
    it(label, () => {
      const c = randomCase(s);
      const a = valuesAndGrads(c, 'fused');
      const b = valuesAndGrads(c, 'steps');
      for (const k of ['Y', 'Y_h', 'Y_c'] as const) {
        expect(!!a.out[k]).toBe(!!b.out[k]);
        if (a.out[k]) expectClose(a.out[k]!, b.out[k]!, 1e-12, 1e-10, `${label} ${k}`);
      }
      for (const k of Object.keys(a.grads)) expectClose(a.grads[k]!, b.grads[k]!, 1e-11, 1e-9, `${label} d${k}`);
    });
  }
});

describe('step path gradients (finite differences, float64)', () => {
  const cases: [string, RandomSpec][] = [
    ['LSTM peepholes + clip + bidirectional + lens', { op: 'LSTM', P: true, direction: 'bidirectional', lens: [3, 1, 2], attrs: { clip: 0.7 } }],
    ['LSTM input_forget, Softsign/ScaledTanh/Softplus', {
      op: 'LSTM', P: true, attrs: { input_forget: 1, activations: ['Softsign', 'ScaledTanh', 'Softplus'], activation_alpha: [1.3], activation_beta: [0.8] },
    }],
    ['GRU Elu/Affine reverse layout 1', { op: 'GRU', direction: 'reverse', layout: 1, attrs: { activations: ['Elu', 'Affine'], activation_alpha: [1, 0.7], activation_beta: [0.1] } }],
    ['RNN ScaledTanh lens', { op: 'RNN', lens: [2, 3, 1], attrs: { activations: ['ScaledTanh'], activation_alpha: [1.2], activation_beta: [0.9] } }],
  ];
  for (const [label, s] of cases) {
    it(label, () => {
      const c = randomCase(s, 3, 3, 2, 2);
      expectGradOk(() => {
        const o = runOnnxRecurrent(c.node, c.inputs, { path: 'steps' });
        return [o.Y, o.Y_h, ...(o.Y_c ? [o.Y_c] : [])];
      }, c.leaves.map(([, t]) => t));
    });
  }

  it('zero peepholes that want a gradient take the step path and get one', () => {
    const c = randomCase({ op: 'LSTM', zeroP: true, zeroPGrad: true });
    const P = c.inputs.P!;
    const fused = runOnnxRecurrent(c.node, { ...c.inputs, P: sl.zeros(P.shape, { dtype: 'float64' }) }, { path: 'fused' });
    const { out, grads } = valuesAndGrads(c, 'steps');
    expectClose(out.Y, fused.Y, 1e-12, 1e-10, 'Y');
    expect(Math.max(...grads['P']!.map(Math.abs))).toBeGreaterThan(1e-3);
    P.grad = null;
    const auto = runOnnxRecurrent(c.node, c.inputs);
    sl.backward(sl.sum(auto.Y_h));
    expect(P.grad).not.toBeNull();
  });
});

// ------------------------------------------------------------------ spec readings

const f64 = (data: number[], shape: number[]): sl.Tensor => sl.tensor(Float64Array.from(data), shape);
const sigm = (x: number): number => 1 / (1 + Math.exp(-x));
const clamp = (x: number, c: number): number => Math.min(Math.max(x, -c), c);

describe('spec readings', () => {
  it('reverse with sequence_lens starts at each sequence\'s own last step (= running it alone, unpadded)', () => {
    for (const op of ['RNN', 'GRU', 'LSTM'] as const) {
      for (const direction of ['reverse', 'bidirectional'] as const) {
        const lens = [2, 5, 3];
        const c = randomCase({ op, direction, lens }, 5, 3, 2, 3);
        for (const path of ['fused', 'steps'] as const) {
          const full = runOnnxRecurrent(c.node, c.inputs, { path });
          const D = direction === 'bidirectional' ? 2 : 1;
          lens.forEach((L, n) => {
            const one = (t: sl.Tensor | undefined, dim: number, len?: number): sl.Tensor | undefined =>
              t === undefined ? undefined : len === undefined ? sl.narrow(t, dim, n, 1) : sl.narrow(sl.narrow(t, dim, n, 1), 0, 0, len);
            const alone = runOnnxRecurrent(c.node, {
              X: one(c.inputs.X, 1, L)!, W: c.inputs.W, R: c.inputs.R, ...(c.inputs.B ? { B: c.inputs.B } : {}),
              ...(c.inputs.initial_h ? { initial_h: one(c.inputs.initial_h, 1)! } : {}),
              ...(c.inputs.initial_c ? { initial_c: one(c.inputs.initial_c, 1)! } : {}),
            }, { path });
            const H = 3;
            expectClose(sl.narrow(full.Y_h, 1, n, 1), alone.Y_h, 1e-12, 1e-10, `${op} ${direction} Y_h[${n}]`);
            if (op === 'LSTM') expectClose(sl.narrow(full.Y_c!, 1, n, 1), alone.Y_c!, 1e-12, 1e-10, `${op} Y_c[${n}]`);
            const yn = sl.narrow(full.Y, 2, n, 1); // [T, D, 1, H]
            expectClose(sl.narrow(yn, 0, 0, L), alone.Y, 1e-12, 1e-10, `${op} ${direction} Y[:${L}, :, ${n}]`);
            expect(Array.from(sl.narrow(yn, 0, L, 5 - L).buf).every((v) => v === 0), 'zeros past the length').toBe(true);
            expect(alone.Y.shape).toEqual([L, D, 1, H]);
          });
        }
      }
    }
  });

  it('a zero length leaves the initial state in Y_h / Y_c and zeros in Y', () => {
    const c = randomCase({ op: 'LSTM', direction: 'bidirectional', lens: [0, 4, 2] });
    for (const path of ['fused', 'steps'] as const) {
      const o = runOnnxRecurrent(c.node, c.inputs, { path });
      expectClose(sl.narrow(o.Y_h, 1, 0, 1), sl.narrow(c.inputs.initial_h!, 1, 0, 1), 0, 0, 'Y_h');
      expectClose(sl.narrow(o.Y_c!, 1, 0, 1), sl.narrow(c.inputs.initial_c!, 1, 0, 1), 0, 0, 'Y_c');
      expect(Array.from(sl.narrow(o.Y, 2, 0, 1).buf).every((v) => v === 0)).toBe(true);
    }
  });

  it('clip bounds every activation input, h\'s input C_t included, but not the carried C_t', () => {
    // One step, H = I = N = 1: x = 1, gates i, o, f, c pre-activations = W (no R effect: h0 = 0), C_{t-1} = 4.
    const W = [2.0, -0.5, 3.0, 1.5]; // i, o, f, c
    const clip = 1;
    const node: OnnxRecurrentNode = { operator: 'LSTM', attributes: { hidden_size: 1, clip } };
    const o = runOnnxRecurrent(node, {
      X: f64([1], [1, 1, 1]), W: f64(W, [1, 4, 1]), R: f64([0, 0, 0, 0], [1, 4, 1]),
      initial_c: f64([4], [1, 1, 1]),
    });
    const i = sigm(clamp(W[0]!, clip)), f = sigm(clamp(W[2]!, clip)), g = Math.tanh(clamp(W[3]!, clip));
    const C = f * 4 + i * g; // ≈ 3.4, beyond the clip: carried unclipped
    const oo = sigm(clamp(W[1]!, clip));
    expect(C).toBeGreaterThan(clip);
    expectClose(o.Y_c!, [C], 1e-12, 0, 'Y_c');
    expectClose(o.Y_h, [oo * Math.tanh(clamp(C, clip))], 1e-12, 0, 'Y_h = o ⊙ h(clip(C_t))');
    expect(Math.abs(o.Y_h.buf[0]! - oo * Math.tanh(C))).toBeGreaterThan(1e-3); // the ONNX Runtime reading differs
  });

  it('input_forget=1 uses f = 1 − i and ignores Pf and the f rows of W, R, B', () => {
    const c = randomCase({ op: 'LSTM', P: true, attrs: { input_forget: 1 } });
    const base = runOnnxRecurrent(c.node, c.inputs);
    const H = 3;
    // Add 0.7 to rows [start, start + len) of dim 1 (the gate rows of W, R; the entries of B and P).
    const bumpRows = (t: sl.Tensor, ranges: [number, number][]): sl.Tensor => {
      const out = sl.tensor(Float64Array.from(t.buf), t.shape);
      const inner = t.ndim === 3 ? t.shape[2]! : 1, rows = t.shape[1]!;
      for (let k = 0; k < t.size; k++) {
        const r = Math.floor(k / inner) % rows;
        if (ranges.some(([a, n]) => r >= a && r < a + n)) out.buf[k] = out.buf[k]! + 0.7;
      }
      return out;
    };
    const fRows: [number, number][] = [[2 * H, H]]; // i, o, f, c: f is block 2; P is i, o, f: also block 2
    const changed = runOnnxRecurrent(c.node, {
      ...c.inputs, W: bumpRows(c.inputs.W, fRows), R: bumpRows(c.inputs.R, fRows), P: bumpRows(c.inputs.P!, fRows),
      B: bumpRows(c.inputs.B!, [[2 * H, H], [6 * H, H]]),
    });
    expectClose(changed.Y, base.Y, 0, 0, 'Y unchanged by f rows and Pf');
    const withoutCoupling = runOnnxRecurrent({ operator: 'LSTM', attributes: { hidden_size: H } }, c.inputs);
    expect(Math.max(...Array.from(withoutCoupling.Y.buf, (v, k) => Math.abs(v - base.Y.buf[k]!)))).toBeGreaterThan(1e-3);
  });

  it('activation_alpha/beta are consumed in order by the activations that take them; defaults otherwise', () => {
    const parse = (operator: OnnxRecurrentOperator, attributes: Record<string, unknown>) => parseOnnxRecurrentAttributes({ operator, attributes }).activations;
    expect(parse('GRU', { hidden_size: 2, activations: ['Tanh', 'LeakyRelu'], activation_alpha: [0.5] })).toEqual([[
      { name: 'Tanh', alpha: 0, beta: 0 }, { name: 'LeakyRelu', alpha: 0.5, beta: 0 },
    ]]);
    expect(parse('LSTM', { hidden_size: 2, activations: ['hardsigmoid', 'THRESHOLDEDRELU', 'Elu'] })).toEqual([[
      { name: 'HardSigmoid', alpha: Math.fround(0.2), beta: 0.5 }, { name: 'ThresholdedRelu', alpha: 1, beta: 0 }, { name: 'Elu', alpha: 1, beta: 0 },
    ]]);
    // Bidirectional: forward functions first; one direction's list applies to both.
    expect(parse('RNN', { hidden_size: 2, direction: 'bidirectional', activations: ['Affine', 'LeakyRelu'], activation_alpha: [2, 0.3] })).toEqual([
      [{ name: 'Affine', alpha: 2, beta: 0 }], [{ name: 'LeakyRelu', alpha: 0.3, beta: 0 }],
    ]);
    expect(parse('RNN', { hidden_size: 2, direction: 'bidirectional', activations: ['Relu'] })).toEqual([
      [{ name: 'Relu', alpha: 0, beta: 0 }], [{ name: 'Relu', alpha: 0, beta: 0 }],
    ]);
    expect(parse('GRU', { hidden_size: 2 })).toEqual([[{ name: 'Sigmoid', alpha: 0, beta: 0 }, { name: 'Tanh', alpha: 0, beta: 0 }]]);
  });

  it('each activation follows the ONNX formula', () => {
    const xs = [-2.5, -0.3, 0, 0.15, 0.4, 3];
    const table: [string, number, number, (x: number) => number][] = [
      ['Relu', 0, 0, (x) => Math.max(0, x)],
      ['Tanh', 0, 0, Math.tanh],
      ['Sigmoid', 0, 0, sigm],
      ['Affine', 0.7, -0.2, (x) => 0.7 * x - 0.2],
      ['LeakyRelu', 0.1, 0, (x) => (x >= 0 ? x : 0.1 * x)],
      ['ThresholdedRelu', 0.15, 0, (x) => (x >= 0.15 ? x : 0)],
      ['ScaledTanh', 1.5, 0.6, (x) => 1.5 * Math.tanh(0.6 * x)],
      ['HardSigmoid', 0.3, 0.4, (x) => Math.min(Math.max(0.3 * x + 0.4, 0), 1)],
      ['Elu', 0.8, 0, (x) => (x >= 0 ? x : 0.8 * (Math.exp(x) - 1))],
      ['Softsign', 0, 0, (x) => x / (1 + Math.abs(x))],
      ['Softplus', 0, 0, (x) => Math.log(1 + Math.exp(x))],
    ];
    for (const [name, alpha, beta, fn] of table) {
      // RNN, H = I = 1, W = 1, R = 0: Y = f(x).
      const o = runOnnxRecurrent({ operator: 'RNN', attributes: { hidden_size: 1, activations: [name], activation_alpha: [alpha], activation_beta: [beta] } }, {
        X: f64(xs, [xs.length, 1, 1]), W: f64([1], [1, 1, 1]), R: f64([0], [1, 1, 1]),
      });
      expectClose(o.Y, xs.map(fn), 1e-12, 1e-12, name);
    }
  });
});

// ------------------------------------------------------------------ weight conversion

describe('ONNX ↔ PyTorch weights', () => {
  it('the gate tables are inverse permutations that map gate names onto each other', () => {
    const same: Record<string, string> = { i: 'i', f: 'f', o: 'o', c: 'g', z: 'z', r: 'r', h: 'n' };
    for (const op of ['RNN', 'GRU', 'LSTM'] as const) {
      TORCH_FROM_ONNX[op].forEach((k, j) => expect(ONNX_FROM_TORCH[op][k]).toBe(j));
      if (op !== 'RNN') {
        TORCH_FROM_ONNX[op].forEach((k, j) => expect(same[ONNX_GATE_ORDER[op][k]!]).toBe(TORCH_GATE_ORDER[op][j]));
      }
    }
  });

  for (const op of ['RNN', 'GRU', 'LSTM'] as const) {
    for (const bidir of [false, true]) {
      for (const bias of [true, false]) {
        it(`${op}${bidir ? ' bidirectional' : ''}${bias ? '' : ' without B'}: round trip, and nn.${op} gives the node's outputs`, () => {
          const lbr = op === 'GRU' ? (bidir ? 1 : 0) : undefined;
          const c = randomCase({ op, direction: bidir ? 'bidirectional' : 'forward', bias, ...(lbr !== undefined ? { lbr } : {}) }, 5, 2, 3, 4);
          const { W, R } = c.inputs;
          const sd = onnxToTorchWeights(op, { W, R, ...(c.inputs.B ? { B: c.inputs.B } : {}) }, { layer: 0 });
          const suffixes = bidir ? ['', '_reverse'] : [''];
          const names = suffixes.flatMap((s) => ['weight_ih', 'weight_hh', ...(bias ? ['bias_ih', 'bias_hh'] : [])].map((n) => `${n}_l0${s}`));
          expect(Object.keys(sd).sort()).toEqual(names.sort());
          const back = torchToOnnxWeights(op, sd);
          expect(back.direction).toBe(bidir ? 'bidirectional' : 'forward');
          expect([back.hiddenSize, back.inputSize]).toEqual([4, 3]);
          expectClose(back.W, W, 0, 0, 'W');
          expectClose(back.R, R, 0, 0, 'R');
          if (bias) expectClose(back.B!, c.inputs.B!, 0, 0, 'B');
          else expect(back.B).toBeNull();

          // The same weights in seqlab's PyTorch-compatible modules.
          const base = { inputSize: 3, hiddenSize: 4, bidirectional: bidir, bias };
          const m = op === 'RNN' ? new sl.nn.RNN(base) : op === 'LSTM' ? new sl.nn.LSTM(base) : new sl.nn.GRU({ ...base, resetAfter: lbr === 1 });
          m.loadStateDict(sd);
          const h = c.inputs.initial_h!, cc = c.inputs.initial_c;
          const st = (cc ? { h, c: cc } : { h }) as never;
          const r = m.forward(c.inputs.X, st);
          const out = runOnnxRecurrent(c.node, c.inputs, { path: 'steps' });
          const D = bidir ? 2 : 1;
          // Y [T, D, N, H] → [T, N, D·H], PyTorch's layout.
          expectClose(r.output, sl.reshape(sl.permute(out.Y, [0, 2, 1, 3]), [5, 2, D * 4]), 1e-6, 1e-5, 'output');
          expectClose((r.state as { h: sl.Tensor }).h, out.Y_h, 1e-6, 1e-5, 'h_n');
          if (op === 'LSTM') expectClose((r.state as unknown as { c: sl.Tensor }).c, out.Y_c!, 1e-6, 1e-5, 'c_n');

          // And back: the module's state dict → ONNX weights → the node gives the module's outputs.
          const w = torchToOnnxWeights(op, m.stateDict());
          const again = runOnnxRecurrent(c.node, { ...c.inputs, W: w.W, R: w.R, ...(w.B ? { B: w.B } : {}) });
          expectClose(again.Y, out.Y, 1e-6, 1e-5, 'Y from exported weights');
        });
      }
    }
  }

  it('layer and prefix options, projection and missing keys', () => {
    const c = randomCase({ op: 'LSTM' });
    const sd = onnxToTorchWeights('LSTM', { W: c.inputs.W, R: c.inputs.R }, { layer: 2, prefix: 'enc.' });
    expect(Object.keys(sd).sort()).toEqual(['enc.weight_hh_l2', 'enc.weight_ih_l2']);
    expect(torchToOnnxWeights('LSTM', sd, { layer: 2, prefix: 'enc.' }).B).toBeNull();
    expect(() => torchToOnnxWeights('LSTM', sd)).toThrowErrorMatchingInlineSnapshot(`[WeightImportError: onnx.LSTM.fromTorchWeights: missing expected keys weight_ih_l0, weight_hh_l0, got keys enc.weight_ih_l2, enc.weight_hh_l2. Hint: the state dict has enc.weight_ih_l2: pass { prefix: 'enc.', layer: 2 }.]`);
    const proj = new sl.nn.LSTM({ inputSize: 3, hiddenSize: 4, projSize: 2 });
    expect(() => torchToOnnxWeights('LSTM', proj.stateDict())).toThrowErrorMatchingInlineSnapshot(`[ConfigError: onnx.LSTM.fromTorchWeights: expected an LSTM without projection, got weight_hr_l0 (projSize > 0). Hint: ONNX LSTM has no projection; export W_hr as a separate MatMul.]`);
  });
});

// ------------------------------------------------------------------ errors

describe('errors name the input or attribute, the expected and the actual', () => {
  const base = (): { node: OnnxRecurrentNode; inputs: OnnxRecurrentInputs } => {
    const c = randomCase({ op: 'LSTM', P: true, lens: [4, 4, 4] });
    return { node: c.node, inputs: c.inputs };
  };
  const msg = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(sl.SeqlabError);
      return `${(e as Error).name}: ${(e as Error).message}`;
    }
    throw new Error('expected an error');
  };

  it('W that does not match hidden_size', () => {
    const { node, inputs } = base();
    expect(msg(() => runOnnxRecurrent({ ...node, attributes: { hidden_size: 2 } }, inputs))).toMatchInlineSnapshot(`"ShapeError: onnx.LSTM: input W expected [1, 8, 3] (num_directions=1, 4·hidden_size with hidden_size=2, input_size=3 from X), got [1, 12, 3]. Hint: hidden_size=2, but W's dim 1 (12 = 4·3) implies hidden_size=3."`);
  });
  it('missing hidden_size', () => {
    const { inputs } = base();
    expect(msg(() => runOnnxRecurrent({ operator: 'LSTM', attributes: {} }, inputs))).toMatchInlineSnapshot(`"ConfigError: onnx.LSTM: expected attribute hidden_size (a positive integer), got none. Hint: set hidden_size to the width of the hidden state. R has shape [1, 12, 3], which implies hidden_size=3."`);
  });
  it('unknown direction', () => {
    const { node, inputs } = base();
    expect(msg(() => runOnnxRecurrent({ ...node, attributes: { hidden_size: 3, direction: 'backward' } }, inputs))).toMatchInlineSnapshot(`"ConfigError: onnx.LSTM: expected attribute direction 'forward', 'reverse' or 'bidirectional', got 'backward'."`);
  });
  it('bidirectional W for a forward node', () => {
    const c = randomCase({ op: 'GRU', direction: 'bidirectional' });
    expect(msg(() => runOnnxRecurrent({ operator: 'GRU', attributes: { hidden_size: 3 } }, c.inputs))).toMatchInlineSnapshot(`"ShapeError: onnx.GRU: input W expected [1, 9, 3] (num_directions=1, 3·hidden_size with hidden_size=3, input_size=3 from X), got [2, 9, 3]. Hint: direction=forward needs num_directions=1, but its first dim is 2."`);
  });
  it('unknown activation, wrong count, ScaledTanh without parameters', () => {
    const { node, inputs } = base();
    expect(msg(() => runOnnxRecurrent({ ...node, attributes: { hidden_size: 3, activations: ['Sigmoid', 'Gelu', 'Tanh'] } }, inputs))).toMatchInlineSnapshot(`"ConfigError: onnx.LSTM: expected attribute activations from Relu, Tanh, Sigmoid, Softsign, Softplus, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, got 'Gelu' at position 1."`);
    expect(msg(() => runOnnxRecurrent({ ...node, attributes: { hidden_size: 3, activations: ['Sigmoid', 'Tanh'] } }, inputs))).toMatchInlineSnapshot(`"ConfigError: onnx.LSTM: expected attribute activations with 3 names (Sigmoid, Tanh, Tanh by default), got 2 (Sigmoid, Tanh)."`);
    expect(msg(() => runOnnxRecurrent({ ...node, attributes: { hidden_size: 3, activations: ['Sigmoid', 'ScaledTanh', 'Tanh'] } }, inputs))).toMatchInlineSnapshot(`"ConfigError: onnx.LSTM: expected activation_alpha values for ScaledTanh (it has no default), got 0 value(s), all consumed before position 1. Hint: activation_alpha/activation_beta values are consumed in order, only by the activations that take them."`);
  });
  it('unknown attribute, bad clip, bad layout', () => {
    const { node, inputs } = base();
    expect(msg(() => runOnnxRecurrent({ ...node, attributes: { hidden_size: 3, linear_before_reset: 1 } }, inputs))).toMatchInlineSnapshot(`"ConfigError: onnx.LSTM: expected attributes among activation_alpha, activation_beta, activations, clip, direction, hidden_size, layout, input_forget, got linear_before_reset. Hint: linear_before_reset is a GRU attribute and input_forget an LSTM attribute."`);
    expect(msg(() => runOnnxRecurrent({ ...node, attributes: { hidden_size: 3, clip: 0 } }, inputs))).toMatchInlineSnapshot(`"ConfigError: onnx.LSTM: expected attribute clip > 0 (omit it for no clipping), got 0."`);
    expect(msg(() => runOnnxRecurrent({ ...node, attributes: { hidden_size: 3, layout: 2 } }, inputs))).toMatchInlineSnapshot(`"ConfigError: onnx.LSTM: expected attribute layout 0 or 1, got 2."`);
  });
  it('sequence_lens out of range or of the wrong length', () => {
    const { node, inputs } = base();
    expect(msg(() => runOnnxRecurrent(node, { ...inputs, sequence_lens: [4, 5, 1] }))).toMatchInlineSnapshot(`"ShapeError: onnx.LSTM: input sequence_lens expected integers in [0, 4] (seq_length), got 5 at batch index 1."`);
    expect(msg(() => runOnnxRecurrent(node, { ...inputs, sequence_lens: [4, 4] }))).toMatchInlineSnapshot(`"ShapeError: onnx.LSTM: input sequence_lens expected [3] (batch_size), got [2]."`);
  });
  it('initial states, B and P of the wrong shape; initial_c on a GRU', () => {
    const { node, inputs } = base();
    expect(msg(() => runOnnxRecurrent(node, { ...inputs, initial_c: rnd([3, 1, 3]) }))).toMatchInlineSnapshot(`"ShapeError: onnx.LSTM: input initial_c expected [1, 3, 3] (num_directions, batch_size, hidden_size), got [3, 1, 3]."`);
    expect(msg(() => runOnnxRecurrent({ ...node, attributes: { hidden_size: 3, layout: 1 } }, { ...inputs, X: rnd([3, 4, 3]) }))).toMatchInlineSnapshot(`"ShapeError: onnx.LSTM: input initial_h expected [3, 1, 3] (batch_size, num_directions, hidden_size) with layout=1, got [1, 3, 3]."`);
    expect(msg(() => runOnnxRecurrent(node, { ...inputs, B: rnd([1, 12]) }))).toMatchInlineSnapshot(`"ShapeError: onnx.LSTM: input B expected [1, 24] (num_directions, 2·4·hidden_size) = [Wb | Rb] for hidden_size=3, got [1, 12]."`);
    expect(msg(() => runOnnxRecurrent(node, { ...inputs, P: rnd([1, 12]) }))).toMatchInlineSnapshot(`"ShapeError: onnx.LSTM: input P expected [1, 9] (num_directions, 3·hidden_size), peepholes i, o, f for hidden_size=3, got [1, 12]."`);
    const g = randomCase({ op: 'GRU' });
    expect(msg(() => runOnnxRecurrent(g.node, { ...g.inputs, initial_c: rnd([1, 3, 3]) }))).toMatchInlineSnapshot(`"ConfigError: onnx.GRU: expected inputs among X, W, R, B, sequence_lens, initial_h, got initial_c."`);
  });
  it('X of the wrong rank; fused path forced on a node that needs the step path', () => {
    const { node, inputs } = base();
    expect(msg(() => runOnnxRecurrent(node, { ...inputs, X: rnd([4, 3]) }))).toMatchInlineSnapshot(`"ShapeError: onnx.LSTM: expected input X of rank 3, [seq_length, batch_size, input_size], got [4, 3]."`);
    expect(msg(() => runOnnxRecurrent(node, inputs, { path: 'fused' }))).toMatchInlineSnapshot(`"ConfigError: onnx.LSTM: expected a node the fused layer can run (default activations or RNN Relu, no clip, no input_forget, no or all-zero constant P), got activations [Sigmoid, Tanh, Tanh], peepholes P. Hint: use path: 'auto' or 'steps'."`);
  });
});
