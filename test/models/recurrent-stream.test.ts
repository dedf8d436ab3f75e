/**
 * The streaming contract and the equivalences that make truncated BPTT safe: step == forward, chunked
 * forward with carried state == one pass, serialize/deserialize round-trips exactly, fused layer == the
 * cell equations, gradients through h_n/c_n reach the sequence, parameter counts equal PyTorch's.
 */
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';
import { expectClose } from '../helpers.js';

type AnyStack = sl.nn.RNN | sl.nn.LSTM | sl.nn.GRU;
type S = { h: sl.Tensor; c?: sl.Tensor };

const makers: Record<string, () => AnyStack> = {
  'rnn tanh 2 layers': () => new sl.nn.RNN({ inputSize: 3, hiddenSize: 5, numLayers: 2 }),
  'rnn relu': () => new sl.nn.RNN({ inputSize: 3, hiddenSize: 5, nonlinearity: 'relu' }),
  'lstm 2 layers': () => new sl.nn.LSTM({ inputSize: 3, hiddenSize: 5, numLayers: 2 }),
  'lstm projSize batchFirst': () => new sl.nn.LSTM({ inputSize: 3, hiddenSize: 5, projSize: 2, batchFirst: true }),
  'gru 3 layers': () => new sl.nn.GRU({ inputSize: 3, hiddenSize: 4, numLayers: 3 }),
  'gru reset-before': () => new sl.nn.GRU({ inputSize: 3, hiddenSize: 4, resetAfter: false }),
};

const call = (m: AnyStack, x: sl.Tensor, s?: S | null) => m.forward(x, s as never) as { output: sl.Tensor; state: S };
const stepCall = (m: AnyStack, x: sl.Tensor, s?: S | null) => m.step(x, s as never) as { output: sl.Tensor; state: S };

describe('step over a sequence equals forward; chunks with carried state equal one pass', () => {
  for (const [name, make] of Object.entries(makers)) {
    it(name, () => {
      sl.manualSeed(7);
      const m = make();
      const T = 6, N = 2;
      const xTN = sl.randn([T, N, 3], { seed: 3 });
      const x = m.batchFirst ? sl.permute(xTN, [1, 0, 2]) : xTN;
      const full = call(m, x);
      // token by token
      let s: S = m.initState(N) as S;
      const outs: sl.Tensor[] = [];
      for (let t = 0; t < T; t++) {
        const r = stepCall(m, sl.reshape(sl.narrow(xTN, 0, t, 1), [N, 3]), s);
        outs.push(r.output);
        s = r.state;
      }
      const stepped = sl.stack(outs, m.batchFirst ? 1 : 0);
      expectClose(stepped, full.output, 1e-6, 1e-5, 'step outputs');
      // With nothing to record, step takes its in-place path: the same kernel call, so the same bits.
      expect(outs[0]!.requiresGrad, 'a step in grad mode is recorded').toBe(true);
      let q: S = m.initState(N) as S;
      sl.noGrad(() => {
        for (let t = 0; t < T; t++) {
          const r = stepCall(m, sl.reshape(sl.narrow(xTN, 0, t, 1), [N, 3]), q);
          expect(r.output.requiresGrad).toBe(false);
          expect(Array.from(r.output.data), `no-grad step ${t}`).toEqual(Array.from(outs[t]!.data));
          q = r.state;
        }
      });
      expect(Array.from(q.h.data)).toEqual(Array.from(s.h.data));
      if (s.c) expect(Array.from(q.c!.data)).toEqual(Array.from(s.c.data));
      expectClose(s.h, full.state.h, 1e-6, 1e-5, 'step h');
      if (s.c) expectClose(s.c, full.state.c!, 1e-6, 1e-5, 'step c');
      // two chunks of 4 + 2
      const dim = m.batchFirst ? 1 : 0;
      const a = call(m, sl.narrow(x, dim, 0, 4));
      const b = call(m, sl.narrow(x, dim, 4, 2), a.state);
      expectClose(sl.concat([a.output, b.output], dim), full.output, 1e-6, 1e-5, 'chunked outputs');
      expectClose(b.state.h, full.state.h, 1e-6, 1e-5, 'chunked h');
      // the state is constant-size
      expect(m.stateBytes(N)).toBe(4 * (s.h.size + (s.c?.size ?? 0)));
    });
  }
});

