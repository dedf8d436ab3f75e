/**
 * Recurrent workloads through the public API, the way a user runs them:
 *
 *   W1  LSTM train step  T=64 N=32 I=128 H=256   forward + MSE + backward + SGD   tokens/s
 *   W2  GRU  train step  (same sizes)                                              tokens/s
 *   W3  RNN  train step  (same sizes, tanh)                                        tokens/s
 *   W4  LSTM streaming step  N=1 I=128 H=256, state carried, no grad              µs/step
 *   W5  LSTM T=128 N=64 I=H=1024 forward + backward (--large: it is long)          tokens/s
 *
 * Each workload first runs on `ref` and the backend under test and compares the loss (or output), so a
 * wrong fast path cannot post a number.
 */
import * as sl from '../../src/index.js';
import { measure, type Row } from '../harness.js';
import { weightProduct } from '../roofline.js';

type Cell = 'lstm' | 'gru' | 'rnn';

function makeModel(cell: Cell, I: number, H: number): InstanceType<typeof sl.nn.LSTM> | InstanceType<typeof sl.nn.GRU> | InstanceType<typeof sl.nn.RNN> {
  sl.manualSeed(0);
  if (cell === 'lstm') return new sl.nn.LSTM({ inputSize: I, hiddenSize: H });
  if (cell === 'gru') return new sl.nn.GRU({ inputSize: I, hiddenSize: H });
  return new sl.nn.RNN({ inputSize: I, hiddenSize: H });
}

/** One training step; returns the loss. */
function trainStep(model: ReturnType<typeof makeModel>, opt: sl.optim.SGD, x: sl.Tensor, target: sl.Tensor): number {
  const { output } = model.forward(x);
  const loss = sl.losses.mse(output, target);
  opt.zeroGrad();
  loss.backward();
  opt.step();
  return loss.item();
}

function lossOn(backend: string, cell: Cell, T: number, N: number, I: number, H: number): number {
  const prev = sl.getBackend();
  sl.setBackend(backend);
  try {
    const model = makeModel(cell, I, H);
    const opt = new sl.optim.SGD(model.parameters(), { lr: 0.01 });
    const x = sl.randn([T, N, I], { seed: 1 }), target = sl.randn([T, N, H], { seed: 2 });
    trainStep(model, opt, x, target);
    return trainStep(model, opt, x, target); // the second loss depends on the first step's update
  } finally {
    sl.setBackend(prev);
  }
}

export function benchTrainStep(backend: string, cell: Cell, label: string, quick: boolean, dims = { T: 64, N: 32, I: 128, H: 256 }): Row {
  const { T, N, I, H } = dims;
  if (backend !== 'ref') {
    // Validate on a smaller copy of the workload: the ref run of the full size is what we are timing.
    const a = lossOn('ref', cell, 8, 4, 16, 24), b = lossOn(backend, cell, 8, 4, 16, 24);
    if (Math.abs(a - b) > 1e-4 * Math.abs(a)) throw new Error(`${label}: loss on ${backend} ${b} differs from ref ${a}`);
  }
  sl.setBackend(backend);
  const model = makeModel(cell, I, H);
  const opt = new sl.optim.SGD(model.parameters(), { lr: 1e-3 });
  const x = sl.randn([T, N, I], { seed: 1 }), target = sl.randn([T, N, H], { seed: 2 });
  const slow = backend === 'ref';
  const timing = measure(() => trainStep(model, opt, x, target),
    slow ? { warmup: 0, minRuns: 1, maxRuns: quick ? 1 : 3, minTime: 0 } : { warmup: 2, minRuns: 5, minTime: quick ? 500 : 3000 });
  return { group: 'train', workload: `${label} T=${T} N=${N} I=${I} H=${H}`, backend, timing, value: (T * N) / (timing.median / 1000), unit: 'tokens/s' };
}

/**
 * W4, and its floor: one GEMV over as many weights as the step reads (4H·(I + H), the LSTM's W_ih and W_hh),
 * on the same backend and thread count. The step is timed alone first (its median µs, the number the peer
 * table compares); then step and GEMV alternate round after round, and the ratio is the median of the
 * per-round ratios, so a neighbour's burst lands on both sides. A step cannot be much cheaper than reading
 * its weights once: the floor says what a target in µs asks of this machine.
 */
export function benchStreamStep(backend: string, quick: boolean): Row[] {
  const I = 128, H = 256;
  sl.setBackend(backend);
  const model = makeModel('lstm', I, H) as InstanceType<typeof sl.nn.LSTM>;
  const xs = Array.from({ length: 16 }, (_, i) => sl.randn([1, I], { seed: 10 + i }));
  let state = model.initState(1);
  let i = 0;
  const step = () => { state = model.step(xs[i++ & 15]!, state).state; };
  const timing = sl.noGrad(() => measure(step, { warmup: 50, minRuns: 200, maxRuns: 100000, minTime: quick ? 300 : 2000 }));
  const workload = `W4 LSTM stream step N=1 I=${I} H=${H}`;
  const rows: Row[] = [{ group: 'stream', workload, backend, timing, value: timing.median * 1000, unit: 'µs' }];
  if (backend === 'ref') return rows; // the floor is a wasm kernel's
  const P = 4 * H * (I + H), steps = 200, reps = 200, rounds = quick ? 3 : 15;
  const floor = weightProduct(P, 1, reps);
  const time = (f: () => void) => { const t0 = performance.now(); f(); return performance.now() - t0; };
  const ts: number[] = [], tf: number[] = [];
  sl.noGrad(() => {
    floor.run();
    for (let r = 0; r < rounds; r++) {
      ts.push(time(() => { for (let s = 0; s < steps; s++) step(); }) / steps);
      tf.push(time(floor.run) / reps);
    }
  });
  const summary = (v: number[]) => {
    const s = [...v].sort((a, b) => a - b);
    return { median: s[s.length >> 1]!, min: s[0]!, max: s[s.length - 1]!, runs: v.length };
  };
  const f = summary(tf), ratio = summary(ts.map((t, r) => t / tf[r]!));
  rows.push({ group: 'stream', workload: `W4 GEMV floor: one [${P / 256}, 256] matrix · vector (${(P / 1e6).toFixed(2)}M weights, ${(P * 4 / 2 ** 20).toFixed(1)} MiB)`, backend, timing: f, value: f.median * 1000, unit: 'µs' });
  rows.push({ group: 'stream', workload: 'W4 step / GEMV floor (median of per-round ratios)', backend, timing: ratio, value: ratio.median, unit: '×' });
  return rows;
}

export function benchLarge(backend: string, quick: boolean): Row {
  const T = 128, N = 64, I = 1024, H = 1024;
  sl.setBackend(backend);
  const model = makeModel('lstm', I, H);
  const x = sl.randn([T, N, I], { seed: 1 }), target = sl.randn([T, N, H], { seed: 2 });
  const timing = measure(() => {
    const { output } = model.forward(x);
    const loss = sl.losses.mse(output, target);
    loss.backward();
    model.zeroGrad();
  }, { warmup: 1, minRuns: quick ? 1 : 3, maxRuns: 5, minTime: 0 });
  return { group: 'train', workload: `W5 LSTM fwd+bwd T=${T} N=${N} I=${I} H=${H}`, backend, timing, value: (T * N) / (timing.median / 1000), unit: 'tokens/s' };
}
