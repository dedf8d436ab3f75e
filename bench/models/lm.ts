/**
 * Language-model workloads through the family registry, the way the Trainer and `seqlab stream` run them
 * (any family; the configs below are the d_model 256 ones of issue 6):
 *
 *   <family> train step   n=8 t=64, 2 layers, d_model 256, vocab 256: forward + cross-entropy + backward + AdamW   tokens/s
 *   <family> stream step  n=1, state carried, no grad                                                              µs/token
 *
 * The stream row's label gives `stateBytes(1, 10000)`: the state after 10,000 streamed tokens (flat for the
 * recurrent families, linear in tokens for a KV cache). Each workload first checks the backend against
 * `ref` on a small copy (same loss to 1e-4), so a wrong fast path cannot post a number.
 */
import * as sl from '../../src/index.js';
import { kernels } from '../../src/kernels/index.js';
import { measure, type Row } from '../harness.js';
import { peakProbe, weightProduct } from '../roofline.js';

/** Bench configs at d_model 256 per family name (families without an entry are not benched here). */
export const LM_BENCH_CONFIGS: Record<string, Record<string, unknown>> = {
  mamba: { dModel: 256, nLayer: 2, vocabSize: 256 },
  // mamba_ssm's Mamba-2 defaults (dState 128, headdim 64 → 8 heads) with CPU-sized chunks.
  mamba2: { dModel: 256, nLayer: 2, vocabSize: 256, chunkSize: 64 },
  // RWKV's official head size 64 → 4 heads; LoRA widths from the official formulas.
  rwkv6: { dModel: 256, numLayers: 2, vocabSize: 256 },
  rwkv7: { dModel: 256, numLayers: 2, vocabSize: 256 },
  // nanoGPT layout, head width 64. blockSize 1024 holds every token the stream bench feeds (≤ 550); the
  // 10,000-token state in its note is the KV-cache formula (a GPT streaming that far needs blockSize ≥ 10,000).
  gpt: { nEmbd: 256, nLayer: 2, nHead: 4, vocabSize: 256, blockSize: 1024 },
};

/** The same family at a tiny width, for the check against ref. */
const SMALL: Record<string, Record<string, unknown>> = {
  mamba: { dModel: 16, nLayer: 2, vocabSize: 32, dState: 4 },
  mamba2: { dModel: 16, nLayer: 2, vocabSize: 32, dState: 4, headdim: 8, chunkSize: 4 },
  rwkv6: { dModel: 16, numLayers: 2, vocabSize: 32, headSize: 8 },
  rwkv7: { dModel: 16, numLayers: 2, vocabSize: 32, headSize: 8 },
  gpt: { nEmbd: 16, nLayer: 2, nHead: 2, vocabSize: 32, blockSize: 16 },
};

const batch = (n: number, t: number, V: number, shift: number): number[][] =>
  Array.from({ length: n }, (_, i) => Array.from({ length: t }, (_, j) => (i * 31 + j * 7 + shift) % V));

/** One training step of `family` (forward, cross-entropy, backward, AdamW) on a fixed batch of n sequences of t tokens. */
export function trainer(family: string, config: Record<string, unknown>, n: number, t: number) {
  sl.manualSeed(0);
  const model = sl.models.createModel(family, config);
  const V = model.vocabSize;
  const opt = new sl.optim.AdamW(model.parameters(), { lr: 1e-3 });
  const x = batch(n, t, V, 0), y = batch(n, t, V, 1).flat();
  return () => {
    opt.zeroGrad();
    const { logits } = model.forward(x);
    const loss = sl.losses.crossEntropy(sl.reshape(logits, [-1, V]), y);
    loss.backward();
    opt.step();
    return loss.item();
  };
}

function checkAgainstRef(backend: string, family: string, label: string): void {
  if (backend === 'ref') return;
  const run = (b: string) => {
    const prev = sl.getBackend();
    sl.setBackend(b);
    try { const step = trainer(family, SMALL[family]!, 2, 9); step(); return step(); } finally { sl.setBackend(prev); }
  };
  const a = run('ref'), b = run(backend);
  if (Math.abs(a - b) > 1e-4 * Math.abs(a)) throw new Error(`${label}: loss on ${backend} ${b} differs from ref ${a}`);
}

export function benchLMTrain(backend: string, family: string, quick: boolean): Row {
  const label = `${family} train step n=8 t=64 d=256`;
  checkAgainstRef(backend, family, label);
  sl.setBackend(backend);
  const n = 8, t = 64;
  const step = trainer(family, LM_BENCH_CONFIGS[family]!, n, t);
  const timing = measure(() => { step(); }, { warmup: 1, minRuns: quick ? 1 : 3, maxRuns: quick ? 1 : 5, minTime: 0 });
  return { group: 'lm', workload: label, backend, timing, value: (n * t) / (timing.median / 1000), unit: 'tokens/s' };
}

