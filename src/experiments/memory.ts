/**
 * memory — the streaming claim: a recurrent model's state is the same size after 1 token or 10,000, and so
 * is its time per token; a transformer's KV cache grows with the context, and so does its attention.
 */
import * as sl from '../index.js';
import { budgetModel, bySize, claim, explain, fmt, median } from './common.js';
import type { Claim, Context, Experiment, ExperimentBody, Measured, Row } from './types.js';


/** The claims, computed from the measurements. */
function judge({ rows, config }: Measured): Claim[] {
  const contexts = config['contexts'] as number[], families = config['families'] as string[], maxC = Math.max(...contexts);
  const recurrent = families.filter((f) => f !== 'gpt');
  const at = (m: string, c: number, f: string): number => rows.find((r) => r.model === m && r.context === c)![f] as number;
  const c0 = contexts[0]!;
  const flat = recurrent.filter((m) => at(m, maxC, 'stateBytes') === at(m, c0, 'stateBytes'));
  const timeRatio = (m: string): number => at(m, maxC, 'usPerToken') / at(m, contexts[1]!, 'usPerToken');
  return explain([
    claim('Recurrent and state-space models keep a constant state per stream, whatever the context.',
      flat.length === recurrent.length, `state bytes at context ${c0} and ${maxC}: ${recurrent.map((m) => `${m} ${at(m, c0, 'stateBytes')}→${at(m, maxC, 'stateBytes')}`).join(', ')}.`),
    claim('The transformer\'s KV cache grows with the context (linearly).',
      at('gpt', maxC, 'stateBytes') > 10 * at('gpt', c0, 'stateBytes') || at('gpt', maxC, 'stateBytes') >= (maxC / c0) * 0.5 * at('gpt', c0, 'stateBytes'),
      `gpt state bytes: ${contexts.map((c) => `${c}: ${at('gpt', c, 'stateBytes').toLocaleString('en')}`).join(', ')}.`),
    claim(`The transformer's time per token grows with the context, while every recurrent model's stays within 1.5× (context ${contexts[1]} → ${maxC}).`,
      timeRatio('gpt') > 1.5 && recurrent.every((m) => timeRatio(m) < 1.5),
      `µs/token ratio ${contexts[1]} → ${maxC}: ${families.map((m) => `${m} ${fmt(timeRatio(m))}×`).join(', ')}.`),
  ], [
    'a recurrent family\'s state changed size with the context — a bug, not a scale effect',
    'the KV cache did not grow — a bug, not a scale effect',
    'on a shared 2-core machine single timings jump when another process runs; a recurrent model above 1.5× at one context, with its neighbours flat, is such a jump (see the chart); and at short contexts GPT\'s attention over its cache is a small part of its step, so its growth shows only at the longest contexts',
  ]);
}

export const memory: Experiment = {
  name: 'memory',
  title: 'Streaming memory and time per token vs context',
  source: 'the article: recurrent models stream with O(1) state; a transformer\'s KV cache grows with the context',
  judge,
  run(ctx: Context): ExperimentBody {
    const contexts = bySize(ctx.size, { tiny: [1, 10, 100, 200], quick: [1, 10, 100, 1000, 2000], full: [1, 10, 100, 1000, 10_000] });
    const params = bySize(ctx.size, { tiny: 10_000, quick: 50_000, full: 50_000 });
    const families = sl.models.familyNames();
    const vocab = 64, maxC = Math.max(...contexts), window = bySize(ctx.size, { tiny: 16, quick: 64, full: 64 });
    ctx.plan(families.length);
    const rows: Row[] = [];
    const ids = Int32Array.from({ length: maxC + window + 8 }, (_, i) => (i * 7919) % vocab);
    for (const family of families) {
      ctx.tick(`${family}: streaming ${maxC} tokens`);
      sl.manualSeed(ctx.seed);
      const model = budgetModel(family, vocab, params, family === 'gpt' ? { blockSize: maxC + window } : {});
      model.eval();
      sl.noGrad(() => {
        let warm = model.initState(1);
        for (let i = 0; i < 8; i++) warm = model.step([ids[i]!], warm).state;
        let state = model.initState(1);
        const times: number[] = [];
        // times[i]: the step that reads token i + 1, with i tokens already in the state
        for (let i = 0; i < maxC + window; i++) {
          const t0 = performance.now();
          state = model.step([ids[i]!], state).state;
          times.push((performance.now() - t0) * 1000);
        }
        for (const c of contexts) rows.push({ model: family, context: c, stateBytes: model.stateBytes(1, c), usPerToken: median(times.slice(c, c + window)) });
      });
    }
    const at = (m: string, c: number, f: string): number => rows.find((r) => r['model'] === m && r['context'] === c)![f] as number;
    return {
      config: { contexts, params, vocab, window, families },
      rows,
      notes: [
        `Every registered family at about ${params.toLocaleString('en')} parameters (registry budget rule; GPT with blockSize ${maxC + window} so it can reach the longest context), streaming one token at a time with \`step\` (no gradients, batch 1). State bytes come from \`stateBytes(1, context)\`; µs per token is the median of the ${window} steps that follow that context (contexts c … c + ${window - 1} tokens already in the state), measured on a shared 2-core machine, so single points are noisy.`,
      ],
      table: {
        head: ['model', ...contexts.map((c) => `bytes @${c}`), ...contexts.map((c) => `µs @${c}`)],
        body: families.map((m) => [m, ...contexts.map((c) => at(m, c, 'stateBytes').toLocaleString('en')), ...contexts.map((c) => fmt(at(m, c, 'usPerToken')))]),
      },
    };
  },
};
