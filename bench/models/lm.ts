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
import { measure, type Row } from '../harness.js';

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

function trainer(family: string, config: Record<string, unknown>, n: number, t: number) {
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

export function benchLMStream(backend: string, family: string, quick: boolean): Row {
  sl.setBackend(backend);
  sl.manualSeed(0);
  const model = sl.models.createModel(family, LM_BENCH_CONFIGS[family]!);
  const kib = (model.stateBytes(1, 10_000) / 1024).toFixed(0);
  const label = `${family} stream step d=256 (state after 10,000 tokens: ${kib} KiB)`;
  checkAgainstRef(backend, family, label); // restores `backend` when done
  let state = model.initState(1), tok = 0;
  const steps = quick ? 10 : 50;
  const timing = sl.noGrad(() => measure(() => {
    for (let i = 0; i < steps; i++) state = model.step([tok++ % model.vocabSize], state).state;
  }, { warmup: 1, minRuns: quick ? 1 : 3, maxRuns: quick ? 1 : 10, minTime: 0 }));
  return { group: 'lm', workload: label, backend, timing, value: (timing.median * 1000) / steps, unit: 'µs' };
}
