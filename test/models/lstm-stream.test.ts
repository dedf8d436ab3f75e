/**
 * The LSTM's streaming fast path (one `lstmStep` wasm call per layer: src/kernels/wasm/lstm-step.ts) through
 * the public API: after a prefix whose state went through serializeState/deserializeState, `step` under
 * noGrad on the wasm backend equals the ref backend's step (to the suite's tolerance) and the wasm `forward`
 * over the same tokens (bit for bit: the same operations per element), for batch 1 and 7. The caller's
 * states — the deserialized one and every state a step returned — are values: later steps never change them.
 * A StreamSession advances its own copy in place and equals `model.step`.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as sl from '../../src/index.js';
import { kernels } from '../../src/kernels/index.js';
import { expectClose } from '../helpers.js';

const backend = sl.getBackend();
afterEach(() => { sl.setBackend(backend); vi.restoreAllMocks(); });

type LstmState = { h: sl.Tensor; c: sl.Tensor };
const I = 24, H = 32, T = 5;
const snap = (s: LstmState) => [Array.from(s.h.data), Array.from(s.c.data)];
const xs = (n: number, seed: number) => sl.randn([T, n, I], { seed });
const at = (x: sl.Tensor, t: number) => sl.reshape(sl.narrow(x, 0, t, 1), [x.shape[1]!, I]);

/** Steps over x from `state` (a value: kept as it was, checked by the caller) under noGrad. */
function steps(m: sl.nn.LSTM, x: sl.Tensor, state: LstmState, returned: { state: LstmState; bytes: number[][] }[] = []) {
  const outs: sl.Tensor[] = [];
  let s = state;
  sl.noGrad(() => {
    for (let t = 0; t < x.shape[0]!; t++) {
      const r = m.step(at(x, t), s);
      outs.push(r.output);
      s = r.state;
      returned.push({ state: s, bytes: snap(s) });
    }
  });
  return { outs, state: s };
}

describe('LSTM step (wasm fast path) == ref step == forward, after deserializeState', () => {
  for (const n of [1, 7]) {
    it(`batch ${n}, 2 layers`, () => {
      sl.setBackend('wasm');
      sl.manualSeed(11);
      const m = new sl.nn.LSTM({ inputSize: I, hiddenSize: H, numLayers: 2 });
      const prefix = sl.noGrad(() => m.forward(sl.randn([3, n, I], { seed: 2 }))).state;
      const bytes = sl.serializeState(prefix);
      const x = xs(n, 3);

      const spy = vi.spyOn(kernels(), 'recurrentForward');
      const mine = sl.deserializeState<LstmState>(bytes);
      const before = snap(mine);
      const returned: { state: LstmState; bytes: number[][] }[] = [];
      const fast = steps(m, x, mine, returned);
      // Every call was a one-token step with nothing saved: the calls the wasm backend sends to lstmStep.
      expect(spy.mock.calls.length).toBe(2 * T);
      for (const call of spy.mock.calls) expect([call[0].T, call[0].N, call[8]]).toEqual([1, n, null]);
      // The caller's states are values: neither the deserialized one nor any returned one moved.
      expect(snap(mine)).toEqual(before);
      for (const r of returned) expect(snap(r.state)).toEqual(r.bytes);

      const full = sl.noGrad(() => m.forward(x, sl.deserializeState<LstmState>(bytes)));
      expect(Array.from(sl.stack(fast.outs, 0).data), 'step == forward').toEqual(Array.from(full.output.data));
      expect(snap(fast.state)).toEqual(snap(full.state));

      sl.setBackend('ref');
      const ref = steps(m, x, sl.deserializeState<LstmState>(bytes));
      fast.outs.forEach((o, t) => expectClose(o, ref.outs[t]!, 1e-5, 1e-4, `output ${t} vs ref`));
      expectClose(fast.state.h, ref.state.h, 1e-5, 1e-4, 'h vs ref');
      expectClose(fast.state.c, ref.state.c, 1e-5, 1e-4, 'c vs ref');
    });
  }
});

describe('StreamSession on an LSTM language model', () => {
  it('advances in place, equals model.step, and exports values', () => {
    sl.setBackend('wasm');
    sl.manualSeed(12);
    const m = sl.models.createModel('lstm', { vocabSize: 13, hiddenSize: H, embeddingDim: 20, numLayers: 2 });
    const n = 7;
    const session = new sl.StreamSession(m, { batch: n });
    let state = m.initState(n);
    const spy = vi.spyOn(kernels(), 'recurrentForward');
    let exported: LstmState | null = null, exportedBytes: number[][] = [];
    sl.noGrad(() => {
      for (let t = 0; t < 5; t++) {
        const col = Array.from({ length: n }, (_, i) => (t * 3 + i) % 13);
        const calls = spy.mock.calls.length;
        const a = session.step(col);
        // The session's step ran in place: each layer's kernel call wrote the state it read.
        for (const call of spy.mock.calls.slice(calls)) expect(call[6] === call[3] && call[7] === call[4]).toBe(true);
        const b = m.step(col, state);
        state = b.state;
        expect(Array.from(a.data), `token ${t}`).toEqual(Array.from(b.logits.data));
        if (t === 1) { exported = session.state as LstmState; exportedBytes = snap(exported); }
      }
    });
    expect(snap(exported!)).toEqual(exportedBytes);
    exported!.h.data.fill(123);
    const next = sl.noGrad(() => [session.step([1, 2, 3, 4, 5, 6, 7]), m.step([1, 2, 3, 4, 5, 6, 7], state).logits] as const);
    expect(Array.from(next[0].data)).toEqual(Array.from(next[1].data));
  });

  it('a step with recording on is not done in place (null), and the state is left as it was', () => {
    sl.manualSeed(13);
    const m = new sl.nn.LSTM({ inputSize: I, hiddenSize: H });
    const s = m.initState(2) as LstmState;
    s.h.data.fill(0.25);
    const before = snap(s);
    expect(m.stepInPlace(sl.randn([2, I], { seed: 4 }), s)).toBeNull(); // parameters require grad
    expect(snap(s)).toEqual(before);
    const y = sl.noGrad(() => m.stepInPlace(sl.randn([2, I], { seed: 4 }), s));
    expect(y?.shape).toEqual([2, H]);
    expect(snap(s)).not.toEqual(before);
  });
});
