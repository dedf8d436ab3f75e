/**
 * Helpers the experiments share: sizes, a plain training loop (Adam, optional clipping), the adding problem
 * as tokens (so every language-model family can take it), e-folding distances and number formatting.
 * Everything goes through the public API, as a user's script would.
 */
import * as sl from '../index.js';
import type { Claim, ExperimentSize } from './types.js';

/** The value for this size. */
export function bySize<T>(size: ExperimentSize, v: { tiny: T; quick: T; full: T }): T {
  return v[size];
}

export function claim(text: string, holds: boolean, evidence: string): Claim {
  return { text, holds, evidence };
}

/**
 * Attach to each claim that does not hold the reason, at this scale, that stands in its way (`whyNot[i]`
 * for claim i); claims that hold keep none.
 */
export function explain(claims: Claim[], whyNot: readonly (string | undefined)[]): Claim[] {
  return claims.map((c, i) => (c.holds || whyNot[i] === undefined ? c : { ...c, why: whyNot[i]! }));
}

/** n significant digits, no exponent below 1e-4 … 1e6. */
export function fmt(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if (v !== 0 && (Math.abs(v) < 1e-4 || Math.abs(v) >= 1e6)) return v.toExponential(digits - 1);
  return Number(v.toPrecision(digits)).toString();
}

export const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;

/**
 * Run `steps` steps of Adam on `lossAt(step)`; returns each step's loss and pre-clip gradient norm.
 * `status` hears "step s/steps · loss" now and then (for the progress line).
 */
export function trainSteps(
  params: sl.Tensor[], steps: number, lossAt: (step: number) => sl.Tensor,
  opts: { lr: number; clip?: number; status?: (label: string) => void },
): { losses: number[]; gradNorms: number[] } {
  const opt = new sl.optim.Adam(params, { lr: opts.lr });
  const losses: number[] = [], gradNorms: number[] = [];
  for (let s = 0; s < steps; s++) {
    opt.zeroGrad();
    const loss = lossAt(s);
    loss.backward();
    gradNorms.push(sl.clipGradNorm(params, opts.clip ?? Infinity));
    losses.push(loss.item());
    opt.step();
    if (opts.status && (s + 1) % 10 === 0) opts.status(`step ${s + 1}/${steps} · loss ${fmt(losses[s]!, 4)}`);
  }
  return { losses, gradNorms };
}

// ---------------------------------------------------------------- the adding problem as tokens

/** Value levels of the tokenised adding problem: token = level + LEVELS · marker. */
export const ADD_LEVELS = 16;
export const ADD_VOCAB = 2 * ADD_LEVELS;

/**
 * The adding problem (src/data/synthetic.ts) with each (u, m) pair as one token: u quantised to 16 levels
 * (bin centres), so the language-model families take it unchanged. The target is the sum of the two marked
 * bin centres, so predicting its mean still scores ≈ 1/6.
 */
export function addingTokens(rng: sl.Generator, b: number, t: number): { ids: Int32Array; y: Float32Array } {
  const batch = sl.data.syntheticBatch('adding', rng, b, { length: t });
  if (batch.kind !== 'regression') throw new Error('adding: expected a regression batch');
  const ids = new Int32Array(b * t), y = new Float32Array(b);
  for (let r = 0; r < b; r++) {
    for (let i = 0; i < t; i++) {
      const u = batch.x[(r * t + i) * 2]!, m = batch.x[(r * t + i) * 2 + 1]!;
      const level = Math.min(ADD_LEVELS - 1, Math.floor(u * ADD_LEVELS));
      ids[r * t + i] = level + (m > 0 ? ADD_LEVELS : 0);
      if (m > 0) y[r] = y[r]! + (level + 0.5) / ADD_LEVELS;
    }
  }
  return { ids, y };
}

