/**
 * nn.RNN / LSTM / GRU and their cells against PyTorch 1.13 (fixtures from tools/golden/gen_recurrent.py):
 * outputs, final states and the gradient of every parameter, input and initial state for a fixed upstream
 * gradient on every output. Tolerance: atol 1e-5, rtol 1e-4 (float32; the generator's float64 recheck agrees
 * to 2e-6).
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';
import { loadFixture, type Fixture } from '../golden/load.js';
import { expectClose } from '../helpers.js';

const dir = fileURLToPath(new URL('../golden/', import.meta.url));
const names = readdirSync(dir).filter((f) => f.endsWith('.safetensors')).map((f) => f.replace('.safetensors', ''));
const layerFixtures = names.filter((n) => /^(rnn_tanh|rnn_relu|lstm|lstm_proj|gru|gru_reset_before)_/.test(n) && !n.includes('cell'));
const cellFixtures = names.filter((n) => /_cell/.test(n));

type Stack = sl.nn.RNN | sl.nn.LSTM | sl.nn.GRU;

/** The fixture config keys these tests read (values typed `never` so each fits the option it is passed to). */
type FixtureConfig = Record<'kind' | 'inputSize' | 'hiddenSize' | 'numLayers' | 'bias' | 'batchFirst' | 'bidirectional' | 'dropout'
  | 'nonlinearity' | 'projSize' | 'resetAfter' | 'loop', never>;

function buildLayer(f: Fixture): Stack {
  const c = f.config as FixtureConfig;
  const base = {
    inputSize: c.inputSize, hiddenSize: c.hiddenSize, numLayers: c.numLayers, bias: c.bias,
    batchFirst: c.batchFirst, bidirectional: c.bidirectional, dropout: c.dropout,
  };
  switch (c.kind as string) {
    case 'rnn': return new sl.nn.RNN({ ...base, nonlinearity: c.nonlinearity });
    case 'lstm': return new sl.nn.LSTM({ ...base, projSize: c.projSize });
    case 'gru': return new sl.nn.GRU({ ...base, resetAfter: c.resetAfter ?? true });
    default: throw new Error(`unknown kind ${c.kind}`);
  }
}

function loadParams(m: sl.nn.Module, f: Fixture): void {
  const dict: Record<string, sl.Tensor> = {};
  for (const k of f.keys('param.')) dict[k] = f.get(`param.${k}`);
  m.loadStateDict(dict);
}

function leaf(f: Fixture, key: string): sl.Tensor {
  const t = f.get(key);
  t.requiresGrad = true;
  return t;
}

/** L = Σ sum(out ⊙ up) over outputs with an upstream gradient; backprop it. */
function backprop(f: Fixture, outs: Record<string, sl.Tensor>): void {
  let loss: sl.Tensor | null = null;
  for (const [k, t] of Object.entries(outs)) {
    if (!f.has(`up.${k}`)) continue;
    const term = sl.sum(sl.mul(t, f.get(`up.${k}`)));
    loss = loss ? sl.add(loss, term) : term;
  }
  loss!.backward();
}

function checkGrads(f: Fixture, m: sl.nn.Module, inputs: Record<string, sl.Tensor>): void {
  const params = Object.fromEntries(m.namedParameters());
  for (const k of f.keys('grad.param.')) expectClose(params[k]!.grad!, f.get(`grad.param.${k}`), 1e-5, 1e-4, `${f.name} grad ${k}`);
  for (const k of f.keys('grad.in.')) expectClose(inputs[k]!.grad!, f.get(`grad.in.${k}`), 1e-5, 1e-4, `${f.name} grad ${k}`);
}

describe('recurrent layers match PyTorch (values and gradients)', () => {
  it('found the layer fixtures', () => expect(layerFixtures.length).toBeGreaterThanOrEqual(35));
  for (const name of layerFixtures) {
    it(name, () => {
      const f = loadFixture(name);
      const m = buildLayer(f);
      loadParams(m, f);
      const x = leaf(f, 'in.x'), h0 = leaf(f, 'in.h0');
      const c0 = f.has('in.c0') ? leaf(f, 'in.c0') : undefined;
      const state = c0 ? { h: h0, c: c0 } : { h: h0 };
      const lengths = f.has('in.lengths') ? f.ints('in.lengths') : undefined;
      const { output, state: s } = m.forward(x, state as never, lengths ? { lengths } : {});
      const st = s as { h: sl.Tensor; c?: sl.Tensor };
      expectClose(output, f.get('out.y'), 1e-5, 1e-4, `${name} y`);
      expectClose(st.h, f.get('out.h_n'), 1e-5, 1e-4, `${name} h_n`);
      if (st.c) expectClose(st.c, f.get('out.c_n'), 1e-5, 1e-4, `${name} c_n`);
      expect(output.shape).toEqual(f.get('out.y').shape);
      backprop(f, st.c ? { y: output, h_n: st.h, c_n: st.c } : { y: output, h_n: st.h });
      checkGrads(f, m, c0 ? { x, h0, c0 } : { x, h0 });
    });
  }
});

describe('recurrent cells match PyTorch', () => {
  it('found the cell fixtures', () => expect(cellFixtures.length).toBeGreaterThanOrEqual(7));
  for (const name of cellFixtures) {
    it(name, () => {
      const f = loadFixture(name);
      const c = f.config as FixtureConfig;
      const opts = { inputSize: c.inputSize, hiddenSize: c.hiddenSize, bias: c.bias };
      const kind = c.kind as string;
      const cell = kind === 'rnn_cell' ? new sl.nn.RNNCell({ ...opts, nonlinearity: c.nonlinearity })
        : kind === 'lstm_cell' ? new sl.nn.LSTMCell(opts) : new sl.nn.GRUCell(opts);
      loadParams(cell, f);
      const x = leaf(f, 'in.x'), h0 = leaf(f, 'in.h0');
      const c0 = f.has('in.c0') ? leaf(f, 'in.c0') : undefined;
      const run = (xt: sl.Tensor, s: { h: sl.Tensor; c?: sl.Tensor }) =>
        cell.forward(xt, (s.c ? { h: s.h, c: s.c } : { h: s.h }) as never) as { h: sl.Tensor; c?: sl.Tensor };
      let s: { h: sl.Tensor; c?: sl.Tensor } = c0 ? { h: h0, c: c0 } : { h: h0 };
      const outs: Record<string, sl.Tensor> = {};
      if (c.loop) {
        const hs: sl.Tensor[] = [];
        for (let t = 0; t < x.shape[0]!; t++) {
          s = run(sl.reshape(sl.narrow(x, 0, t, 1), x.shape.slice(1)), s);
          hs.push(s.h);
        }
        outs['y'] = sl.stack(hs, 0);
        if (s.c) outs['c_n'] = s.c;
      } else {
        s = run(x, s);
        outs['h'] = s.h;
        if (s.c) outs['c'] = s.c;
      }
      for (const [k, t] of Object.entries(outs)) if (f.has(`out.${k}`)) expectClose(t, f.get(`out.${k}`), 1e-5, 1e-4, `${name} ${k}`);
      backprop(f, outs);
      checkGrads(f, cell, c0 ? { x, h0, c0 } : { x, h0 });
    });
  }
});
