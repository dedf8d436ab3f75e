/**
 * Memory over a long training run: the W1 LSTM training step (T=64 N=32 I=128 H=256, MSE, SGD) repeated,
 * printing the process RSS and the JS heap every `--every` steps. Flat numbers mean the scratch arena,
 * the slab allocator and the tape reach a steady state.
 *
 *   npx tsx --conditions=source bench/rss.ts [--steps 1000] [--every 200]
 */
import * as sl from '../src/index.js';

const args = process.argv.slice(2);
const opt = (name: string, d: number) => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : d; };
const steps = opt('steps', 1000), every = opt('every', 200);
sl.manualSeed(0);
const model = new sl.nn.LSTM({ inputSize: 128, hiddenSize: 256 });
const opt_ = new sl.optim.SGD(model.parameters(), { lr: 1e-3 });
const x = sl.randn([64, 32, 128], { seed: 1 }), target = sl.randn([64, 32, 256], { seed: 2 });
const mb = (b: number) => (b / 2 ** 20).toFixed(0);
console.log(`backend ${sl.getBackend()}, ${steps} steps`);
const t0 = performance.now();
for (let s = 1; s <= steps; s++) {
  const loss = sl.losses.mse(model.forward(x).output, target);
  opt_.zeroGrad();
  loss.backward();
  opt_.step();
  if (s % every === 0) {
    const m = process.memoryUsage();
    console.log(`step ${s}: loss ${loss.item().toFixed(5)}, RSS ${mb(m.rss)} MB, JS heap ${mb(m.heapUsed)} MB, ${((performance.now() - t0) / s).toFixed(0)} ms/step`);
  }
}