/** The streaming configs: GPT's block holds the 1,000-token context its stream rows are measured at. */
const streamConfig = (family: string): Record<string, unknown> =>
  family === 'gpt' ? { ...LM_BENCH_CONFIGS[family]!, blockSize: 1100 } : LM_BENCH_CONFIGS[family]!;
/** Context before the timed GPT steps (the "1,000 tokens of context with the KV cache resident"). */
const GPT_CONTEXT = 1000;

/** Streaming logits on `backend` equal ref's on the small config over a few tokens, batch 3 (so a wrong fused step cannot post a number). */
function checkStreamAgainstRef(backend: string, family: string, label: string): void {
  if (backend === 'ref') return;
  const run = (b: string) => {
    const prev = sl.getBackend();
    sl.setBackend(b);
    try {
      sl.manualSeed(1);
      const m = sl.models.createModel(family, SMALL[family]!);
      let st = m.initState(3), out: number[] = [];
      sl.noGrad(() => { for (let t = 0; t < 5; t++) { const r = m.step([t % 7, (t + 3) % 7, 1], st); st = r.state; out = Array.from(r.logits.data); } });
      return out;
    } finally { sl.setBackend(prev); }
  };
  const a = run('ref'), b = run(backend);
  const worst = Math.max(...a.map((v, i) => Math.abs(v - b[i]!) / (1e-3 + Math.abs(v))));
  if (!(worst < 1e-3)) throw new Error(`${label}: streaming logits on ${backend} differ from ref (worst relative ${worst})`);
}

/**
 * Streaming rows of one family (no grad, through a StreamSession): µs per token at batch 1; µs per stream at batch 16
 * (16 independent streams in one step; not on ref, whose batch-16 steps take minutes); the floor, one GEMV
 * (matrix-vector product) over as many weights as the model has, on the same backend in the same run; and
 * the two ratios the targets are stated in. The three are timed in alternation, round after round,
 * and each ratio is the median of the per-round ratios: a burst of a neighbour's load then lands on both
 * sides of a ratio, not on one. With a batch-16 step it also times, in the same rounds, the batch-16 GEMM over
 * the same weights and (`roofline`) the fma peak probe, for the bounds bench/roofline.ts describes; `threads`
 * is the thread count the peak bound multiplies the per-thread peak by.
 */
