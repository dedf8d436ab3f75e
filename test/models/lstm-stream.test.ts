/**
 * The LSTM's, GRU's and RNN's streaming fast path (one `recurrentStep` kernel call per layer: on wasm the
 * recurrentStep export, wasm/assembly/recurrent-step.ts) through the public API: after a prefix whose state
 * went through serializeState/deserializeState, `step` under noGrad on the wasm backend equals the ref
 * backend's step (to the suite's tolerance) and the wasm `forward` over the same tokens (bit for bit: the same
 * operations per element), for batch 1 and 7. The caller's states — the deserialized one and every state a
 * step returned — are values: later steps never change them. A StreamSession advances its own copy in place
 * and equals `model.step`, and its language model's logits equal `forward`'s.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as sl from '../../src/index.js';
import { kernels } from '../../src/kernels/index.js';
import { expectClose } from '../helpers.js';

const backend = sl.getBackend();
afterEach(() => { sl.setBackend(backend); vi.restoreAllMocks(); });

type LstmState = { h: sl.Tensor; c?: sl.Tensor };
type Stack = sl.nn.LSTM | sl.nn.GRU | sl.nn.RNN;
const I = 24, H = 32, T = 5;
const snap = (s: LstmState) => [Array.from(s.h.data), Array.from(s.c?.data ?? [])];
const STACKS: Record<string, () => Stack> = {
  lstm: () => new sl.nn.LSTM({ inputSize: I, hiddenSize: H, numLayers: 2 }),
  gru: () => new sl.nn.GRU({ inputSize: I, hiddenSize: H, numLayers: 2 }),
  rnn: () => new sl.nn.RNN({ inputSize: I, hiddenSize: H, numLayers: 2 }),
  'rnn relu': () => new sl.nn.RNN({ inputSize: I, hiddenSize: H, numLayers: 2, nonlinearity: 'relu' }),
};
const xs = (n: number, seed: number) => sl.randn([T, n, I], { seed });
const at = (x: sl.Tensor, t: number) => sl.reshape(sl.narrow(x, 0, t, 1), [x.shape[1]!, I]);

/** Steps over x from `state` (a value: kept as it was, checked by the caller) under noGrad. */
function steps(m: Stack, x: sl.Tensor, state: LstmState, returned: { state: LstmState; bytes: number[][] }[] = []) {
  const outs: sl.Tensor[] = [];
  let s = state;
  sl.noGrad(() => {
    for (let t = 0; t < x.shape[0]!; t++) {
      const r = m.step(at(x, t), s as never) as { output: sl.Tensor; state: LstmState };
      outs.push(r.output);
      s = r.state;
      returned.push({ state: s, bytes: snap(s) });
    }
  });
  return { outs, state: s };
}

describe('LSTM, GRU, RNN step (wasm fast path) == ref step == forward, after deserializeState', () => {
  for (const [name, make] of Object.entries(STACKS)) for (const n of [1, 7]) {
    it(`${name}, batch ${n}, 2 layers`, () => {
      sl.setBackend('wasm');
      sl.manualSeed(11);
      const m = make();
      const prefix = (sl.noGrad(() => m.forward(sl.randn([3, n, I], { seed: 2 }))) as { state: LstmState }).state;
      const bytes = sl.serializeState(prefix);
      const x = xs(n, 3);

      const spy = vi.spyOn(kernels(), 'recurrentStep');
      const mine = sl.deserializeState<LstmState>(bytes);
      const before = snap(mine);
      const returned: { state: LstmState; bytes: number[][] }[] = [];
      const fast = steps(m, x, mine, returned);
      // Every layer of every token was one streaming-step call (the wasm backend's recurrentStep export).
      expect(spy.mock.calls.length).toBe(2 * T);
      for (const call of spy.mock.calls) expect([call[0].N, call[0].H]).toEqual([n, H]);
      // The caller's states are values: neither the deserialized one nor any returned one moved.
      expect(snap(mine)).toEqual(before);
      for (const r of returned) expect(snap(r.state)).toEqual(r.bytes);

      const full = sl.noGrad(() => m.forward(x, sl.deserializeState<LstmState>(bytes) as never)) as { output: sl.Tensor; state: LstmState };
      expect(Array.from(sl.stack(fast.outs, 0).data), 'step == forward').toEqual(Array.from(full.output.data));
      expect(snap(fast.state)).toEqual(snap(full.state));

      sl.setBackend('ref');
      const ref = steps(m, x, sl.deserializeState<LstmState>(bytes));
      fast.outs.forEach((o, t) => expectClose(o, ref.outs[t]!, 1e-5, 1e-4, `output ${t} vs ref`));
      expectClose(fast.state.h, ref.state.h, 1e-5, 1e-4, 'h vs ref');
      if (fast.state.c) expectClose(fast.state.c, ref.state.c!, 1e-5, 1e-4, 'c vs ref');
    });
  }
});

