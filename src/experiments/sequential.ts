/**
 * sequential — "a sequence of 1,000 tokens requires 1,000 serial steps": training step time vs T for the
 * LSTM (a serial chain of T steps per layer), GPT (attention: every position at once), Mamba-2 (chunked
 * SSD: T/chunk serial chunk steps) and RWKV-7 (a serial WKV scan here), on this backend, 1 and 2 threads.
 */
import * as sl from '../index.js';
import { budgetModel, bySize, claim, explain, fmt, idsTensor, median } from './common.js';
import type { Claim, Context, Experiment, ExperimentBody, Measured, Row } from './types.js';

/** The length of the serial dependency chain of one forward pass over T tokens (per the layer count). */
function serialSteps(family: string, T: number, model: sl.models.LanguageModel): number {
  const c = model.config;
  const layers = Number(c['numLayers'] ?? c['nLayer'] ?? 1);
  if (family === 'gpt') return layers;
  if (family === 'mamba2') return layers * Math.ceil(T / Number(c['chunkSize'] ?? 256));
  return layers * T;
}


/** The claims, computed from the measurements. */
function judge({ rows, config }: Measured): Claim[] {
  const lengths = config['lengths'] as number[], families = config['families'] as string[];
  const maxThreads = Math.max(...rows.map((r) => r.threads as number));
  const T0 = lengths[0]!, T1 = lengths[lengths.length - 1]!;
  const ms = (m: string, T: number, th: number): number => rows.find((r) => r.model === m && r.T === T && r.threads === th)?.msPerStep as number ?? NaN;
  const growth = (m: string): number => ms(m, T1, 1) / ms(m, T0, 1);
  const speedup = (m: string): number => ms(m, T1, 1) / ms(m, T1, maxThreads);
  return explain([
    claim(`The LSTM's serial chain is T steps per layer: its step time grows about linearly with T (×${T1 / T0} in T → between ×${T1 / T0 / 2} and ×${(2 * T1) / T0} in time).`,
      growth('lstm') >= T1 / T0 / 2 && growth('lstm') <= (2 * T1) / T0, `LSTM ${T0} → ${T1}: ×${fmt(growth('lstm'))}.`),
    claim(`GPT, parallel over time, trains faster per token than the LSTM at T = ${T1} (the GPU story).`,
      ms('gpt', T1, 1) < ms('lstm', T1, 1), `1 thread, T = ${T1}: GPT ${fmt(ms('gpt', T1, 1))} ms, LSTM ${fmt(ms('lstm', T1, 1))} ms, Mamba-2 ${fmt(ms('mamba2', T1, 1))} ms, RWKV-7 ${fmt(ms('rwkv7', T1, 1))} ms per step.`),
    claim(`A second thread helps the parallel form (GPT) more than the serial LSTM at T = ${T1} (GPT at least 1.1× faster, and by 0.1 more than the LSTM).`,
      maxThreads > 1 && speedup('gpt') >= 1.1 && speedup('gpt') > speedup('lstm') + 0.1,
      maxThreads > 1 ? `speed-up from ${maxThreads} threads: ${families.map((m) => `${m} ×${fmt(speedup(m))}`).join(', ')}.` : 'only one thread available here.'),
  ], [
    'the LSTM\'s step has a fixed part (the input projection, the head, the optimizer) that does not grow with T, so at short T the growth is below linear',
    'on this CPU there are no idle lanes for the parallel form to fill: GPT\'s work grows with T² (attention) while the LSTM\'s grows with T, so the serial chain costs the LSTM nothing here — the GPU story does not carry over',
    'this backend splits only GEMMs across threads (≥ 64 k multiply-adds each), the attention, scan and WKV kernels run on one thread, and the two cores of this machine behave like hyperthreads of one core for FMA-bound code; where 2 threads are slower than 1, the second core was busy with other work (see the load average): every split GEMM then waits for a worker that waits for a core',
  ]);
}

