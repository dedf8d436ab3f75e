/**
 * Memory over a long run, printing the process RSS and the JS heap every `--every` steps. Flat numbers mean
 * the scratch arena, the slab allocator, the tape and the streaming state reach a steady state.
 *
 * Training (default): the W1 LSTM training step (T=64 N=32 I=128 H=256, MSE, SGD) repeated.
 * Streaming (`--stream FAMILY`): a language model of bench/models/lm.ts (d_model 256) fed one token at a time
 * under noGrad through a StreamSession (the state advanced in place, as `generate` runs it), or with
 * `--values` through `model.step`, which returns a new state every token; `--batch N` streams (default 1).
 * Every sample follows a forced GC (node --expose-gc). The baseline is the sample after `--warmup` steps
 * (default `--every`), then one every `--every` steps; each prints its change from the baseline, and the
 * last line the largest.
 *
 *   node --expose-gc --import tsx --conditions=source bench/rss.ts [--steps 1000] [--every 200]
 *   node --expose-gc --import tsx --conditions=source bench/rss.ts --stream rwkv7 --warmup 1000 \
 *     --steps 1001000 --every 100000
 */
import * as sl from '../src/index.js';
import { LM_BENCH_CONFIGS } from './models/lm.js';

const args = process.argv.slice(2);
const opt = (name: string, d: number) => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : d; };
const family = (() => { const i = args.indexOf('--stream'); return i >= 0 ? args[i + 1] : undefined; })();
const steps = opt('steps', 1000), every = opt('every', 200);
const mb = (b: number) => (b / 2 ** 20).toFixed(1);
sl.manualSeed(0);

// A forced collection before each sample, so the heap reads what is live, not what the collector has not
// reached yet (the logits of every token are garbage).
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('bench/rss.ts: run node with --expose-gc (node --expose-gc --import tsx --conditions=source bench/rss.ts ...)');
const warmup = opt('warmup', every);
let base: NodeJS.MemoryUsage | null = null;
let maxRss = 0, maxHeap = 0;
const pct = (a: number, b: number) => ((a - b) / b) * 100;
const fmt = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)} %`;
// s = steps done; the baseline is the sample after `warmup` steps, then one sample every `every` steps.
const sample = (s: number, t0: number, extra: string) => {
  gc();
  const m = process.memoryUsage();
  if (base === null) {
    base = m;
    console.log(`step ${s} (baseline, after warm-up): ${extra}RSS ${mb(m.rss)} MB, JS heap ${mb(m.heapUsed)} MB, heap total ${mb(m.heapTotal)} MB, external ${mb(m.external)} MB`);
    return;
  }
  const dr = pct(m.rss, base.rss), dh = pct(m.heapUsed, base.heapUsed);
  if (Math.abs(dr) > Math.abs(maxRss)) maxRss = dr;
  if (Math.abs(dh) > Math.abs(maxHeap)) maxHeap = dh;
  // heapTotal (what V8 holds, the young generation's semispaces included) and external (ArrayBuffers, wasm
  // memory) say where an RSS change sits.
  console.log(`step ${s}: ${extra}RSS ${mb(m.rss)} MB (${fmt(dr)}), JS heap ${mb(m.heapUsed)} MB (${fmt(dh)}), heap total ${mb(m.heapTotal)} MB, external ${mb(m.external)} MB, ${((performance.now() - t0) * 1000 / (s - warmup)).toFixed(0)} µs/step`);
  if (s === steps) console.log(`max deviation from the baseline at step ${warmup}: RSS ${fmt(maxRss)}, JS heap ${fmt(maxHeap)}`);
};
const due = (s: number) => s === warmup || (s > warmup && (s - warmup) % every === 0) || s === steps;
let t0 = performance.now();
const report = (s: number, extra: string) => {
  if (!due(s)) return;
  if (s === warmup) { sample(s, t0, extra); t0 = performance.now(); } else sample(s, t0, extra);
};

if (family !== undefined) {
  const config = LM_BENCH_CONFIGS[family];
  if (config === undefined) throw new Error(`--stream: expected one of ${Object.keys(LM_BENCH_CONFIGS).join(', ')}, got ${family}`);
  const batch = opt('batch', 1);
  const model = sl.models.createModel(family, config);
  console.log(`backend ${sl.getBackend()}, ${family} streaming ${steps} tokens × ${batch} streams (${args.includes('--values') ? 'model.step' : 'StreamSession'})`);
  const session = new sl.StreamSession(model, { batch }), values = args.includes('--values');
  let state = model.initState(batch);
  const V = model.vocabSize;
  sl.noGrad(() => {
    for (let s = 1; s <= steps; s++) {
      const ids = Array.from({ length: batch }, (_, j) => (s * 7 + j) % V);
      if (values) state = model.step(ids, state).state;
      else session.step(ids);
      report(s, `${model.stateBytes(batch, s)} B state, `);
    }
  });
} else {
  const model = new sl.nn.LSTM({ inputSize: 128, hiddenSize: 256 });
  const opt_ = new sl.optim.SGD(model.parameters(), { lr: 1e-3 });
  const x = sl.randn([64, 32, 128], { seed: 1 }), target = sl.randn([64, 32, 256], { seed: 2 });
  console.log(`backend ${sl.getBackend()}, ${steps} steps`);
  for (let s = 1; s <= steps; s++) {
    const loss = sl.losses.mse(model.forward(x).output, target);
    opt_.zeroGrad();
    loss.backward();
    opt_.step();
    report(s, `loss ${loss.item().toFixed(5)}, `);
  }
}