export function benchLMStream(backend: string, family: string, quick: boolean, roofline = false, threads = 1): Row[] {
  sl.setBackend(backend);
  sl.manualSeed(0);
  const model = sl.models.createModel(family, streamConfig(family));
  const kib = (model.stateBytes(1, 10_000) / 1024).toFixed(0);
  const ctx = family === 'gpt' ? `, context ${GPT_CONTEXT}` : '';
  const label = `${family} stream step d=256${ctx} (state after 10,000 tokens: ${kib} KiB)`;
  checkAgainstRef(backend, family, label); // restores `backend` when done
  checkStreamAgainstRef(backend, family, label);
  sl.setBackend(backend);
  // GPT's block holds GPT_CONTEXT + 100 positions: (1 warm-up + rounds) · steps must stay within the 100.
  const steps = quick ? 5 : 10, rounds = quick ? 1 : 7, gemvReps = 20, V = model.vocabSize;
  // Through a StreamSession, as `generate` streams: the state stays in wasm memory, advanced in place.
  const stream = (n: number) => {
    const prefix = Array.from({ length: n }, (_, i) => Array.from({ length: GPT_CONTEXT }, (_, t) => (i * 7 + t * 3) % V));
    const session = new sl.StreamSession(model, family === 'gpt' ? { state: sl.noGrad(() => model.forward(prefix).state) } : { batch: n });
    let tok = 0;
    return () => sl.noGrad(() => {
      for (let i = 0; i < steps; i++) session.step(Array.from({ length: n }, (_, j) => (tok + j) % V)), tok++;
    });
  };
  const P = model.parameters().reduce((s, p) => s + p.size, 0);
  const gemmReps = 4;
  const one = stream(1), many = backend !== 'ref' ? stream(16) : null;
  const floor = weightProduct(P, 1, gemvReps), gemm16 = many ? weightProduct(P, 16, gemmReps) : null;
  // The peak of the build this backend runs (relaxed fma or mul + add), probed in every round: a neighbour's load then lowers both sides of the bound.
  const relaxed = String((kernels() as { variant?: string }).variant).startsWith('relaxed');
  const probe = many && roofline ? peakProbe(relaxed ? 'relaxed' : 'simd') : null;
  const time = (f: () => void) => { const t0 = performance.now(); f(); return performance.now() - t0; };
  one(); floor.run(); many?.(); gemm16?.run(); // warm-up (tier-up, slabs, scratch)
  const t1: number[] = [], tf: number[] = [], t16: number[] = [], tg: number[] = [], tp: number[] = [];
  for (let r = 0; r < rounds; r++) {
    t1.push(time(one) / steps);
    tf.push(time(floor.run) / gemvReps);
    if (many) t16.push(time(many) / steps);
    if (gemm16) tg.push(time(gemm16.run) / gemmReps);
    if (probe) tp.push(time(probe.run));
  }
  const timing = (ts: number[]) => {
    const s = [...ts].sort((a, b) => a - b);
    return { median: median(ts), min: s[0]!, max: s[s.length - 1]!, runs: ts.length };
  };
  const ratio = (a: number[], b: number[]) => timing(a.map((x, i) => x / b[i]!));
  const us = (ts: number[]) => median(ts) * 1000;
  const rows: Row[] = [
    { group: 'lm', workload: label, backend, timing: timing(t1), value: us(t1), unit: 'µs' },
    { group: 'lm', workload: `${family} GEMV floor: one [${Math.round(P / 256)}, 256] matrix · vector (${(P / 1e6).toFixed(2)}M weights)`, backend, timing: timing(tf), value: us(tf), unit: 'µs' },
    { group: 'lm', workload: `${family} stream step / GEMV floor (target ≤ 3; median of per-round ratios)`, backend, timing: ratio(t1, tf), value: ratio(t1, tf).median, unit: '×' },
  ];
  if (many) {
    rows.push({ group: 'lm', workload: `${family} stream step d=256${ctx}, batch 16, per stream`, backend, timing: timing(t16), value: us(t16) / 16, unit: 'µs' });
    rows.push({ group: 'lm', workload: `${family} batch-16 step / batch-1 step (target ≤ 4; median of per-round ratios)`, backend, timing: ratio(t16, t1), value: ratio(t16, t1).median, unit: '×' });
    // The roofline (bench/roofline.ts): the batch-16 step does at least the batch-16 GEMM's work over the same weights.
    const gflops = (flops: number, ts: number[]) => ({ ...timing(ts), median: flops / median(ts) / 1e6 });
    const gv = gflops(floor.flops, tf), gg = gflops(gemm16!.flops, tg);
    rows.push({ group: 'lm', workload: `${family} GEMV (the floor) GFLOP/s`, backend, timing: gv, value: gv.median, unit: 'GFLOP/s' });
    rows.push({ group: 'lm', workload: `${family} batch-16 GEMM over the same weights, GFLOP/s`, backend, timing: gg, value: gg.median, unit: 'GFLOP/s' });
    rows.push({ group: 'lm', workload: `${family} bound: batch-16 / batch-1 ≥ 16 × GEMV rate / GEMM rate (median of per-round ratios)`, backend, timing: ratio(tg, tf), value: ratio(tg, tf).median, unit: '×' });
    const bytes = stepBytes(model, family === 'gpt' ? GPT_CONTEXT : 1);
    const mb = (x: number) => (x / 1e6).toFixed(2);
    rows.push({ group: 'lm', workload: `${family} bytes bound: batch-16 / batch-1 ≥ (weights + 16 × state) / (weights + state) read per step (${mb(bytes.weights)} MB of weights, ${mb(bytes.state)} MB of state per stream)`,
      backend, timing: { median: bytes.bound16, min: bytes.bound16, max: bytes.bound16, runs: 1 }, value: bytes.bound16, unit: '×' });
    if (probe) {
      // Per round: 16 × (GEMV flops / its time) / (threads × probe flops / its time).
      const b = timing(tf.map((t, i) => (16 * floor.flops * tp[i]!) / (t * threads * probe.flops)));
      rows.push({ group: 'lm', workload: `${family} bound at the peak: 16 × GEMV rate / (threads × peak per thread) (median of per-round ratios)`, backend, timing: b, value: b.median, unit: '×' });
    }
  }
  return rows;
}

/**
 * The bytes a step must read, from the model's own sizes: the weights once (all parameters, except an
 * embedding table that is not also a head: a step reads one row of it per stream), and each stream's state
 * (`stateBytes` after `tokensSeen` tokens: a recurrent state, or the GPT's KV cache at that context), so
 * the batch-16 step reads at least weights + 16 × state against weights + state at batch 1. Their ratio
 * bounds batch-16 / batch-1 from below for a step limited by memory traffic, whatever its kernels.
 */
export function stepBytes(model: sl.models.LanguageModel, tokensSeen: number): { weights: number; state: number; bound16: number } {
  const leaves = model.modules().filter((m) => m.children().length === 0);
  let floats = 0;
  for (const p of model.parameters()) floats += p.size;
  for (const e of leaves) {
    if (!(e instanceof sl.nn.Embedding)) continue;
    const w = e.weight, tied = leaves.some((m) => m !== e && m.parameters().includes(w));
    if (!tied) floats -= w.size;
  }
  const weights = 4 * floats, state = model.stateBytes(1, tokensSeen);
  return { weights, state, bound16: (weights + 16 * state) / (weights + state) };
}

const median = (ts: number[]): number => {
  const s = [...ts].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
