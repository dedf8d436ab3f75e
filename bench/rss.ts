/**
 * Memory over a long run, printing the process RSS and the JS heap every `--every` steps. Flat numbers mean
 * the scratch arena, the slab allocator, the tape and the streaming state reach a steady state.
 *
 * Training (default): the W1 LSTM training step (T=64 N=32 I=128 H=256, MSE, SGD) repeated.
 * Streaming (`--stream FAMILY`): a language model fed one token at a time under noGrad through a
 * StreamSession (the state advanced in place, as `generate` runs it), or with `--values` through
 * `model.step`, which returns a new state every token; `--batch N` streams (default 1). The d_model 256
 * configs of bench/models/lm.ts, and for lstm, gru and rnn a 2-layer LM of hidden size 256.
 * `--reuse-logits`: the session writes every token's logits into one tensor (StreamSession's `reuseLogits`),
 * so that nothing at all is allocated per token. `--window W`: start a new state every W tokens (the GPT,
 * whose KV cache grows by one row per token up to its blockSize: a bounded context, as nanoGPT's crop);
 * choose `--every` a multiple of W so that every sample sees the cache equally full. A session starts its
 * new state with `reset`, or with `--new-session` as a new StreamSession after `dispose` of the old one (a
 * server's stream per connection).
 *
 * Every sample follows a forced last-resort GC (node --expose-gc), so the heap reads what is live. The baseline is the
 * sample after `--warmup` steps (streaming: default 20,000 tokens; training: `--every`), then one every
 * `--every` steps; each prints its change from the baseline, and the last line the largest. The warm-up
 * is long because the first thousands of steps move memory for reasons that are not a trend: V8 compiles
 * the hot functions in tiers, the arena and the wasm heap grow to the size the step needs, the new space
 * sizes itself, and start-up garbage (module loading, source maps) is collected.
 * Each sample also prints the minor GCs (scavenges) since the last one: 0 means the steps allocated
 * nothing the young generation had to collect.
 *
 *   node --expose-gc --import tsx --conditions=source bench/rss.ts [--steps 1000] [--every 200]
 *   node --expose-gc --no-flush-bytecode --import tsx --conditions=source bench/rss.ts --stream rwkv7 --reuse-logits \
 *     --steps 1020000 --every 100000
 *   node --expose-gc --import tsx --conditions=source bench/rss.ts --stream gpt --reuse-logits --window 1024 \
 *     --warmup 20480 --steps 1044480 --every 102400
 */
import * as sl from '../src/index.js';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { LM_BENCH_CONFIGS } from './models/lm.js';

const args = process.argv.slice(2);
const opt = (name: string, d: number) => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : d; };
const family = (() => { const i = args.indexOf('--stream'); return i >= 0 ? args[i + 1] : undefined; })();
const steps = opt('steps', 1000), every = opt('every', 200);
/** The recurrent reference families at the same width: 2 layers, hidden 256, vocab 256. */
const RECURRENT: Record<string, Record<string, unknown>> = Object.fromEntries(
  ['lstm', 'gru', 'rnn'].map((cell) => [cell, { cell, vocabSize: 256, hiddenSize: 256, numLayers: 2 }]));
const mb = (b: number) => (b / 2 ** 20).toFixed(1);
sl.manualSeed(0);

