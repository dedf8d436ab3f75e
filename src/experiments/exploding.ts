/**
 * exploding — gradients explode when W_h's spectral radius exceeds 1, and clipping tames them (Pascanu,
 * Mikolov & Bengio 2013, "On the difficulty of training recurrent neural networks").
 *
 * A tanh-RNN regressor (real inputs) on the adding problem, W_hh rescaled to spectral radius ρ ∈ {1.5, 3}
 * (and PyTorch's default init for reference), trained with plain SGD with and without clipGradNorm(1.0):
 * the gradient norm before clipping and the loss at every step.
 */
import * as sl from '../index.js';
import { bySize, claim, explain, fmt, mean, median } from './common.js';
import { stepJacobianSpectrum } from './gradient-flow.js';
import type { Claim, Context, Experiment, ExperimentBody, Measured, Row } from './types.js';

/** Scale W [H, H] in place so that its spectral radius is `rho`. */
function scaleToRadius(W: sl.Tensor, rho: number): number {
  const H = W.shape[0]!;
  const r0 = stepJacobianSpectrum(W.data, new Float64Array(H).fill(1), H).radius;
  for (let i = 0; i < W.size; i++) W.buf[i] = W.buf[i]! * (rho / r0);
  return r0;
}


/** The claims, computed from the measurements. */
function judge({ rows, summary = [] }: Measured): Claim[] {
  const run = (m: string, clip: boolean): Row[] => rows.filter((r) => r['model'] === m && r['clip'] === clip).sort((x, y) => (x['step'] as number) - (y['step'] as number));
  const first = (m: string): number => run(m, false)[0]!['gradNorm'] as number; // step 0: the same batch and init for both clip settings
  const maxNorm = (m: string, clip: boolean): number => Math.max(...run(m, clip).map((r) => (r['gradNorm'] === null ? Infinity : r['gradNorm'] as number)));
  /** Mean loss over the last 10% of the planned steps; Infinity once the run has diverged (non-finite loss). */
  const finalLoss = (m: string, clip: boolean): number => {
    const r = run(m, clip), steps = Math.max(...rows.map((x) => x['step'] as number)) + 1;
    if (r.length < steps || r.some((x) => x['loss'] === null)) return Infinity;
    const tail = r.slice(-Math.max(1, Math.floor(steps / 10)));
    return tail.reduce((a, x) => a + (x['loss'] as number), 0) / tail.length;
  };
  const radius = (m: string): number => summary.find((r) => r['model'] === m)?.['spectralRadius'] as number;
  return explain([
    claim('Gradients grow with W_h\'s spectral radius: at the first step (same weights up to the scale of W_h, same batch), ρ = 3 gives a larger gradient norm than ρ = 1.5, which gives a larger one than the default init (ρ < 1).',
      first('rnn-r3') > first('rnn-r1.5') && first('rnn-r1.5') > first('rnn'),
      `first-step gradient norm: ρ=3 ${fmt(first('rnn-r3'))}, ρ=1.5 ${fmt(first('rnn-r1.5'))}, default (ρ=${fmt(radius('rnn'))}) ${fmt(first('rnn'))}.`),
    claim('Without clipping, training with ρ > 1 explodes: the gradient norm reaches over 1,000× the default init\'s largest, or the loss becomes non-finite.',
      ['rnn-r1.5', 'rnn-r3'].every((m) => maxNorm(m, false) > 1000 * maxNorm('rnn', false) || finalLoss(m, false) === Infinity),
      `largest gradient norm without clipping: ρ=3 ${fmt(maxNorm('rnn-r3', false))}, ρ=1.5 ${fmt(maxNorm('rnn-r1.5', false))}, default ${fmt(maxNorm('rnn', false))}; loss non-finite: ρ=3 ${finalLoss('rnn-r3', false) === Infinity ? 'yes' : 'no'}, ρ=1.5 ${finalLoss('rnn-r1.5', false) === Infinity ? 'yes' : 'no'}.`),
    claim('Clipping tames it: with clipGradNorm(1.0) both ρ > 1 runs keep a finite loss, below the unclipped runs\' final loss.',
      ['rnn-r1.5', 'rnn-r3'].every((m) => Number.isFinite(finalLoss(m, true)) && finalLoss(m, true) < finalLoss(m, false)),
      `final loss (mean of the last 10% of steps; ∞: diverged): ρ=3 clipped ${fmt(finalLoss('rnn-r3', true))}, unclipped ${fmt(finalLoss('rnn-r3', false))}; ρ=1.5 clipped ${fmt(finalLoss('rnn-r1.5', true))}, unclipped ${fmt(finalLoss('rnn-r1.5', false))}; default init ${fmt(finalLoss('rnn', true))}.`),
  ], [
    'tanh saturates: with a large radius the hidden units sit near ±1 where tanh′ ≈ 0, which can cap the gradient below that of a smaller radius',
    'at this learning rate and length the unclipped ρ > 1 runs stayed bounded: saturation caps the Jacobian product, and ρ > 1 is necessary for explosion, not sufficient (Pascanu et al. 2013)',
    'clipping bounds each update but does not make a badly conditioned network learn: its loss can stay above an unclipped run that happened not to diverge',
  ]);
}