describe('StreamSession on an LSTM, GRU and RNN language model', () => {
  it.each(['lstm', 'gru', 'rnn'])('%s: advances in place, equals model.step and forward, and exports values', (cell) => {
    sl.setBackend('wasm');
    sl.manualSeed(12);
    // vocabulary 13: the head's GEMM is below the wasm threshold (ref); 64: in wasm.
    for (const V of [13, 64]) {
      const m = sl.models.createModel(cell, { cell, vocabSize: V, hiddenSize: H, embeddingDim: 20, numLayers: 2 });
      const n = 7, cols: number[][] = [];
      const session = new sl.StreamSession(m, { batch: n });
      let state = m.initState(n) as LstmState;
      const spy = vi.spyOn(kernels(), 'recurrentStep');
      let exported: LstmState | null = null, exportedBytes: number[][] = [];
      const got: sl.Tensor[] = [];
      sl.noGrad(() => {
        for (let t = 0; t < 5; t++) {
          const col = Array.from({ length: n }, (_, i) => (t * 3 + i) % V);
          cols.push(col);
          const calls = spy.mock.calls.length;
          const a = session.step(col);
          got.push(a);
          // The session's step ran in place: every layer's call advanced the same state buffer, the session's own.
          const mine = spy.mock.calls.slice(calls).map((c) => c[3]);
          expect(mine.length).toBe(2);
          expect(mine[0]).toBe(mine[1]);
          expect(mine[0]).not.toBe(state.h.buf);
          const b = m.step(col, state as never);
          state = b.state as LstmState;
          expect(Array.from(a.data), `token ${t}`).toEqual(Array.from(b.logits.data));
          if (t === 1) { exported = session.state as LstmState; exportedBytes = snap(exported); }
        }
      });
      spy.mockRestore();
      // forward over the same tokens ([n, t]): the same bits (the head's GEMM in ref for V = 13, in wasm for 64).
      const tokens = Array.from({ length: n }, (_, i) => cols.map((c) => c[i]!));
      const full = sl.noGrad(() => m.forward(tokens)).logits;
      const stepped = sl.permute(sl.stack(got, 0), [1, 0, 2]);
      expect(Array.from(stepped.data), 'session == forward').toEqual(Array.from(sl.reshape(full, stepped.shape).data));
      expect(snap(exported!)).toEqual(exportedBytes);
      exported!.h.data.fill(123);
      const next = sl.noGrad(() => [session.step([1, 2, 3, 4, 5, 6, 7]), m.step([1, 2, 3, 4, 5, 6, 7], state as never).logits] as const);
      expect(Array.from(next[0].data)).toEqual(Array.from(next[1].data));
    }
  });

  it('a step with recording on is not done in place (null), and the state is left as it was', () => {
    sl.manualSeed(13);
    const m = new sl.nn.LSTM({ inputSize: I, hiddenSize: H });
    const s = m.initState(2);
    s.h.data.fill(0.25);
    const before = snap(s);
    expect(m.stepInPlace(sl.randn([2, I], { seed: 4 }), s)).toBeNull(); // parameters require grad
    expect(snap(s)).toEqual(before);
    const y = sl.noGrad(() => m.stepInPlace(sl.randn([2, I], { seed: 4 }), s));
    expect(y?.shape).toEqual([2, H]);
    expect(snap(s)).not.toEqual(before);
  });
});
