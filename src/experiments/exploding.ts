/**
 * exploding — gradients explode when W_h's spectral radius exceeds 1, and clipping tames them (Pascanu,
 * Mikolov & Bengio 2013, "On the difficulty of training recurrent neural networks").
 *
 * A tanh-RNN regressor (real inputs) on the adding problem, W_hh rescaled to spectral radius ρ ∈ {1.5, 3}
 * (and PyTorch's default init for reference), trained with plain SGD with and without clipGradNorm(1.0):
 * the gradient norm before clipping and the loss at every step.
 */
import * as sl from '../index.js';
import { bySize, claim, fmt, mean, median } from './common.js';
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
function judge({ summary = [] }: Measured): Claim[] {
  const get = (m: string, clip: boolean, f: string): number => summary.find((r) => r['model'] === m && r['clip'] === clip)![f] as number;
  const finite = (v: number): number => (Number.isFinite(v) ? v : Infinity);
  return [
    claim('Gradients grow with W_h\'s spectral radius: ρ = 3 gives a larger gradient norm than ρ = 1.5, which gives a larger one than the default init (ρ < 1).',
      get('rnn-r3', false, 'maxGradNorm') > get('rnn-r1.5', false, 'maxGradNorm') && get('rnn-r1.5', false, 'maxGradNorm') > get('rnn', false, 'maxGradNorm'),
      `largest gradient norm without clipping: ρ=3 ${fmt(get('rnn-r3', false, 'maxGradNorm'))}, ρ=1.5 ${fmt(get('rnn-r1.5', false, 'maxGradNorm'))}, default (ρ=${fmt(get('rnn', false, 'spectralRadius'))}) ${fmt(get('rnn', false, 'maxGradNorm'))}.`),
    claim('With ρ > 1, clipping the gradient norm at 1.0 gives a lower final loss than not clipping (ρ = 3).',
      finite(get('rnn-r3', true, 'finalLoss')) < finite(get('rnn-r3', false, 'finalLoss')),
      `final loss (mean of the last 10% of steps), ρ=3: clipped ${fmt(get('rnn-r3', true, 'finalLoss'))}, unclipped ${fmt(get('rnn-r3', false, 'finalLoss'))}; ρ=1.5: clipped ${fmt(get('rnn-r1.5', true, 'finalLoss'))}, unclipped ${fmt(get('rnn-r1.5', false, 'finalLoss'))}.`),
  ];
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
        summary.push({
          model: name, clip, spectralRadius: initRadius, medianGradNorm: median(norms), maxGradNorm: Math.max(...norms),
          finalLoss: mean(tail), diverged: losses.some((v) => !Number.isFinite(v)),
        });
      }
    }
    return {
      config: { hiddenSize: H, T, steps, batch: b, optimizer: 'SGD', lr, radii: settings.map((s) => s.rho) },
      rows, summary,
      notes: [
        `A one-layer tanh-RNN (hidden ${H}) reads the adding problem's real (u, m) pairs (T = ${T}) and a linear head predicts the sum from the last step. W_hh is rescaled to spectral radius ρ (estimated by the growth of ‖Wᵏv‖, Gelfand's formula); biases and the other weights keep PyTorch's default init. Plain SGD (lr ${lr}, batch ${b}) for ${steps} steps, so the gradient's size is the step's size — Adam would normalise it away. The gradient norm is the global norm before clipping (clipGradNorm's return value).`,
        'tanh saturates: with a large ρ the hidden units sit near ±1 where tanh′ ≈ 0, which caps how far the product of Jacobians can grow — Pascanu et al.\'s condition ρ > 1 is necessary for explosion, not sufficient.',
      ],
      table: {
        head: ['model', 'clip', 'ρ(W_h)', 'median ‖g‖', 'max ‖g‖', 'final loss', 'diverged'],
        body: summary.map((r) => [String(r.model), r.clip ? '1.0' : 'none', fmt(r.spectralRadius as number), fmt(r.medianGradNorm as number), fmt(r.maxGradNorm as number), fmt(r.finalLoss as number), r.diverged ? 'yes' : 'no']),
      },
    };
  },
};