// A forced collection before each sample, so the heap reads what is live, not what the collector has not
// reached yet (the logits of every token are garbage).
type GcOptions = { type: 'major'; execution: 'sync'; flavor: 'last-resort' };
const gc = (globalThis as { gc?: (o?: GcOptions) => void }).gc;
if (gc === undefined) throw new Error('bench/rss.ts: run node with --expose-gc (node --expose-gc --import tsx --conditions=source bench/rss.ts ...)');
const warmup = opt('warmup', family === undefined ? every : 20000), settle = opt('settle', family === undefined ? 0 : 5);
// Scavenges, counted between samples (the observer's entries arrive when the loop yields, at each sample).
let minorGCs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if ((e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minorGCs++;
}).observe({ entryTypes: ['gc'] });
let base: NodeJS.MemoryUsage | null = null;
let maxRss = 0, maxHeap = 0, maxData = 0, baseData = 0;
// The JS heap counts V8's compiled code too, which moves by megabytes as functions are optimised, deoptimised
// and their bytecode flushed; "data" is the heap without it (the objects the program keeps).
const codeBytes = () => getHeapSpaceStatistics().filter((sp) => sp.space_name.startsWith('code')).reduce((a, sp) => a + sp.space_used_size, 0);
const pct = (a: number, b: number) => ((a - b) / b) * 100;
const fmt = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)} %`;
// s = steps done; the baseline is the sample after `warmup` steps, then one sample every `every` steps.
const sample = async (s: number, t0: number, extra: string) => {
  // Before the baseline, an idle pause: V8's memory reducer runs on timers, a few seconds after start-up,
  // and gives back memory (the young generation shrinks, pooled pages are released); let it finish first.
  if (base === null && settle > 0) await new Promise((r) => setTimeout(r, settle * 1000));
  await new Promise((r) => setTimeout(r, 0)); // deliver the GC entries of the steps so far
  const scavenges = minorGCs;
  // V8's "last resort" collection: everything collectable, the young generation shrunk and pooled pages
  // given back, as its memory reducer does some seconds after start-up on its own timers. Every sample
  // thus reads memory in the same state, whenever the reducer would have run. (It also drops bytecode that
  // has not run for a while, a little more at each sample: run node with --no-flush-bytecode.)
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  await new Promise((r) => setTimeout(r, 0));
  // Then two ordinary full collections: after a last-resort one alone, heapUsed still counts megabytes that a
  // heap snapshot does not find live (a GPT session's heap "grew" 12 → 32 MB that way; with these, flat).
  gc();
  gc();
  minorGCs = 0;
  const m = process.memoryUsage(), code = codeBytes(), data = m.heapUsed - code;
  const tail = `code ${mb(code)} MB, heap total ${mb(m.heapTotal)} MB, external ${mb(m.external)} MB, ${scavenges} scavenges`;
  if (base === null) {
    base = m;
    baseData = data;
    console.log(`step ${s} (baseline, after warm-up): ${extra}RSS ${mb(m.rss)} MB, JS heap ${mb(m.heapUsed)} MB (data ${mb(data)} MB), ${tail}`);
    return;
  }
  const dr = pct(m.rss, base.rss), dh = pct(m.heapUsed, base.heapUsed), dd = pct(data, baseData);
  if (Math.abs(dr) > Math.abs(maxRss)) maxRss = dr;
  if (Math.abs(dh) > Math.abs(maxHeap)) maxHeap = dh;
  if (Math.abs(dd) > Math.abs(maxData)) maxData = dd;
  // heapTotal (what V8 holds, the young generation's semispaces included) and external (ArrayBuffers, wasm
  // memory) say where an RSS change sits.
  console.log(`step ${s}: ${extra}RSS ${mb(m.rss)} MB (${fmt(dr)}), JS heap ${mb(m.heapUsed)} MB (${fmt(dh)}; data ${mb(data)} MB, ${fmt(dd)}), ${tail}, ${((performance.now() - t0) * 1000 / (s - warmup)).toFixed(0)} µs/step`);
  if (s === steps) console.log(`max deviation from the baseline at step ${warmup}: RSS ${fmt(maxRss)}, JS heap ${fmt(maxHeap)}, JS heap without code ${fmt(maxData)}`);
};
const due = (s: number) => s === warmup || (s > warmup && (s - warmup) % every === 0) || s === steps;
let t0 = performance.now();
const report = async (s: number, extra: string) => {
  if (s === warmup) { await sample(s, t0, extra); t0 = performance.now(); } else await sample(s, t0, extra);
};

if (family !== undefined) {
  const config = LM_BENCH_CONFIGS[family] ?? RECURRENT[family];
  if (config === undefined) throw new Error(`--stream: expected one of ${[...Object.keys(LM_BENCH_CONFIGS), ...Object.keys(RECURRENT)].join(', ')}, got ${family}`);
  const batch = opt('batch', 1), window = opt('window', 0), values = args.includes('--values');
  const model = sl.models.createModel(family, config);
  console.log(`backend ${sl.getBackend()}, ${family} streaming ${steps} tokens × ${batch} streams (${values ? 'model.step' : 'StreamSession'}` +
    `${args.includes('--reuse-logits') ? ', reused logits' : ''}${window > 0 ? `, a new ${args.includes('--new-session') ? 'session' : 'state'} every ${window} tokens` : ''})`);
  const newSession = () => new sl.StreamSession(model, { batch, reuseLogits: args.includes('--reuse-logits') });
  let session = newSession();
  let state = model.initState(batch);
  const V = model.vocabSize, ids = new Int32Array(batch);
  // Between samples the loop is synchronous; it yields only to sample.
  for (let s = 1; s <= steps;) {
    sl.noGrad(() => {
      for (; s <= steps; s++) {
        if (window > 0 && (s - 1) % window === 0 && s > 1) {
          if (values) state = model.initState(batch);
          else if (args.includes('--new-session')) { session.dispose(); session = newSession(); } else session.reset();
        }
        for (let j = 0; j < batch; j++) ids[j] = (s * 7 + j) % V;
        if (values) state = model.step(ids, state).state;
        else session.step(ids);
        if (due(s)) break;
      }
    });
    if (s > steps) break;
    const inCache = window > 0 ? ((s - 1) % window) + 1 : s;
    await report(s, `${model.stateBytes(batch, inCache)} B state, `);
    s++;
  }
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
    if (due(s)) await report(s, `loss ${loss.item().toFixed(5)}, `);
  }
}