/** The prediction: logit 0 of the last position, a linear readout of the final state through the model's own head. */
export function lastReadout(logits: sl.Tensor): sl.Tensor {
  const [b, t, v] = logits.shape as [number, number, number];
  return sl.reshape(sl.narrow(sl.reshape(sl.narrow(logits, 1, t - 1, 1), [b, v]), 1, 0, 1), [b, 1]);
}

export function addingLoss(model: sl.models.LanguageModel, batch: { ids: Int32Array; y: Float32Array }, b: number, t: number): sl.Tensor {
  const logits = model.forward(new sl.Tensor(Float32Array.from(batch.ids), [b, t])).logits;
  return sl.losses.mse(lastReadout(logits), new sl.Tensor(batch.y, [b, 1]));
}

/** MSE of predicting the batch mean (≈ 1/6 for the adding problem). */
export function meanBaseline(y: Float32Array): number {
  const m = y.reduce((a, v) => a + v, 0) / y.length;
  return y.reduce((a, v) => a + (v - m) ** 2, 0) / y.length;
}

// ---------------------------------------------------------------- analysis

/**
 * The first k where ratio(k) ≤ 1/e, interpolated in log space between neighbours; null when the ratio
 * never falls that far within the measured range.
 */
export function efoldDistance(ratios: readonly number[]): number | null {
  const target = -1;
  for (let k = 1; k < ratios.length; k++) {
    const a = Math.log(ratios[k - 1]!), b = Math.log(ratios[k]!);
    if (b <= target) return a === b ? k : k - 1 + (a - target) / (a - b);
  }
  return null;
}

/** Median of a list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, v) => a + v, 0) / xs.length;
}

/** Parameter count of a model at about `params` parameters for `vocab`, from the registry's budget rule. */
export function budgetModel(family: string, vocab: number, params: number, extra: Record<string, unknown> = {}): sl.models.LanguageModel {
  const config = { ...sl.models.getFamily(family).configForBudget(vocab, params), vocabSize: vocab, ...extra };
  return sl.models.createModel(family, config);
}

/** Token ids as the [b, t] tensor models take. */
export const idsTensor = (ids: Int32Array, b: number, t: number): sl.Tensor => new sl.Tensor(Float32Array.from(ids), [b, t]);

/** Accuracy of argmax over the scored positions (targets ≠ IGNORE). */
export function tokenAccuracy(logits: sl.Tensor, y: Int32Array): number {
  const V = logits.shape[logits.shape.length - 1]!, d = logits.data;
  let correct = 0, count = 0;
  for (let r = 0; r < y.length; r++) {
    if (y[r] === sl.data.IGNORE) continue;
    let best = 0;
    for (let v = 1; v < V; v++) if (d[r * V + v]! > d[r * V + best]!) best = v;
    if (best === y[r]) correct++;
    count++;
  }
  return correct / Math.max(1, count);
}

/**
 * The setup check of an equal-budget comparison: every model within ±25% of the parameter budget. The
 * registry's budget rule grows widths in steps (16 for Mamba, 32 for RWKV), so small budgets can miss.
 */
export function budgetClaim(summary: readonly Record<string, unknown>[], budget: number): Claim {
  const counts = new Map<string, number>();
  for (const r of summary) counts.set(String(r['model']), r['params'] as number);
  const off = [...counts].filter(([, p]) => Math.abs(p - budget) > 0.25 * budget);
  return {
    text: `Setup check: every model is within ±25% of the ${budget.toLocaleString('en')}-parameter budget (an equal-size comparison).`,
    holds: off.length === 0,
    evidence: `parameters: ${[...counts].map(([m, p]) => `${m} ${p.toLocaleString('en')}`).join(', ')}.`,
    ...(off.length ? { why: `the registry's budget rule (configForBudget) grows each family's width in steps (8 for RNN/LSTM/GRU, 16 for GPT and Mamba, 32 for RWKV) from a smallest width, so at this small budget ${off.map(([m]) => m).join(', ')} land${off.length === 1 ? 's' : ''} more than 25% away from it; read the comparison with those counts in mind` } : {}),
  };
}
