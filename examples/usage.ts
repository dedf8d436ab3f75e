/**
 * The README's usage section as a runnable script (CI runs it through test/e2e/examples.test.ts).
 * Expected output: shapes of the outputs and states, then a training loss near ln(65) ≈ 4.17.
 */
import * as sl from '../src/index.js';

sl.manualSeed(0);
const lstm = new sl.nn.LSTM({ inputSize: 8, hiddenSize: 32, numLayers: 2 });
const x = sl.randn([20, 4, 8], { seed: 0 });
const { output, state } = lstm.forward(x);
console.log('output', output.shape, 'h', state.h.shape, 'c', state.c.shape);

const next = lstm.forward(sl.randn([20, 4, 8]), sl.detachState(state));
console.log('continued', next.output.shape);

let s = lstm.initState(1);
for (const xt of [sl.randn([1, 8]), sl.randn([1, 8])]) {
  const r = lstm.step(xt, s);
  s = r.state;
  console.log('step output', r.output.shape);
}
const bytes = sl.serializeState(s);
console.log('state bytes', bytes.length, 'stateBytes()', lstm.stateBytes(1));

const gru = new sl.nn.GRU({ inputSize: 8, hiddenSize: 16, bidirectional: true, batchFirst: true });
const padded = gru.forward(sl.randn([3, 10, 8]), null, { lengths: [10, 7, 2] });
console.log('padded', padded.output.shape, padded.state.h.shape);

const model = new sl.models.RecurrentLM({ cell: 'lstm', vocabSize: 65, hiddenSize: 128, numLayers: 2 });
const opt = new sl.optim.AdamW(model.parameters(), { lr: 3e-3 });
const tokens = [[1, 2, 3, 4]], targets = [[2, 3, 4, 5]];
const loss = sl.losses.crossEntropy(model.forward(tokens).logits, targets);
opt.zeroGrad();
loss.backward();
sl.clipGradNorm(model.parameters(), 1.0);
opt.step();
console.log('loss', loss.item().toFixed(3));