describe('state serialization', () => {
  it('round-trips exactly and continues the stream identically', () => {
    sl.manualSeed(1);
    const m = new sl.nn.LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2 });
    const x = sl.randn([5, 1, 3], { seed: 2 });
    const { state } = m.forward(x);
    const bytes = sl.serializeState(state);
    const back = sl.deserializeState<{ h: sl.Tensor; c: sl.Tensor }>(bytes);
    expect(Array.from(back.h.data)).toEqual(Array.from(state.h.data));
    expect(Array.from(back.c.data)).toEqual(Array.from(state.c.data));
    expect(back.h.shape).toEqual(state.h.shape);
    const next = sl.randn([1, 3], { seed: 4 });
    expect(Array.from(m.step(next, back).output.data)).toEqual(Array.from(m.step(next, state).output.data));
  });
  it('rejects bytes that are not a state', () => {
    const other = sl.serializeState({ h: sl.zeros([1]) });
    other[20] = 0x7b; // corrupt the header
    expect(() => sl.deserializeState(other)).toThrow(sl.WeightImportError);
  });
});

describe('truncated BPTT', () => {
  it('a loss on the final states backpropagates into the sequence and the initial state', () => {
    sl.manualSeed(3);
    const m = new sl.nn.LSTM({ inputSize: 2, hiddenSize: 3 });
    const x = sl.randn([4, 2, 2], { seed: 5, requiresGrad: true });
    const h0 = sl.randn([1, 2, 3], { seed: 6, requiresGrad: true });
    const c0 = sl.randn([1, 2, 3], { seed: 7, requiresGrad: true });
    const { state } = m.forward(x, { h: h0, c: c0 });
    sl.add(sl.sum(state.h), sl.sum(state.c)).backward();
    for (const t of [x, h0, c0, ...m.parameters()]) {
      expect(t.grad).not.toBeNull();
      expect(Array.from(t.grad!.data).some((v) => v !== 0)).toBe(true);
    }
  });
  it('a carried state keeps the graph; detachState cuts it', () => {
    sl.manualSeed(4);
    const m = new sl.nn.GRU({ inputSize: 2, hiddenSize: 3 });
    const x = sl.randn([6, 1, 2], { seed: 8, requiresGrad: true });
    const first = m.forward(sl.narrow(x, 0, 0, 3));
    const carried = m.forward(sl.narrow(x, 0, 3, 3), first.state);
    sl.sum(carried.output).backward();
    const earlyGrad = Array.from(x.grad!.data.subarray(0, 6));
    expect(earlyGrad.some((v) => v !== 0)).toBe(true);

    x.grad = null;
    const cut = m.forward(sl.narrow(x, 0, 3, 3), sl.detachState(first.state));
    sl.sum(cut.output).backward();
    expect(Array.from(x.grad!.data.subarray(0, 6)).every((v) => v === 0)).toBe(true);
  });
});

describe('the fused layer equals the cell equations (the composite twin)', () => {
  const run = (cellOut: (x: sl.Tensor, s: S) => S, layer: AnyStack, T: number, N: number, I: number, H: number, lstm: boolean) => {
    const x = sl.randn([T, N, I], { seed: 11, dtype: 'float64', requiresGrad: true });
    let s: S = lstm ? { h: sl.zeros([N, H], { dtype: 'float64' }), c: sl.zeros([N, H], { dtype: 'float64' }) } : { h: sl.zeros([N, H], { dtype: 'float64' }) };
    const hs: sl.Tensor[] = [];
    for (let t = 0; t < T; t++) { s = cellOut(sl.reshape(sl.narrow(x, 0, t, 1), [N, I]), s); hs.push(s.h); }
    const composite = sl.stack(hs, 0);
    sl.sum(sl.mul(composite, composite)).backward();
    const gComposite = Float64Array.from(x.grad!.buf);
    const pComposite = layer.parameters().map((p) => Float64Array.from(p.grad!.buf));
    layer.zeroGrad(); x.grad = null;
    const fused = call(layer, x).output;
    expectClose(fused, composite, 1e-12, 1e-10, 'values');
    sl.sum(sl.mul(fused, fused)).backward();
    expectClose(x.grad!, gComposite, 1e-12, 1e-10, 'dx');
    layer.parameters().forEach((p, i) => expectClose(p.grad!, pComposite[i]!, 1e-12, 1e-10, `d${p.name}`));
  };
  const float64 = (m: sl.nn.Module) => { for (const p of m.parameters()) { p.buf = Float64Array.from(p.buf); (p as { dtype: string }).dtype = 'float64'; } };
  it('lstm, gru (both forms) and rnn', async () => {
    const { lstmCell } = await import('../../src/models/lstm/cell.js');
    const { gruCell } = await import('../../src/models/gru/cell.js');
    const { rnnCell } = await import('../../src/models/rnn/cell.js');
    const w = (m: AnyStack) => {
      const p = Object.fromEntries(m.namedParameters());
      return { weightIh: p['weight_ih_l0']!, weightHh: p['weight_hh_l0']!, biasIh: p['bias_ih_l0']!, biasHh: p['bias_hh_l0']!, weightHr: null };
    };
    const lstm = new sl.nn.LSTM({ inputSize: 3, hiddenSize: 4 }); float64(lstm);
    run((x, s) => lstmCell(x, s.h, s.c!, w(lstm)), lstm, 5, 2, 3, 4, true);
    for (const resetAfter of [true, false]) {
      const gru = new sl.nn.GRU({ inputSize: 3, hiddenSize: 4, resetAfter }); float64(gru);
      run((x, s) => ({ h: gruCell(x, s.h, w(gru), resetAfter) }), gru, 5, 2, 3, 4, false);
    }
    const rnn = new sl.nn.RNN({ inputSize: 3, hiddenSize: 4 }); float64(rnn);
    run((x, s) => ({ h: rnnCell(x, s.h, w(rnn), 'tanh') }), rnn, 5, 2, 3, 4, false);
  });
});

