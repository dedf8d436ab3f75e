/**
 * Child of stream-alloc.test.ts, run as `node --expose-gc --min-semi-space-size=64 --max-semi-space-size=64`:
 * streams FAMILY for `warm` tokens, then measures the bytes the JS heap and ArrayBuffers grow by over
 * `steps` more tokens with no collection in between (a young generation of 64 MB holds them all), and
 * prints { bytesPerStep, scavenges } as JSON. MODE `session`: a StreamSession with reused logits (the
 * steady state that must allocate nothing); `fresh`: the same with new logits per token (the caller's);
 * `values`: model.step, which returns a new state every token. BATCH (default 1): streams per step. The
 * GPT's cache grows a row per token: its slab grows by doubling (to blockSize), so warm it past the last
 * doubling (8,192 rows) and stay below 16,384 tokens; a full context starts a new state (blockSize tokens),
 * as a server crops its context.
 */
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import * as sl from '../../src/index.js';
import { tinyConfigs } from '../tiny-configs.js';

const [family = '', mode = 'session', warmArg = '5000', stepsArg = '10000', batchArg = '1'] = process.argv.slice(2);
const batch = Number(batchArg);
const CONFIGS: Record<string, Record<string, unknown>> = {
  ...tinyConfigs(32, 64, 16384),
  lstm: { cell: 'lstm', vocabSize: 64, hiddenSize: 32, numLayers: 2 },
  gru: { cell: 'gru', vocabSize: 64, hiddenSize: 32, numLayers: 2 },
  rnn: { cell: 'rnn', vocabSize: 64, hiddenSize: 32, numLayers: 2 },
};
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('stream-alloc-child: run node with --expose-gc');
let scavenges = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if ((e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
}).observe({ entryTypes: ['gc'] });

sl.manualSeed(0);
const model = sl.models.createModel(family, CONFIGS[family]!);
const session = new sl.StreamSession(model, { batch, reuseLogits: mode === 'session' });
let state = model.initState(batch);
const ids = new Int32Array(batch);
// A finite context (the GPT's blockSize): a new state when it is full, as a server crops its context.
const window = (model.config as { blockSize?: number }).blockSize ?? Infinity;
let t = 0;
const run = (n: number) => sl.noGrad(() => {
  for (let i = 0; i < n; i++, t++) {
    if (t > 0 && t % window === 0) { if (mode === 'values') state = model.initState(batch); else session.reset(); }
    for (let j = 0; j < batch; j++) ids[j] = (t * 7 + j) % model.vocabSize;
    if (mode === 'values') state = model.step(ids, state).state;
    else session.step(ids);
  }
});
const tick = () => new Promise((r) => setTimeout(r, 0));

run(Number(warmArg));
for (let i = 0; i < 3; i++) gc();
await tick();
// The forced collections leave the step's functions to tier up again (their first tokens box numbers in
// unoptimised code, ≈ 1.6 KB per GPT token): a few hundred tokens more before measuring.
run(200);
scavenges = 0;
const young = () => getHeapSpaceStatistics().find((sp) => sp.space_name === 'new_space')!.space_used_size;
const m0 = process.memoryUsage(), y0 = young();
run(Number(stepsArg));
const m1 = process.memoryUsage(), y1 = young();
await tick();
const bytes = m1.heapUsed - m0.heapUsed + m1.arrayBuffers - m0.arrayBuffers;
console.log(JSON.stringify({ backend: sl.getBackend(), bytesPerStep: bytes / Number(stepsArg), scavenges, steps: t, heap: m1.heapUsed - m0.heapUsed, ab: m1.arrayBuffers - m0.arrayBuffers, young: y1 - y0 }));