export const sequential: Experiment = {
  name: 'sequential',
  title: 'Serial steps vs parallel training on a CPU',
  source: 'the article: "a sequence of 1,000 tokens requires 1,000 serial steps" — why transformers (parallel over time) took over',
  judge,
  run(ctx: Context): ExperimentBody {
    const lengths = bySize(ctx.size, { tiny: [16, 64], quick: [64, 256, 1024], full: [64, 128, 256, 512, 1024] });
    const reps = bySize(ctx.size, { tiny: 1, quick: 2, full: 3 });
    const params = bySize(ctx.size, { tiny: 10_000, quick: 50_000, full: 100_000 });
    const families = ['lstm', 'gpt', 'mamba2', 'rwkv7'];
    const threadCounts = [1, 2];
    const b = 4, vocab = 64;
    ctx.plan(threadCounts.length * families.length);
    const rows: Row[] = [];
    const threadsBefore = sl.threadInfo().threads;
    try {
      for (const threads of threadCounts) {
        const actual = sl.setThreads(threads);
        for (const family of families) {
          ctx.tick(`${family}, ${threads} thread${threads > 1 ? 's' : ''}`);
          sl.manualSeed(ctx.seed);
          const model = budgetModel(family, vocab, params, family === 'gpt' ? { blockSize: Math.max(...lengths) } : {});
          const opt = new sl.optim.Adam(model.parameters(), { lr: 1e-3 });
          const rng = new sl.Generator(ctx.seed);
          for (const T of lengths) {
            const x = Int32Array.from({ length: b * T }, () => rng.randint(vocab)), y = Int32Array.from({ length: b * T }, () => rng.randint(vocab));
            const stepOnce = (): number => {
              const t0 = performance.now();
              opt.zeroGrad();
              const loss = sl.losses.crossEntropy(model.forward(idsTensor(x, b, T)).logits, y);
              loss.backward();
              opt.step();
              return performance.now() - t0;
            };
            stepOnce(); // warm-up: allocation and the first-call costs
            const ms = median(Array.from({ length: reps }, stepOnce));
            rows.push({ model: family, T, threads: actual, msPerStep: ms, tokensPerSec: (b * T) / (ms / 1000), serialSteps: serialSteps(family, T, model) });
          }
        }
      }
    } finally {
      sl.setThreads(threadsBefore);
    }
    const maxThreads = Math.max(...rows.map((r) => r['threads'] as number)), T1 = lengths[lengths.length - 1]!;
    const ms = (m: string, T: number, th: number): number => rows.find((r) => r['model'] === m && r['T'] === T && r['threads'] === th)?.['msPerStep'] as number ?? NaN;
    return {
      config: { lengths, reps, params, batch: b, vocab, families, threads: threadCounts },
      rows,
      notes: [
        `One training step (forward, cross-entropy, backward, Adam) on a batch of ${b} × T random tokens, median of ${reps} after a warm-up, for each family at about ${params.toLocaleString('en')} parameters (registry budget rule), with the kernels on 1 and then 2 threads. \`serialSteps\` in the rows is the length of the dependency chain of the forward pass: T per layer for the LSTM and RWKV-7 (this backend's WKV kernel scans time in order), T/chunk per layer for Mamba-2's chunked SSD, the layer count for GPT.`,
        'On a GPU the parallel forms win because thousands of lanes work on all positions at once while an LSTM waits for each step. A 2-core CPU has nothing like that width to fill: every form runs close to its arithmetic cost, so the total work decides — a few small matrix products per step for the LSTM, T² attention for GPT, the scans and their backward passes for Mamba-2 and RWKV-7 — and being parallel over time buys nothing when there are no idle lanes to put it on.',
        'Why a second thread barely helps here: this backend splits only GEMMs across threads (each thread must get ≥ 64 k multiply-adds, so the small per-step GEMMs of these ~100 k-parameter models mostly stay on one thread), the WKV, scan, SSD and attention kernels run on the calling thread, and the two cores of this machine behave like hyperthreads of one core for FMA-bound code (1.3–1.6× on large GEMMs; src/kernels/wasm/README.md, "Threads").',
      ],
      table: {
        head: ['model', 'threads', ...lengths.map((T) => `T=${T} ms`), 'serial steps @max T'],
        body: threadCounts.map((th) => (th > maxThreads ? [] : families.map((m) => [m, String(th), ...lengths.map((T) => fmt(ms(m, T, th))), String(rows.find((r) => r.model === m && r.T === T1)!.serialSteps)]))).flat(),
      },
    };
  },
};