describe('parameter counts equal PyTorch', () => {
  it('LSTM/GRU/RNN sizes, and GRU is exactly 0.75× LSTM', () => {
    // Counts printed by PyTorch 1.13: sum(p.numel() for p in nn.LSTM(10, 20, num_layers=2, bidirectional=True).parameters())
    expect(new sl.nn.LSTM({ inputSize: 10, hiddenSize: 20, numLayers: 2, bidirectional: true }).numParameters()).toBe(15040);
    // nn.GRU(10, 20, num_layers=2, bidirectional=True) → 11280; nn.RNN(10, 20) → 640
    expect(new sl.nn.GRU({ inputSize: 10, hiddenSize: 20, numLayers: 2, bidirectional: true }).numParameters()).toBe(11280);
    expect(new sl.nn.RNN({ inputSize: 10, hiddenSize: 20 }).numParameters()).toBe(640);
    // nn.LSTM(10, 20, proj_size=5) → 1460
    expect(new sl.nn.LSTM({ inputSize: 10, hiddenSize: 20, projSize: 5 }).numParameters()).toBe(1460);
    for (const [I, H, L] of [[16, 32, 1], [128, 256, 2], [7, 3, 3]] as const) {
      const lstm = new sl.nn.LSTM({ inputSize: I, hiddenSize: H, numLayers: L }).numParameters();
      const gru = new sl.nn.GRU({ inputSize: I, hiddenSize: H, numLayers: L }).numParameters();
      expect(gru / lstm).toBe(0.75);
    }
  });
  it('parameter names are PyTorch’s, in PyTorch’s order', () => {
    const m = new sl.nn.LSTM({ inputSize: 2, hiddenSize: 3, numLayers: 2, bidirectional: true, projSize: 1 });
    expect(m.namedParameters().map(([n, p]) => `${n}:${p.shape.join('x')}`)).toEqual([
      'weight_ih_l0:12x2', 'weight_hh_l0:12x1', 'bias_ih_l0:12', 'bias_hh_l0:12', 'weight_hr_l0:1x3',
      'weight_ih_l0_reverse:12x2', 'weight_hh_l0_reverse:12x1', 'bias_ih_l0_reverse:12', 'bias_hh_l0_reverse:12', 'weight_hr_l0_reverse:1x3',
      'weight_ih_l1:12x2', 'weight_hh_l1:12x1', 'bias_ih_l1:12', 'bias_hh_l1:12', 'weight_hr_l1:1x3',
      'weight_ih_l1_reverse:12x2', 'weight_hh_l1_reverse:12x1', 'bias_ih_l1_reverse:12', 'bias_hh_l1_reverse:12', 'weight_hr_l1_reverse:1x3',
    ]);
  });
  it('default init is U(−1/√H, 1/√H); forgetBias is opt-in', () => {
    sl.manualSeed(0);
    const m = new sl.nn.LSTM({ inputSize: 8, hiddenSize: 16 });
    const k = 1 / 4;
    for (const p of m.parameters()) expect(Math.max(...Array.from(p.data, Math.abs))).toBeLessThanOrEqual(k);
    const f = new sl.nn.LSTM({ inputSize: 8, hiddenSize: 16, forgetBias: 1 });
    const b = Object.fromEntries(f.namedParameters());
    expect(Array.from(b['bias_ih_l0']!.data.subarray(16, 32))).toEqual(new Array(16).fill(1));
    expect(Array.from(b['bias_hh_l0']!.data.subarray(16, 32))).toEqual(new Array(16).fill(0));
  });
});

