/**
 * `seqlab/experiments` — the article's claims about recurrence, each measured by one experiment that returns
 * rows, claims computed from those rows, a Vega-Lite chart and a Markdown report. Its own entry point so
 * that the core library stays free of dependencies (the charts need vega and vega-lite).
 *
 * ```ts
 * import * as experiments from 'seqlab/experiments';
 * const r = await experiments.run('gradient-flow', { quick: true });
 * r.claims.forEach((c) => console.log(c.holds ? 'held' : 'did not hold', c.text, c.evidence));
 * const svg = await experiments.renderSVG(r);
 * ```
 */
import * as sl from '../index.js';
import { adding } from './adding.js';
import { bidirectional } from './bidirectional.js';
import { induction, selectiveCopy } from './copy-tasks.js';
import { exploding } from './exploding.js';
import { gradientFlow } from './gradient-flow.js';
import { gruVsLstm } from './gru-vs-lstm.js';
import { memory } from './memory.js';
import { sequential } from './sequential.js';
import type { Claim, Context, Experiment, ExperimentOptions, ExperimentResult, ExperimentSize, Row } from './types.js';

export type { Claim, ExperimentOptions, ExperimentProgress, ExperimentResult, ExperimentSize, Row } from './types.js';
export { chartSpec, type VegaLiteSpec } from './specs.js';
export { renderSVG, specToSVG } from './render.js';
export { markdown, summaryMarkdown } from './markdown.js';

const EXPERIMENTS: readonly Experiment[] = [gradientFlow, exploding, adding, selectiveCopy, induction, bidirectional, memory, sequential, gruVsLstm];

/** The experiment names, in the order `all` runs them. */
export const experimentNames: readonly string[] = EXPERIMENTS.map((e) => e.name);

export function experimentInfo(name: string): { name: string; title: string; source: string } {
  const e = find(name);
  return { name: e.name, title: e.title, source: e.source };
}

function find(name: string): Experiment {
  const e = EXPERIMENTS.find((x) => x.name === name);
  if (!e) throw new sl.ConfigError({ op: 'experiments.run', expected: `an experiment name among ${experimentNames.join(', ')}`, got: JSON.stringify(name) });
  return e;
}

const SIZES: readonly ExperimentSize[] = ['tiny', 'quick', 'full'];

/**
 * The claims of a result, recomputed from its rows, summary and configuration alone — e.g. from a result's
 * JSON file, or after editing its rows to see which numbers a claim rests on.
 */
export function judge(result: Pick<ExperimentResult, 'name' | 'rows' | 'config'> & { summary?: Row[] | undefined }): Claim[] {
  return find(result.name).judge(result);
}

/** Run one experiment; the result's claims are computed from its rows. */
export async function run(name: string, options: ExperimentOptions = {}): Promise<ExperimentResult> {
  const e = find(name);
  const size = options.size ?? (options.quick ? 'quick' : 'full');
  if (!SIZES.includes(size)) throw new sl.ConfigError({ op: 'experiments.run', expected: `size one of ${SIZES.join(', ')}`, got: JSON.stringify(size) });
  const seed = options.seed ?? 1337;
  if (!Number.isInteger(seed) || seed < 0) throw new sl.ConfigError({ op: 'experiments.run', expected: 'seed a non-negative integer', got: String(seed) });
  const threadsBefore = sl.threadInfo().threads;
  if (options.threads !== undefined) sl.setThreads(options.threads);
  let done = 0, total = 1, current = '';
  const ctx: Context = {
    size, seed, text: options.text,
    plan(n) { total = Math.max(1, n); },
    tick(label) { current = label; options.onProgress?.({ experiment: name, done: done++, total, label }); },
    status(label) { options.onProgress?.({ experiment: name, done: Math.max(0, done - 1), total, label: `${current}: ${label}` }); },
  };
  const t0 = performance.now();
  try {
    const body = await e.run(ctx);
    options.onProgress?.({ experiment: name, done: total, total, label: 'done' });
    return { name, quick: size !== 'full', size, seed, ...body, claims: e.judge(body), backend: sl.getBackend(), seconds: (performance.now() - t0) / 1000 };
  } finally {
    if (options.threads !== undefined) sl.setThreads(threadsBefore);
  }
}
