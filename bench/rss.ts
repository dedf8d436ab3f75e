/**
 * Memory over a long run, printing the process RSS and the JS heap every `--every` steps. Flat numbers mean
 * the scratch arena, the slab allocator, the tape and the streaming state reach a steady state.
 *
 * Training (default): the W1 LSTM training step (T=64 N=32 I=128 H=256, MSE, SGD) repeated.
 * Streaming (`--stream FAMILY`): a language model of bench/models/lm.ts (d_model 256) fed one token at a time
 * under noGrad through a StreamSession (the state advanced in place, as `generate` runs it), or with
 * `--values` through `model.step`, which returns a new state every token; `--batch N` streams (default 1).
 * The first report comes after the warm-up (`--every` steps), and the last line gives the change since it.
 *
 *   npx tsx --conditions=source bench/rss.ts [--steps 1000] [--every 200]
 *   npx tsx --conditions=source bench/rss.ts --stream rwkv7 --steps 1000000 --every 100000
 */
import * as sl from '../src/index.js';
import { LM_BENCH_CONFIGS } from './models/lm.js';

const args = process.argv.slice(2);
const opt = (name: string, d: number) => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : d; };
const family = (() => { const i = args.indexOf('--stream'); return i >= 0 ? args[i + 1] : undefined; })();
const steps = opt('steps', 1000), every = opt('every', 200);
const mb = (b: number) => (b / 2 ** 20).toFixed(1);
sl.manualSeed(0);

let first: NodeJS.MemoryUsage | null = null;
const report = (s: number, t0: number, extra: string) => {
  const m = process.memoryUsage();
  first ??= m;
  console.log(`step ${s}: ${extra}RSS ${mb(m.rss)} MB, JS heap ${mb(m.heapUsed)} MB, ${((performance.now() - t0) * 1000 / s).toFixed(0)} µs/step`);
  if (s === steps) {
    const pct = (a: number, b: number) => `${(((a - b) / b) * 100).toFixed(1)} %`;
    console.log(`since step ${every}: RSS ${pct(m.rss, first.rss)}, JS heap ${pct(m.heapUsed, first.heapUsed)}`);
  }
};

if (family !== undefined) {
  const config = LM_BENCH_CONFIGS[family];
  if (config === undefined) throw new Error(`--stream: expected one of ${Object.keys(LM_BENCH_CONFIGS).join(', ')}, got ${family}`);
  const batch = opt('batch', 1);
  const model = sl.models.createModel(family, config);
  console.log(`backend ${sl.getBackend()}, ${family} streaming ${steps} tokens × ${batch} streams (${args.includes('--values') ? 'model.step' : 'StreamSession'})`);
  const session = new sl.StreamSession(model, { batch }), values = args.includes('--values');
  let state = model.initState(batch);
  const V = model.vocabSize, t0 = performance.now();
  sl.noGrad(() => {
    for (let s = 1; s <= steps; s++) {
      const ids = Array.from({ length: batch }, (_, j) => (s * 7 + j) % V);
      if (values) state = model.step(ids, state).state;
      else session.step(ids);
      if (s % every === 0) report(s, t0, `${model.stateBytes(batch, s)} B state, `);
    }
  });
} else {
  const model = new sl.nn.LSTM({ inputSize: 128, hiddenSize: 256 });
  const opt_ = new sl.optim.SGD(model.parameters(), { lr: 1e-3 });
  const x = sl.randn([64, 32, 128], { seed: 1 }), target = sl.randn([64, 32, 256], { seed: 2 });
  console.log(`backend ${sl.getBackend()}, ${steps} steps`);
  const t0 = performance.now();
  for (let s = 1; s <= steps; s++) {
    const loss = sl.losses.mse(model.forward(x).output, target);
    opt_.zeroGrad();
    loss.backward();
    opt_.step();
    if (s % every === 0) report(s, t0, `loss ${loss.item().toFixed(5)}, `);
  }
}