export const exploding: Experiment = {
  name: 'exploding',
  title: 'Exploding gradients and clipping',
  source: 'Pascanu, Mikolov & Bengio 2013 (spectral radius > 1 is necessary for exploding gradients; clip the norm)',
  judge,
  run(ctx: Context): ExperimentBody {
    const H = bySize(ctx.size, { tiny: 32, quick: 64, full: 64 });
    const T = bySize(ctx.size, { tiny: 20, quick: 50, full: 50 });
    const steps = bySize(ctx.size, { tiny: 20, quick: 100, full: 300 });
    const b = 16, lr = 0.05;
    const settings: { model: string; rho: number | null }[] = [{ model: 'rnn', rho: null }, { model: 'rnn-r1.5', rho: 1.5 }, { model: 'rnn-r3', rho: 3 }];
    ctx.plan(settings.length * 2);
    const rows: Row[] = [];
    const summary: Row[] = [];
    for (const { model: name, rho } of settings) {
      for (const clip of [false, true]) {
        ctx.tick(`${name} ${clip ? 'clip 1.0' : 'no clip'}`);
        sl.manualSeed(ctx.seed);
        const model = new sl.SequenceRegressor({ cell: 'rnn', inputSize: 2, hiddenSize: H, outputSize: 1 });
        const W = model.namedParameters().find(([k]) => k.endsWith('weight_hh_l0'))![1];
        const initRadius = rho === null ? stepJacobianSpectrum(W.data, new Float64Array(H).fill(1), H).radius : (scaleToRadius(W, rho), rho);
        const opt = new sl.optim.SGD(model.parameters(), { lr });
        const rng = new sl.Generator(ctx.seed + 1);
        const norms: number[] = [], losses: number[] = [];
        for (let s = 0; s < steps; s++) {
          const batch = sl.data.syntheticBatch('adding', rng, b, { length: T });
          if (batch.kind !== 'regression') throw new Error('adding: expected a regression batch');
          opt.zeroGrad();
          const out = model.forward(new sl.Tensor(batch.x, [b, T, 2])).output;
          const pred = sl.reshape(sl.narrow(out, 1, T - 1, 1), [b, 1]);
          const loss = sl.losses.mse(pred, new sl.Tensor(batch.y, [b, 1]));
          loss.backward();
          const gradNorm = sl.clipGradNorm(model.parameters(), clip ? 1 : Infinity);
          const l = loss.item();
          rows.push({ model: name, clip, step: s, gradNorm: Number.isFinite(gradNorm) ? gradNorm : null, loss: Number.isFinite(l) ? l : null });
          norms.push(gradNorm);
          losses.push(l);
          if (!Number.isFinite(l) || !Number.isFinite(gradNorm)) break;
          opt.step();
        }
        const tail = losses.slice(-Math.max(1, Math.floor(losses.length / 10)));
        const finite = (v: number): number | null => (Number.isFinite(v) ? v : null); // JSON has no ∞
        summary.push({
          model: name, clip, spectralRadius: initRadius, medianGradNorm: finite(median(norms)), maxGradNorm: finite(Math.max(...norms)),
          finalLoss: finite(mean(tail)), diverged: losses.some((v) => !Number.isFinite(v)),
        });
      }
    }
    return {
      config: { hiddenSize: H, T, steps, batch: b, optimizer: 'SGD', lr, radii: settings.map((s) => s.rho) },
      rows, summary,
      notes: [
        `A one-layer tanh-RNN (hidden ${H}) reads the adding problem's real (u, m) pairs (T = ${T}) and a linear head predicts the sum from the last step. W_hh is rescaled to spectral radius ρ (estimated by the growth of ‖Wᵏv‖, Gelfand's formula); biases and the other weights keep PyTorch's default init. Plain SGD (lr ${lr}, batch ${b}) for ${steps} steps, so the gradient's size is the step's size — Adam would normalise it away. The gradient norm is the global norm before clipping (clipGradNorm's return value).`,
        'The first-step gradient compares the three radii on the same weights (up to the scale of W_h) and the same batch; the largest norm and the final loss describe the training run after it.',
        'tanh saturates: with a large ρ the hidden units sit near ±1 where tanh′ ≈ 0, which caps how far the product of Jacobians can grow — Pascanu et al.\'s condition ρ > 1 is necessary for explosion, not sufficient.',
      ],
      table: {
        head: ['model', 'clip', 'ρ(W_h)', 'median ‖g‖', 'max ‖g‖', 'final loss', 'diverged'],
        body: summary.map((r) => [String(r.model), r.clip ? '1.0' : 'none', fmt(r.spectralRadius as number), fmt(r.medianGradNorm as number | null), fmt(r.maxGradNorm as number | null), r.diverged ? '∞ (diverged)' : fmt(r.finalLoss as number | null), r.diverged ? `yes, step ${rows.filter((x) => x['model'] === r.model && x['clip'] === r.clip).length - 1}` : 'no']),
      },
    };
  },
};