describe('bad input gives clear errors', () => {
  const lstm = new sl.nn.LSTM({ inputSize: 4, hiddenSize: 3, numLayers: 2 });
  it('wrong input rank or width', () => {
    expect(() => lstm.forward(sl.zeros([5, 4]))).toThrowErrorMatchingInlineSnapshot(`[ShapeError: lstm.forward: expected input [t, n, 4] (inputSize=4, batchFirst=false), got [5, 4]. Hint: for one timestep use step(x, state); for one sequence add a batch dim of 1]`);
    expect(() => lstm.forward(sl.zeros([5, 2, 3]))).toThrowErrorMatchingInlineSnapshot(`[ShapeError: lstm.forward: expected input [t, n, 4] (inputSize=4, batchFirst=false), got [5, 2, 3].]`);
  });
  it('a state of the wrong shape', () => {
    expect(() => lstm.forward(sl.zeros([5, 2, 4]), { h: sl.zeros([1, 2, 3]), c: sl.zeros([2, 2, 3]) })).toThrowErrorMatchingInlineSnapshot(`[ShapeError: lstm.forward: expected state.h of shape [2, 2, 3] [L·D, N, H] (numLayers=2, directions=1, batch=2), got [1, 2, 3].]`);
  });
  it('lengths out of range or of the wrong count', () => {
    expect(() => lstm.forward(sl.zeros([5, 2, 4]), null, { lengths: [5, 6] })).toThrowErrorMatchingInlineSnapshot(`[ShapeError: lstm.forward: expected lengths that are integers in [0, 5] (the padded length), got 6 at position 1.]`);
    expect(() => lstm.forward(sl.zeros([5, 2, 4]), null, { lengths: [5] })).toThrowErrorMatchingInlineSnapshot(`[ShapeError: lstm.forward: expected lengths with one entry per sequence (2), got 1 entries.]`);
  });
  it('step on a bidirectional model', () => {
    const bi = new sl.nn.GRU({ inputSize: 4, hiddenSize: 3, bidirectional: true });
    expect(() => bi.step(sl.zeros([1, 4]), bi.initState(1))).toThrowErrorMatchingInlineSnapshot(`[ConfigError: gru.step: expected a unidirectional model, got bidirectional: true. Hint: a bidirectional model needs the whole sequence (its reverse direction starts at the end), so it can neither stream nor generate; use forward() on complete sequences]`);
  });
  it('bad options', () => {
    expect(() => new sl.nn.LSTM({ inputSize: 4, hiddenSize: 3, projSize: 3 })).toThrowErrorMatchingInlineSnapshot(`[ConfigError: lstm.constructor: expected projSize an integer in [0, hiddenSize=3), got 3.]`);
    expect(() => new sl.nn.RNN({ inputSize: 4, hiddenSize: 0 })).toThrowErrorMatchingInlineSnapshot(`[ConfigError: rnn.constructor: expected hiddenSize to be a positive integer, got 0.]`);
    expect(() => new sl.nn.RNN({ inputSize: 4, hiddenSize: 2, nonlinearity: 'sigmoid' as never })).toThrowErrorMatchingInlineSnapshot(`[ConfigError: rnn.constructor: expected nonlinearity 'tanh' or 'relu', got "sigmoid".]`);
  });
  it('cells: wrong state shape', () => {
    const cell = new sl.nn.LSTMCell({ inputSize: 4, hiddenSize: 3 });
    expect(() => cell.forward(sl.zeros([2, 4]), { h: sl.zeros([2, 3]), c: sl.zeros([3, 3]) })).toThrowErrorMatchingInlineSnapshot(`[ShapeError: lstmCell.forward: expected state.c of shape [2, 3], got [3, 3].]`);
  });
});
